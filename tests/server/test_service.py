"""The framework-free endpoint service (`EmbedService`) against the fake Meshes API over real
HTTP: every rule of its module docstring and of server-interface.md section 4.

Requests are built directly as `EndpointRequest`s; the client's retries do not sleep; the
bindings and limits live in a `MemoryStore` on a clock the test moves."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from meshes_bridge.server import (
    EmbedService,
    EndpointReply,
    EndpointRequest,
    MemoryStore,
    MeshesClient,
    MeshesSettings,
    MintPolicy,
)
from meshes_bridge.server.service import REVOKE_DEADLINE
from meshes_bridge.server.stores import RedisStore
from meshes_bridge.testing.doubles import Servers
from meshes_bridge.testing.doubles.fake_meshes import ManualClock
from meshes_bridge.testing.doubles.management_api import TEST_ORG_ID, TEST_SECRET_KEY
from meshes_bridge.testing.processes import free_port

APP_ORIGIN = "http://127.0.0.1:5999"  # what the `settings` fixture allows
ALICE, BOB = "alice", "bob"
JSON = "application/json"
MINT_FIELDS = {"session_id", "access_token", "expires_at", "launch_url"}
REFRESH_FIELDS = {"access_token", "expires_at"}
OTHER_WORKSPACE = "7a1d2c3b-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
FORBIDDEN = "field-not-allowed"
Body = bytes | dict[str, Any] | list[Any] | None

# -- helpers -------------------------------------------------------------------------------


def endpoint_request(
    user: str | None = ALICE,
    body: Body = None,
    *,
    origin: str | None = APP_ORIGIN,
    content_type: str | None = JSON,
    user_object: Any = None,
    native: Any = None,
) -> EndpointRequest:
    """A request as an adapter builds it; a dict or list body is sent as JSON."""
    raw = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
    return EndpointRequest(user, origin, content_type, raw, user=user_object, native=native)


def assert_no_store(reply: EndpointReply) -> None:
    assert reply.headers.get("Cache-Control") == "no-store", reply


def mint(service: EmbedService, user: str | None = ALICE, body: Body = None, **options: Any):
    """POST /meshes/session; every reply is checked for `Cache-Control: no-store`."""
    reply = service.mint(endpoint_request(user, body, **options))
    assert_no_store(reply)
    return reply


def refresh(service: EmbedService, session_id: str, user: str | None = ALICE, **options: Any):
    """POST /meshes/session/{id}/refresh; every reply is checked for no-store."""
    reply = service.refresh(endpoint_request(user, **options), session_id)
    assert_no_store(reply)
    return reply


def minted_id(service: EmbedService, user: str = ALICE, body: Body = None) -> str:
    """Mint for `user` and return the session id (the mint must succeed)."""
    reply = mint(service, user, body)
    assert reply.status == 200, reply.body
    return str(reply.body["session_id"])


def assert_error(reply: EndpointReply, status: int, code: str, **extra: Any) -> None:
    assert (reply.status, reply.body) == (status, {"error": code, **extra})


def nothing_minted(meshes: Servers) -> bool:
    return meshes.api.calls("create") == [] and meshes.fake.sessions() == []


def last_mint_body(meshes: Servers) -> dict[str, Any]:
    """What the bridge sent Meshes in its last mint."""
    return meshes.api.calls("create")[-1].body


def make_service(
    settings: MeshesSettings,
    store: Any = None,
    policy: Any = None,
    **options: Any,
) -> EmbedService:
    """The service with a client whose retries do not sleep."""
    client = MeshesClient.from_settings(settings, sleep=lambda _seconds: None)
    return EmbedService(
        settings, client=client, store=store or MemoryStore(), policy=policy, **options
    )


def leaked_credentials(text: str, meshes: Servers, *extra: str) -> list[str]:
    """Every credential found in `text`: the secret, a JWT, any token the fake issued."""
    found = [s for s in (TEST_SECRET_KEY, *extra) if s and s in text]
    if "eyJ" in text:
        found.append("a JWT")
    found += [token for token in meshes.fake.issued_tokens() if token in text]
    if "launch=" in text:
        found.append("a launch URL")
    return found


def retry_after(reply: EndpointReply) -> int:
    value = reply.headers["Retry-After"]
    assert value.isdigit(), value
    return int(value)


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=1_000_000.0)


@pytest.fixture
def store(clock: ManualClock) -> MemoryStore:
    return MemoryStore(clock=clock)


@pytest.fixture
def service(settings: MeshesSettings, store: MemoryStore) -> Iterator[EmbedService]:
    service = make_service(settings, store)
    yield service
    service.client.close()


@pytest.fixture
def service_for(settings: MeshesSettings, store: MemoryStore) -> Iterator[Callable[..., Any]]:
    """Build more services (other settings or policy) on the same store, closed after."""
    made: list[EmbedService] = []

    def build(changed: MeshesSettings | None = None, policy: Any = None) -> EmbedService:
        made.append(make_service(changed or settings, store, policy))
        return made[-1]

    yield build
    for service in made:
        service.client.close()


# -- who may call: login, Origin, Content-Type ---------------------------------------------


@pytest.mark.parametrize("user", [None, ""])
def test_anonymous_is_401(service: EmbedService, meshes: Servers, user: str | None) -> None:
    session_id = minted_id(service)
    assert_error(mint(service, user), 401, "login-required")
    assert_error(refresh(service, session_id, user), 401, "login-required")
    assert len(meshes.api.calls("create")) == 1 and meshes.api.calls("refresh") == []


@pytest.mark.parametrize("origin", [None, "", APP_ORIGIN, "HTTP://127.0.0.1:5999"])
def test_absent_or_allowed_origin_is_accepted(service: EmbedService, origin: str | None) -> None:
    reply = mint(service, origin=origin)
    assert reply.status == 200
    assert refresh(service, reply.body["session_id"], origin=origin).status == 200


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "http://127.0.0.1:5998",
        "https://127.0.0.1:5999",
        "http://127.0.0.1:5999.evil.example",
        "null",
        "garbage",
        "http://127.0.0.1:5999/path",
        "\x00",
    ],
)
def test_foreign_or_garbage_origin_is_403(
    service: EmbedService, meshes: Servers, origin: str
) -> None:
    session_id = minted_id(service)
    for reply in (mint(service, origin=origin), refresh(service, session_id, origin=origin)):
        assert (reply.status, reply.body["error"]) == (403, "origin-not-allowed")
        assert set(reply.body) <= {"error", "origin"}  # the refused origin, when it is one
    assert len(meshes.api.calls("create")) == 1 and meshes.api.calls("refresh") == []


def test_a_refused_origin_is_named_with_the_setting_and_the_allowed_list(
    service: EmbedService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    reply = mint(service, origin="HTTPS://Evil.example:443")
    # The bridge's console line names it as the server read it.
    assert_error(reply, 403, "origin-not-allowed", origin="https://evil.example")
    assert_error(mint(service, origin="garbage"), 403, "origin-not-allowed")
    lines = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert lines[0] == (
        "mint refused: Origin 'HTTPS://Evil.example:443' is not in MESHES_ALLOWED_ORIGINS "
        f"({APP_ORIGIN}); if that page is yours, add its origin there"
    )
    assert "'garbage' is not in MESHES_ALLOWED_ORIGINS" in lines[1]
    assert TEST_SECRET_KEY not in caplog.text


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=----x",
        "application/jsonp",
        None,
    ],
)
def test_a_content_type_a_form_can_send_is_415(
    service: EmbedService, meshes: Servers, content_type: str | None
) -> None:
    session_id = minted_id(service)
    assert_error(mint(service, content_type=content_type), 415, "unsupported-media-type")
    reply = refresh(service, session_id, content_type=content_type)
    assert_error(reply, 415, "unsupported-media-type")
    assert len(meshes.api.calls("create")) == 1 and meshes.api.calls("refresh") == []


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "Application/JSON"])
def test_json_with_parameters_or_other_case_is_accepted(
    service: EmbedService, content_type: str
) -> None:
    assert mint(service, content_type=content_type).status == 200


# -- what the browser may choose -----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("role", "owner"),
        ("workspace_id", OTHER_WORKSPACE),
        ("external_user_id", BOB),
        ("allowed_origins", ["https://evil.example"]),
        ("ttl_seconds", 3600),
        ("launch_ttl_seconds", 60),
        ("scopes", ["events.payload:read"]),
        ("session_type", "dashboard"),
        ("launch_path", "/workspace/rules"),
        ("resource", "project"),
        ("resource_id", "p-1"),
        ("colour", "red"),
    ],
)
def test_a_field_the_browser_may_not_choose_is_400_and_nothing_is_minted(
    service: EmbedService, meshes: Servers, name: str, value: Any
) -> None:
    for body in ({name: value}, {"launch_page": "rules", name: value}):
        assert_error(mint(service, body=body), 400, "field-not-allowed", field=name)
    assert nothing_minted(meshes)


@pytest.mark.parametrize("value", ["settings", "Rules", "", 5, None, ["rules"], {"p": 1}])
def test_an_unknown_or_non_string_launch_page_is_bad_value(
    service: EmbedService, meshes: Servers, value: Any
) -> None:
    reply = mint(service, body={"launch_page": value})
    assert_error(reply, 400, "bad-value", field="launch_page")
    assert nothing_minted(meshes)


def test_a_page_outside_the_policys_pages_is_bad_value(
    service_for: Callable[..., EmbedService], meshes: Servers
) -> None:
    service = service_for(policy=MintPolicy(launch_pages=("dashboard", "events")))
    assert_error(
        mint(service, body={"launch_page": "rules"}), 400, "bad-value", field="launch_page"
    )
    assert nothing_minted(meshes)
    assert mint(service, body={"launch_page": "events"}).status == 200


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"{",
        b"[]",
        b'["launch_page"]',
        b'"rules"',
        b"null",
        b"42",
        b"\xff\xfe{}",
        b'{"launch_page": "rules"' + b" " * 5000 + b"}",  # over the size limit
        b"[" * 3000 + b"]" * 3000,  # nested deeper than the JSON decoder goes (was a 500)
    ],
    ids=lambda raw: raw[:12].decode("latin-1") + f"..({len(raw)} B)",
)
def test_a_body_that_is_not_a_small_json_object_is_bad_value(
    service: EmbedService, meshes: Servers, raw: bytes
) -> None:
    assert_error(mint(service, body=raw), 400, "bad-value", field="body")
    assert nothing_minted(meshes)


@pytest.mark.parametrize("raw", [b"", b"  \n", b"{}"])
def test_an_empty_body_mints_the_policys_default(
    service: EmbedService, meshes: Servers, raw: bytes
) -> None:
    session_id = minted_id(service, body=raw)
    assert "launch_page" not in last_mint_body(meshes)
    assert meshes.fake.session(session_id).launch_page == "dashboard"  # Meshes' default


def test_the_chosen_launch_page_reaches_meshes(service: EmbedService, meshes: Servers) -> None:
    reply = mint(service, body={"launch_page": "connections"})
    assert reply.status == 200
    assert last_mint_body(meshes)["launch_page"] == "connections"
    assert "/workspace/connections?" in reply.body["launch_url"]


# -- what is minted: the host's policy, never the browser's --------------------------------


def test_a_minted_session_is_the_logged_in_users(
    service: EmbedService, meshes: Servers, settings: MeshesSettings
) -> None:
    session = meshes.fake.session(minted_id(service))
    assert session.external_user_id == ALICE
    assert session.allowed_origins == settings.allowed_origins == (APP_ORIGIN,)
    assert (session.workspace_id, session.role, session.session_type) == (
        settings.workspace_id,
        "member",
        "workspace",
    )
    assert last_mint_body(meshes) == {
        "workspace_id": settings.workspace_id,
        "session_type": "workspace",
        "role": "member",
        "external_user_id": ALICE,
        "allowed_origins": [APP_ORIGIN],
    }
    assert service.store.owner(session.session_id) == ALICE


def test_workspace_role_type_and_ttls_come_from_the_policy(
    service_for: Callable[..., EmbedService], meshes: Servers
) -> None:
    meshes.api.add_key("mak_test_second", "s" * 40, TEST_ORG_ID, [OTHER_WORKSPACE])
    policy = MintPolicy(
        workspace_id=OTHER_WORKSPACE,
        role="admin",
        session_type="dashboard",
        ttl_seconds=600,
        launch_ttl_seconds=20,
        default_launch_page="rules",
        scopes=("events.payload:read",),
    )
    session = meshes.fake.session(minted_id(service_for(policy=policy)))
    assert last_mint_body(meshes) == {
        "workspace_id": OTHER_WORKSPACE,
        "session_type": "dashboard",
        "role": "admin",
        "external_user_id": ALICE,
        "ttl_seconds": 600,
        "launch_ttl_seconds": 20,
        "launch_page": "rules",
        "allowed_origins": [APP_ORIGIN],
        "scopes": ["events.payload:read"],
    }
    assert (session.workspace_id, session.role, session.launch_page) == (
        OTHER_WORKSPACE,
        "admin",
        "rules",
    )
    assert session.token_lifetime == 600


def test_a_policy_callback_is_given_the_user_and_the_request(
    service_for: Callable[..., EmbedService], meshes: Servers
) -> None:
    seen: list[tuple[Any, Any]] = []

    def policy(user: dict[str, Any], native: object) -> MintPolicy:
        seen.append((user, native))
        return MintPolicy(role="admin" if user["staff"] else "member")

    service = service_for(policy=policy)
    native_alice, native_bob = object(), object()
    alice = {"id": ALICE, "staff": True}
    bob = {"id": BOB, "staff": False}
    mint(service, ALICE, user_object=alice, native=native_alice)
    mint(service, BOB, user_object=bob, native=native_bob)
    assert seen == [(alice, native_alice), (bob, native_bob)]
    assert [s.role for s in meshes.fake.sessions()] == ["admin", "member"]


def test_a_policy_callback_must_return_a_policy(
    service_for: Callable[..., EmbedService], meshes: Servers
) -> None:
    """A host bug is a JSON 500 with no-store, logged by type, and nothing is minted."""
    service = service_for(policy=lambda _user, _native: {"role": "owner"})
    reply = service.mint(endpoint_request())
    assert reply.status == 500 and reply.body == {"error": "internal"}
    assert reply.headers["Cache-Control"] == "no-store"
    assert nothing_minted(meshes)


# -- resources -----------------------------------------------------------------------------


@pytest.fixture
def resource_service(service_for: Callable[..., EmbedService]) -> EmbedService:
    """Resources of type `project` allowed; `p-secret` is not this user's."""
    policy = MintPolicy(
        allowed_resources=("project",),
        authorize_resource=lambda resource, resource_id: resource_id != "p-secret",
    )
    return service_for(policy=policy)


def test_an_allowed_resource_is_minted_as_a_resource_session(
    resource_service: EmbedService, meshes: Servers
) -> None:
    minted_id(resource_service, body={"resource": "project", "resource_id": "p-1"})
    body = last_mint_body(meshes)
    assert (body["session_type"], body["resource"], body["resource_id"]) == (
        "resource",
        "project",
        "p-1",
    )
    assert meshes.fake.sessions()[0].session_type == "resource"


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"resource": "invoice", "resource_id": "i-1"}, 400, "bad-value", "resource"),
        ({"resource": 7, "resource_id": "p-1"}, 400, "bad-value", "resource"),
        ({"resource_id": "p-1"}, 400, "bad-value", "resource"),
        ({"resource": "project"}, 400, "bad-value", "resource_id"),
        ({"resource": "project", "resource_id": ""}, 400, "bad-value", "resource_id"),
        ({"resource": "project", "resource_id": "p" * 256}, 400, "bad-value", "resource_id"),
        ({"resource": "project", "resource_id": "p-secret"}, 400, "bad-value", "resource_id"),
        ({"resource": "project", "resource_id": "p-1", "role": "owner"}, 400, FORBIDDEN, "role"),
    ],
)
def test_a_resource_the_policy_does_not_allow_is_refused(
    resource_service: EmbedService,
    meshes: Servers,
    body: dict[str, Any],
    status: int,
    code: str,
    field: str | None,
) -> None:
    reply = mint(resource_service, body=body)
    expected = {"field": field} if field else {}
    assert_error(reply, status, code, **expected)
    assert nothing_minted(meshes)


# -- refresh -------------------------------------------------------------------------------


def test_refresh_gives_a_new_token_and_keeps_the_binding(
    service: EmbedService, meshes: Servers
) -> None:
    first = mint(service)
    reply = refresh(service, first.body["session_id"])
    assert reply.status == 200 and set(reply.body) == REFRESH_FIELDS
    assert reply.body["access_token"] != first.body["access_token"]
    assert meshes.fake.inspect_token(reply.body["access_token"]).valid
    assert service.store.owner(first.body["session_id"]) == ALICE


@pytest.mark.parametrize(
    "whose",
    ["bob's", "unknown", "malformed", "empty", "too long", "path", "encoded"],
)
def test_refresh_of_a_session_not_bound_to_the_user_is_the_same_404(
    service: EmbedService, meshes: Servers, whose: str
) -> None:
    bobs = minted_id(service, BOB)
    session_id = {
        "bob's": bobs,
        "unknown": "sess_00000000-0000-4000-8000-000000000000",
        "malformed": "sess x!",
        "empty": "",
        "too long": "s" * 300,
        "path": "../" + bobs,
        "encoded": bobs.replace("_", "%5F"),
    }[whose]
    reply = refresh(service, session_id)
    probe_of_unknown = refresh(service, "sess_never-minted")
    assert (reply.status, reply.body, reply.headers) == (
        probe_of_unknown.status,
        probe_of_unknown.body,
        probe_of_unknown.headers,
    )
    assert_error(reply, 404, "not-found")
    assert meshes.api.calls("refresh") == []  # Meshes was never asked
    assert service.store.owner(bobs) == BOB


def test_a_session_meshes_says_is_gone_is_404_session_gone_and_unbound(
    service: EmbedService, meshes: Servers
) -> None:
    session_id = minted_id(service)
    meshes.api.revoke(session_id)  # e.g. revoked from Meshes' dashboard
    assert_error(refresh(service, session_id), 404, "session-gone")
    assert service.store.owner(session_id) is None
    assert_error(refresh(service, session_id), 404, "not-found")
    assert len(meshes.api.calls("refresh")) == 1


def test_a_401_about_the_session_is_session_gone_too(
    service: EmbedService, meshes: Servers
) -> None:
    session_id = minted_id(service)
    meshes.api.fail_next("refresh", 401, body={"error": "session_expired"})
    assert_error(refresh(service, session_id), 404, "session-gone")
    assert service.store.owner(session_id) is None


# -- Meshes failing ------------------------------------------------------------------------


def test_meshes_5xx_after_retries_is_502(service: EmbedService, meshes: Servers) -> None:
    meshes.api.fail_next("create", 503, count=10)
    assert_error(mint(service), 502, "meshes-unavailable")
    assert [c.status for c in meshes.api.calls("create")] == [503, 503, 503]  # bounded
    meshes.api.clear_injections()

    session_id = minted_id(service)
    meshes.api.fail_next("refresh", 500, count=10)
    assert_error(refresh(service, session_id), 502, "meshes-unavailable")
    assert len(meshes.api.calls("refresh")) == 3
    assert service.store.owner(session_id) == ALICE  # a Meshes outage unbinds nothing


def test_meshes_5xx_then_success_is_retried_transparently(
    service: EmbedService, meshes: Servers
) -> None:
    meshes.api.fail_next("create", 503, count=2)  # 503: nothing was created, so retried
    assert mint(service).status == 200
    assert [c.status for c in meshes.api.calls("create")] == [503, 503, 201]


def test_meshes_unreachable_is_502(
    service_for: Callable[..., EmbedService], settings: MeshesSettings, meshes: Servers
) -> None:
    dead = service_for(settings.with_changes(api_url=f"http://127.0.0.1:{free_port()}"))
    assert_error(mint(dead), 502, "meshes-unavailable")
    assert dead.store.sessions_of(ALICE) == []


def test_meshes_429_is_502_with_its_retry_after(service: EmbedService, meshes: Servers) -> None:
    meshes.api.fail_next("create", 429, retry_after=120)  # too long to wait: at once
    reply = mint(service)
    assert_error(reply, 502, "meshes-unavailable")
    assert retry_after(reply) == 120 and len(meshes.api.calls("create")) == 1

    meshes.api.fail_next("create", 429, count=10, retry_after=2)  # waited for, then given up
    reply = mint(service)
    assert_error(reply, 502, "meshes-unavailable")
    assert retry_after(reply) == 2 and len(meshes.api.calls("create")) == 1 + 3


def test_meshes_refusing_our_credentials_is_500_and_a_log_line(
    service_for: Callable[..., EmbedService],
    settings: MeshesSettings,
    meshes: Servers,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong_secret = "msk_wrong_" + "x" * 40
    wrong = service_for(settings.with_changes(secret_key=wrong_secret))
    assert_error(mint(wrong), 500, "meshes-credentials")
    assert meshes.api.calls("create")[0].rejection  # the fake refused the JWT

    right = service_for()
    session_id = minted_id(right)
    assert_error(refresh(wrong, session_id), 500, "meshes-credentials")
    assert right.store.owner(session_id) == ALICE  # our credentials, not the session

    causes = [
        r.getMessage()
        for r in caplog.records
        if r.name == "meshes_bridge.server" and r.levelno >= logging.ERROR
    ]
    assert len(causes) == 2
    for cause in causes:
        assert "credentials" in cause and "invalid_token" in cause and "HTTP 401" in cause
        assert "MESHES_SECRET_KEY" in cause
    assert leaked_credentials(caplog.text, meshes, wrong_secret) == []


# -- rate limits ---------------------------------------------------------------------------


def test_the_eleventh_mint_in_a_minute_is_429(service: EmbedService, meshes: Servers) -> None:
    for _ in range(10):
        minted_id(service)
    reply = mint(service)
    assert_error(reply, 429, "rate-limited")
    assert 1 <= retry_after(reply) <= 60
    assert len(meshes.api.calls("create")) == 10
    assert mint(service, BOB).status == 200  # per user
    assert refresh(service, meshes.fake.sessions()[0].session_id).status == 200  # per endpoint


def test_the_thirty_first_refresh_in_a_minute_is_429(
    service: EmbedService, meshes: Servers
) -> None:
    session_id = minted_id(service)
    for _ in range(30):
        assert refresh(service, session_id).status == 200
    reply = refresh(service, session_id)
    assert_error(reply, 429, "rate-limited")
    assert 1 <= retry_after(reply) <= 60
    assert len(meshes.api.calls("refresh")) == 30
    assert refresh(service, minted_id(service, BOB), BOB).status == 200


def test_the_limits_come_from_the_settings(
    service_for: Callable[..., EmbedService], settings: MeshesSettings
) -> None:
    service = service_for(settings.with_changes(mint_limit=2, refresh_limit=3))
    session_id = minted_id(service)
    minted_id(service)
    assert_error(mint(service), 429, "rate-limited")
    for _ in range(3):
        assert refresh(service, session_id).status == 200
    assert_error(refresh(service, session_id), 429, "rate-limited")


def test_the_limits_default_to_the_environment(meshes: Servers) -> None:
    env = {
        **meshes.meshes_env(allowed_origins="http://127.0.0.1:5999"),
        "MESHES_BRIDGE_MINT_LIMIT": "4",
        "MESHES_BRIDGE_REFRESH_LIMIT": "7",
    }
    settings = MeshesSettings.from_env(env)
    assert (settings.mint_limit, settings.refresh_limit) == (4, 7)
    assert MeshesSettings.from_env(env, mint_limit=1).mint_limit == 1


def test_the_rate_window_slides(service: EmbedService, clock: ManualClock) -> None:
    minted_id(service)  # t = 0
    clock.advance(30)
    for _ in range(9):  # t = 30
        minted_id(service)
    reply = mint(service)
    assert_error(reply, 429, "rate-limited")
    assert retry_after(reply) == 30  # when the first leaves the window
    clock.advance(29.5)
    assert mint(service).status == 429  # t = 59.5: still ten in the last minute
    clock.advance(0.6)
    assert mint(service).status == 200  # t = 60.1: the first one has left
    reply = mint(service)
    assert_error(reply, 429, "rate-limited")  # the nine of t = 30 and the one just now
    assert retry_after(reply) == 30


def test_a_refused_request_does_not_count(service: EmbedService, clock: ManualClock) -> None:
    for _ in range(10):
        minted_id(service)
    clock.advance(45)
    for _ in range(5):
        assert mint(service).status == 429
    clock.advance(15.1)
    for _ in range(10):
        minted_id(service)


def test_a_binding_expires_after_its_session(
    service_for: Callable[..., EmbedService], clock: ManualClock
) -> None:
    service = service_for(policy=MintPolicy(ttl_seconds=300))
    session_id = minted_id(service)
    clock.advance(300 + 60)  # the token expired; the binding's grace is not over
    assert refresh(service, session_id).status == 200  # and extends the binding
    clock.advance(300 + 60)
    assert service.store.owner(session_id) == ALICE
    clock.advance(300)  # past token expiry + grace
    assert service.store.owner(session_id) is None
    assert_error(refresh(service, session_id), 404, "not-found")


# -- replies -------------------------------------------------------------------------------


def test_every_reply_is_no_store(service: EmbedService, meshes: Servers) -> None:
    session_id = minted_id(service)
    replies = [
        service.mint(endpoint_request()),
        service.refresh(endpoint_request(), session_id),
        service.mint(endpoint_request(None)),
        service.mint(endpoint_request(origin="https://evil.example")),
        service.mint(endpoint_request(content_type="text/plain")),
        service.mint(endpoint_request(body={"role": "owner"})),
        service.mint(endpoint_request(body=b"[")),
        service.refresh(endpoint_request(), "sess_unknown"),
    ]
    meshes.api.fail_next("refresh", 503, count=3)
    replies.append(service.refresh(endpoint_request(), session_id))
    meshes.api.revoke(session_id)
    replies.append(service.refresh(endpoint_request(), session_id))
    assert [r.status for r in replies] == [200, 200, 401, 403, 415, 400, 400, 404, 502, 404]
    for reply in replies:
        assert reply.headers["Cache-Control"] == "no-store"


def test_success_bodies_hold_exactly_the_documented_fields(service: EmbedService) -> None:
    minted = mint(service)
    assert set(minted.body) == MINT_FIELDS
    assert all(isinstance(v, str) and v for v in minted.body.values())
    refreshed = refresh(service, minted.body["session_id"])
    assert set(refreshed.body) == REFRESH_FIELDS
    assert json.loads(refreshed.json_bytes()) == refreshed.body


def test_a_replys_repr_holds_no_token(service: EmbedService, meshes: Servers) -> None:
    minted = mint(service)
    refreshed = refresh(service, minted.body["session_id"])
    for reply in (minted, refreshed):
        for text in (repr(reply), str(reply)):
            assert leaked_credentials(text, meshes) == []
            assert "200" in text


def test_no_log_line_of_a_whole_flow_holds_a_credential(
    service: EmbedService, meshes: Servers, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    session_id = minted_id(service, body={"launch_page": "rules"})
    assert refresh(service, session_id).status == 200
    meshes.api.fail_next("refresh", 503, count=3)
    assert refresh(service, session_id).status == 502
    assert mint(service, body={"role": "owner"}).status == 400
    assert service.revoke_user(ALICE) == 1
    assert len(meshes.fake.issued_tokens()) == 3  # mint's access + launch, one refresh
    assert caplog.records, "the flow logged nothing at all"
    for record in caplog.records:
        line = record.getMessage()
        assert leaked_credentials(line, meshes) == [], (record.name, line)
    assert leaked_credentials(caplog.text, meshes) == []


# -- logout --------------------------------------------------------------------------------


def test_logout_revokes_every_live_session_of_that_user_only(
    service: EmbedService, meshes: Servers
) -> None:
    alices = {minted_id(service), minted_id(service)}
    bobs = minted_id(service, BOB)
    assert service.revoke_user(ALICE) == 2
    assert set(meshes.api.revoked_ids()) == alices
    assert meshes.fake.session(bobs).revoked is False
    for session_id in alices:
        assert_error(refresh(service, session_id), 404, "not-found")
    assert refresh(service, bobs, BOB).status == 200
    assert service.revoke_user(ALICE) == 0  # nothing left


def test_logout_survives_meshes_failing_on_one_session(
    service: EmbedService, meshes: Servers, caplog: pytest.LogCaptureFixture
) -> None:
    """One revoke answers 500, another finds its session already gone. The revokes run at
    once, so which session meets the 500 is read off what Meshes saw."""
    for _ in range(3):
        minted_id(service)
    gone = service.store.sessions_of(ALICE)[0]
    meshes.api.revoke(gone)  # already gone at Meshes: a 404 on revoke
    meshes.api.fail_next("revoke", 500)  # one quick attempt, no retries on logout
    revoked = service.revoke_user(ALICE)
    (failing,) = [c.session_id for c in meshes.api.calls("revoke") if c.status == 500]
    assert revoked == (1 if failing != gone else 2)
    assert meshes.fake.session(failing).revoked is (failing == gone)
    assert any("could not revoke" in r.getMessage() for r in caplog.records)
    # The one Meshes could not revoke stays bound: the next logout tries again.
    assert service.store.sessions_of(ALICE) == [failing]
    assert service.revoke_user(ALICE) == (1 if failing != gone else 0)
    assert service.store.sessions_of(ALICE) == []


def test_logout_returns_at_its_deadline_while_meshes_hangs(
    settings: MeshesSettings, store: MemoryStore, meshes: Servers, caplog: pytest.LogCaptureFixture
) -> None:
    """Meshes answers no revoke at all: the logout returns at its deadline (here 0.2 s, by
    default REVOKE_DEADLINE), not after one timeout per session, and the unrevoked
    sessions stay bound for the next logout."""
    assert REVOKE_DEADLINE == 10
    service = make_service(settings, store, revoke_deadline=0.2)
    session_ids = {minted_id(service) for _ in range(5)}
    meshes.api.hang_next("revoke", count=5)
    try:
        assert service.revoke_user(ALICE) == 0
        # Returned while every revoke was still hung at Meshes (none answered yet).
        assert meshes.api.revoked_ids() == []
        assert set(store.sessions_of(ALICE)) == session_ids
        assert caplog.text.count("Meshes too slow") == 5
    finally:
        meshes.api.release_hung()
    service.client.close()


def test_logout_never_raises(
    service: EmbedService, meshes: Servers, caplog: pytest.LogCaptureFixture
) -> None:
    class BrokenStore(MemoryStore):
        def sessions_of(self, user_key: str) -> list[str]:
            raise ConnectionError("store down")

    broken = EmbedService(service.settings, client=service.client, store=BrokenStore())
    assert broken.revoke_user(ALICE) == 0
    assert any("the store failed (ConnectionError)" in r.getMessage() for r in caplog.records)
    for key in (None, False, ""):
        assert service.revoke_user(key) == 0
    assert service.revoke_user(True) == 0  # a host bug: logged, never raised
    assert "revoke_user" in caplog.text


class HeldCreate:
    """A client whose mint waits, once Meshes is about to be asked, until the test lets it
    go: a logout can begin while the mint is in flight."""

    def __init__(self, client: MeshesClient) -> None:
        self._client = client
        self.asking = threading.Event()
        self.go = threading.Event()

    def create_session(self, **fields: Any) -> Any:
        self.asking.set()
        assert self.go.wait(10)
        return self._client.create_session(**fields)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def mint_racing_a_logout(
    minting: EmbedService, logging_out: EmbedService, held: HeldCreate
) -> EndpointReply:
    """A mint by alice on `minting` during which alice logs out on `logging_out`."""
    answers: list[EndpointReply] = []
    worker = threading.Thread(target=lambda: answers.append(mint(minting)))
    worker.start()
    assert held.asking.wait(10)
    logging_out.revoke_user(ALICE)
    held.go.set()
    worker.join(10)
    return answers[0]


@pytest.fixture(params=["memory", "redis"])
def shared_store(request: pytest.FixtureRequest) -> Callable[[], Any]:
    """A store factory: every call one process's view of the same bindings."""
    if request.param == "memory":
        memory = MemoryStore()
        return lambda: memory
    url = request.getfixturevalue("redis_url")
    return lambda: RedisStore(url)


def test_a_mint_in_flight_when_its_user_logs_out_hands_out_no_token(
    settings: MeshesSettings, meshes: Servers, shared_store: Callable[[], Any]
) -> None:
    """Two services (two app processes) on one store: alice's mint is in flight on one
    when she logs out on the other. The mint answers 401, its session is revoked at
    Meshes and bound to no one; her next mint works."""
    held = HeldCreate(MeshesClient.from_settings(settings, sleep=lambda _seconds: None))
    minting = EmbedService(settings, client=held, store=shared_store())  # type: ignore[arg-type]
    logging_out = make_service(settings, shared_store())
    reply = mint_racing_a_logout(minting, logging_out, held)
    assert_error(reply, 401, "login-required")
    assert leaked_credentials(json.dumps(reply.body), meshes) == []
    (session,) = meshes.fake.sessions()
    assert session.revoked is True
    assert meshes.api.revoked_ids() == [session.session_id]
    assert shared_store().owner(session.session_id) is None
    assert shared_store().sessions_of(ALICE) == []
    assert mint(minting).status == 200  # the logout is over: a new login mints again
    logging_out.client.close()


def test_a_mint_answered_before_the_logout_is_revoked_by_it(
    service: EmbedService, meshes: Servers
) -> None:
    session_id = minted_id(service)
    assert service.revoke_user(ALICE) == 1
    assert meshes.api.revoked_ids() == [session_id]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"[null, null]", {"error": "bad-value", "field": "body"}),
        (b'{"role": "owner"}', {"error": "field-not-allowed", "field": "role"}),
        (b"null", {"error": "bad-value", "field": "body"}),
        (b"{", {"error": "bad-value", "field": "body"}),
    ],
)
def test_refresh_accepts_only_an_empty_body(
    service: EmbedService, meshes: Servers, body: bytes, error: dict[str, str]
) -> None:
    session_id = minted_id(service)
    reply = refresh(service, session_id, body=body)
    assert (reply.status, reply.body) == (400, error)
    assert meshes.api.calls("refresh") == []
    for fine in (b"", b"{}", b" {} "):
        assert refresh(service, session_id, body=fine).status == 200


class StrictKeyStore(MemoryStore):
    """A store that fails on a key memcached would refuse (a newline in it)."""

    def owner(self, session_id: str) -> str | None:
        if any(c.isspace() for c in session_id):
            raise ValueError("a key with whitespace")
        return super().owner(session_id)


@pytest.mark.parametrize("suffix", ["\n", "\r\n", " ", "\x00"])
def test_a_session_id_is_matched_whole(
    settings: MeshesSettings, meshes: Servers, suffix: str
) -> None:
    service = make_service(settings, StrictKeyStore())
    session_id = minted_id(service)
    assert_error(refresh(service, session_id + suffix), 404, "not-found")
    service.client.close()


def test_adapters_read_at_most_one_byte_more_than_allowed() -> None:
    """`read_bounded` (Flask's body reader; FastAPI's stream reader stops the same way):
    a 10 MB or endless chunked body costs 4 KB of memory, then the service answers 400."""
    import io

    from meshes_bridge.server.service import MAX_BODY_BYTES
    from meshes_bridge.server.web import read_bounded

    class Stream(io.BytesIO):
        handed_out = 0

        def read(self, size: int | None = -1) -> bytes:
            chunk = super().read(min(size or 1, 1000))  # short reads, like a socket
            Stream.handed_out += len(chunk)
            return chunk

    body = read_bounded(Stream(b"x" * 10_000_000).read)
    assert len(body) == MAX_BODY_BYTES + 1 and Stream.handed_out == MAX_BODY_BYTES + 1
    assert read_bounded(io.BytesIO(b'{"launch_page": "rules"}').read) == b'{"launch_page": "rules"}'
