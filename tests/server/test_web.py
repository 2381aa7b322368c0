"""`meshes_bridge.server.web`: what the three adapters share (paths, the body bound, the
answer from a request's pieces, the logout that never raises)."""

from __future__ import annotations

from typing import Any

import pytest

from meshes_bridge.server import MemoryStore, MeshesSettings, web
from meshes_bridge.server.identity import UserKeyError
from meshes_bridge.server.service import MAX_BODY_BYTES, EmbedService

OFFLINE = MeshesSettings(
    org_id="0b7f4a2e-9c31-4d8e-b5a6-3e1f2c9d7a40",
    access_key="mak_offline",
    secret_key="msk_offline_secret_value",
    workspace_id="11111111-2222-4333-8444-555555555555",
    api_url="http://127.0.0.1:9",  # nothing listens: these tests never reach Meshes
    allowed_origins=("http://testserver",),
)


@pytest.fixture
def service() -> EmbedService:
    return EmbedService(OFFLINE, store=MemoryStore())


@pytest.mark.parametrize(
    ("given", "path"),
    [("/meshes", "/meshes"), ("meshes/", "/meshes"), ("/api/embed/", "/api/embed"), ("/", "")],
)
def test_a_prefix_is_one_leading_slash_and_none_at_the_end(given: str, path: str) -> None:
    assert web.url_path(given, "url_prefix", allow_root=True) == path


@pytest.mark.parametrize("bad", ["/a?b", "/a#b", "/{x}", "/<int:x>", "/a b", "/a\n"])
def test_a_prefix_is_a_plain_path(bad: str) -> None:
    with pytest.raises(ValueError, match="url_prefix"):
        web.url_path(bad, "url_prefix", allow_root=True)


def test_the_asset_path_is_never_the_root() -> None:
    with pytest.raises(ValueError, match="static_path"):
        web.options({"static_path": "/"})


def test_the_options_take_either_name_but_not_both_nor_an_unknown_one() -> None:
    defaults = web.options({})
    assert (defaults["url_prefix"], defaults["static_url_path"]) == (
        web.DEFAULT_URL_PREFIX,
        web.DEFAULT_STATIC_URL_PATH,
    )
    given = web.options({"prefix": "x", "static_url_path": "y/", "store": None})
    assert given == {"url_prefix": "/x", "static_url_path": "/y", "store": None}
    with pytest.raises(TypeError, match="static_path"):
        web.options({"static_path": "/a", "static_url_path": "/b"})
    with pytest.raises(TypeError, match="'url_prefx'"):
        web.options({"url_prefx": "/a"})  # type: ignore[typeddict-unknown-key]


def test_the_refresh_template_survives_a_framework_url_builder() -> None:
    built = web.refresh_path("/app/meshes", web.SESSION_ID_STAND_IN)
    assert web.refresh_url(built) == "/app/meshes/session/{session_id}/refresh"
    assert web.refresh_path("/meshes") == web.refresh_url(built.removeprefix("/app"))


def test_a_bounded_body_keeps_one_byte_more_than_allowed() -> None:
    body = web.BoundedBody()
    assert body.add(b"x" * MAX_BODY_BYTES)
    assert not body.add(b"yz")
    assert body.value() == b"x" * MAX_BODY_BYTES + b"y"


def test_reply_to_answers_a_user_without_a_key_with_the_logged_500(
    service: EmbedService, caplog: pytest.LogCaptureFixture
) -> None:
    def identify() -> tuple[object, Any]:
        raise UserKeyError("a User has no id: set THE_OPTION")

    for session_id in (None, "sess_x"):
        reply = web.reply_to(
            service,
            session_id=session_id,
            identify=identify,
            origin=None,
            content_type="application/json",
            body=b"{}",
        )
        assert (reply.status, reply.body) == (500, {"error": "internal"})
        assert reply.headers["Cache-Control"] == "no-store"
    assert caplog.text.count("THE_OPTION") == 2


def test_reply_to_an_anonymous_user_is_the_401(service: EmbedService) -> None:
    reply = web.reply_to(
        service,
        session_id=None,
        identify=lambda: (None, None),
        origin=None,
        content_type="application/json",
        body=b"",
    )
    assert (reply.status, reply.body) == (401, {"error": "login-required"})


def test_the_other_methods_and_paths_are_json(service: EmbedService) -> None:
    refused = web.method_not_allowed()
    assert (refused.status, refused.body, refused.headers["Allow"]) == (
        405,
        {"error": "method-not-allowed"},
        "POST",
    )
    assert (web.not_found().status, web.not_found().body) == (404, {"error": "not-found"})


def test_a_logout_never_raises(service: EmbedService, caplog: pytest.LogCaptureFixture) -> None:
    def no_key() -> object:
        raise UserKeyError("no id: set THE_OPTION")

    def broken_store() -> object:
        raise ConnectionError("the cache is down")

    assert web.revoke_quietly(service, no_key, "the test") == 0
    assert web.revoke_quietly(service, broken_store, "the test") == 0
    assert web.revoke_quietly(service, lambda: None, "the test") == 0
    assert "THE_OPTION" in caplog.text and "ConnectionError" in caplog.text
