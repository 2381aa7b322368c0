"""The management API client, sync and async, over real HTTP against the fake Meshes API
(which verifies the machine JWT exactly as Meshes does)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import jwt
import pytest

from meshes_bridge.server import (
    AsyncMeshesClient,
    MeshesClient,
    MeshesCredentialsError,
    MeshesNotFoundError,
    MeshesRateLimitedError,
    MeshesSettings,
    MeshesUnavailableError,
    MeshesValidationError,
    RetryPolicy,
)
from meshes_bridge.server.machine_token import MachineTokens
from meshes_bridge.testing.doubles import Servers
from meshes_bridge.testing.doubles.management_api import TEST_SECRET_KEY

ORIGINS = ["http://127.0.0.1:5999"]


def make_client(settings: MeshesSettings, waits: list[float] | None = None, **options: Any):
    sleeper = waits.append if waits is not None else (lambda _s: None)
    return MeshesClient.from_settings(settings, sleep=sleeper, **options)


def mint(client: MeshesClient, settings: MeshesSettings, **fields: Any):
    return client.create_session(
        workspace_id=settings.workspace_id, allowed_origins=ORIGINS, **fields
    )


def assert_no_credentials(text: str, *tokens: str) -> None:
    assert TEST_SECRET_KEY not in text
    assert "eyJ" not in text  # no JWT
    for token in tokens:
        assert token not in text


# -- happy paths ---------------------------------------------------------------------------


def test_create_refresh_list_revoke(meshes: Servers, settings: MeshesSettings) -> None:
    with make_client(settings) as client:
        session = mint(
            client,
            settings,
            external_user_id="alice",
            launch_page="connections",
            role="admin",
            ttl_seconds=900,
        )
        assert session.session_id.startswith("sess_")
        assert session.launch_url.startswith(meshes.embed_url + "/workspace/connections?launch=")
        assert session.role == "admin" and session.workspace_id == settings.workspace_id
        assert session.access_token not in repr(session) and "launch=" not in repr(session)
        view = meshes.fake.session(session.session_id)
        assert view.external_user_id == "alice" and view.allowed_origins == tuple(ORIGINS)

        token = client.refresh_session(session.session_id)
        assert token.session_id == session.session_id
        assert token.access_token != session.access_token
        assert meshes.fake.inspect_token(token.access_token).valid
        assert meshes.fake.inspect_token(session.access_token).reason == "stale"

        listed = list(client.list_sessions(workspace_id=settings.workspace_id))
        assert [s.session_id for s in listed] == [session.session_id]
        assert listed[0].status == "active" and listed[0].external_user_id == "alice"

        client.revoke_session(session.session_id)
        assert meshes.api.revoked_ids() == [session.session_id]
        with pytest.raises(MeshesNotFoundError) as info:
            client.refresh_session(session.session_id)
        assert info.value.status == 404 and info.value.code == "session_not_found"


def test_older_launch_path_is_sent_as_is(meshes: Servers, settings: MeshesSettings) -> None:
    with make_client(settings) as client:
        session = mint(client, settings, launch_path="/workspace/rules")
    assert "/workspace/rules?" in session.launch_url
    assert meshes.api.calls("create")[0].body["launch_path"] == "/workspace/rules"


def test_unknown_field_is_a_type_error(settings: MeshesSettings) -> None:
    with make_client(settings) as client, pytest.raises(TypeError, match="colour"):
        client.create_session(workspace_id=settings.workspace_id, colour="red")


def test_every_call_carries_a_valid_machine_jwt(meshes: Servers, settings: MeshesSettings):
    with make_client(settings) as client:
        session = mint(client, settings)
        client.refresh_session(session.session_id)
        list(client.list_sessions(workspace_id=settings.workspace_id))
        client.revoke_session(session.session_id)
    calls = meshes.api.calls()
    assert [c.endpoint for c in calls] == ["create", "refresh", "list", "revoke"]
    for call in calls:
        assert call.status in (200, 201, 204), call.rejection
        claims = call.claims
        assert claims["iss"] == f"urn:meshes:m2m:{settings.access_key}"
        assert claims["aud"] == "meshes-api" and claims["org"] == settings.org_id
        assert 0 < claims["exp"] - claims["iat"] <= 60


def test_machine_token_is_cached_then_renewed() -> None:
    now = [1_000_000.0]
    tokens = MachineTokens("org", "kid_1", "s" * 40, clock=lambda: now[0])
    first = tokens.token()
    header = jwt.get_unverified_header(first)
    assert header["kid"] == "kid_1" and header["alg"] == "HS256"
    now[0] += 30
    assert tokens.token() == first  # 30 s left: reused
    now[0] += 15
    second = tokens.token()  # 15 s left: too close, signed afresh
    assert second != first
    claims = jwt.decode(
        second, "s" * 40, algorithms=["HS256"], audience="meshes-api", options={"verify_exp": False}
    )
    assert claims["exp"] - claims["iat"] == 60 and claims["iat"] == 1_000_045
    now[0] += 1
    tokens.forget()  # after Meshes refused a token: the next call signs afresh
    assert tokens.token() != second


def test_pagination_follows_the_cursor(meshes: Servers, settings: MeshesSettings) -> None:
    with make_client(settings) as client:
        ids = {mint(client, settings).session_id for _ in range(23)}
        listed = list(client.list_sessions(workspace_id=settings.workspace_id, page_size=10))
        revoked = sorted(ids)[:4]
        for session_id in revoked:
            client.revoke_session(session_id)
        active = list(
            client.list_sessions(workspace_id=settings.workspace_id, status="active", page_size=7)
        )
    assert {s.session_id for s in listed} == ids and len(listed) == 23
    assert len(meshes.api.calls("list")) == 3 + 3  # 10+10+3, then 7+7+5 (19 active)
    assert {s.session_id for s in active} == ids - set(revoked)


# -- retries and failures ------------------------------------------------------------------


def test_429_is_retried_after_retry_after(meshes: Servers, settings: MeshesSettings) -> None:
    waits: list[float] = []
    meshes.api.fail_next("create", 429, retry_after=3)
    with make_client(settings, waits) as client:
        session = mint(client, settings)
    assert waits == [3.0]
    assert [c.status for c in meshes.api.calls("create")] == [429, 201]
    assert meshes.fake.session(session.session_id)


def test_a_long_retry_after_is_not_waited_for(meshes: Servers, settings: MeshesSettings):
    waits: list[float] = []
    meshes.api.fail_next("refresh", 429, retry_after=120)
    with make_client(settings, waits) as client:
        session = mint(client, settings)
        with pytest.raises(MeshesRateLimitedError) as info:
            client.refresh_session(session.session_id)
    assert waits == [] and info.value.retry_after == 120 and info.value.status == 429
    assert len(meshes.api.calls("refresh")) == 1


def test_5xx_is_retried_with_backoff_a_bounded_number_of_times(
    meshes: Servers, settings: MeshesSettings
) -> None:
    waits: list[float] = []
    with make_client(settings, waits) as client:
        session = mint(client, settings)
        meshes.api.fail_next("refresh", 503, count=2)
        client.refresh_session(session.session_id)
        assert waits == [0.25, 0.5]
        waits.clear()
        meshes.api.fail_next("refresh", 500, count=5)
        with pytest.raises(MeshesUnavailableError) as info:
            client.refresh_session(session.session_id)
    assert info.value.status == 500 and waits == [0.25, 0.5]
    assert [c.status for c in meshes.api.calls("refresh")] == [503, 503, 200, 500, 500, 500]


def test_timeouts_are_retried_then_reported(meshes: Servers, settings: MeshesSettings) -> None:
    waits: list[float] = []
    with make_client(settings, waits, timeout=0.5) as client:
        session = mint(client, settings)
        meshes.api.hang_next("refresh", count=1)
        client.refresh_session(session.session_id)  # the second attempt answers
        assert waits == [0.25]
        meshes.api.hang_next("refresh", count=3)
        with pytest.raises(MeshesUnavailableError) as info:
            client.refresh_session(session.session_id)
    assert info.value.status is None and info.value.code == "timeout"
    assert len(meshes.api.calls("refresh")) == 2 + 3
    meshes.api.release_hung()


def test_a_mint_that_may_have_happened_is_not_repeated(
    meshes: Servers, settings: MeshesSettings
) -> None:
    """A read timeout or a 500 on POST /sessions may have minted: a retry could mint twice
    (an orphan session no logout finds). Only a 429, a 503 or a refused connection is
    retried."""
    waits: list[float] = []
    with make_client(settings, waits, timeout=0.5) as client:
        meshes.api.hang_next("create", count=1)
        with pytest.raises(MeshesUnavailableError) as timed_out:
            mint(client, settings)
        meshes.api.fail_next("create", 500)
        with pytest.raises(MeshesUnavailableError) as failed:
            mint(client, settings)
        meshes.api.fail_next("create", 503)
        mint(client, settings)  # Meshes did not handle it: retried
    assert timed_out.value.code == "timeout" and failed.value.status == 500
    assert waits == [0.25] and len(meshes.api.calls("create")) == 4
    meshes.api.release_hung()


@pytest.mark.parametrize("status", [502, 504])
def test_a_mint_is_not_repeated_after_a_gateway_error(
    meshes: Servers, settings: MeshesSettings, status: int
) -> None:
    """A 502 or a 504 comes from a gateway whose upstream failed or was too slow: Meshes
    may have minted behind it. A second try could leave a session no one binds or revokes."""
    waits: list[float] = []
    meshes.api.fail_next("create", status)
    with make_client(settings, waits) as client, pytest.raises(MeshesUnavailableError) as info:
        mint(client, settings)
    assert info.value.status == status and waits == []
    assert [c.status for c in meshes.api.calls("create")] == [status]
    assert len(meshes.fake.sessions()) <= 1


@pytest.mark.parametrize("retry_after", [None, 1])
def test_a_mint_refused_with_503_is_retried(
    meshes: Servers, settings: MeshesSettings, retry_after: int | None
) -> None:
    """A 503 (like a 429) means Meshes did not handle the request: nothing was minted."""
    waits: list[float] = []
    meshes.api.fail_next("create", 503, retry_after=retry_after)
    with make_client(settings, waits) as client:
        session = mint(client, settings)
    assert waits == [0.25 if retry_after is None else 1.0]
    assert [c.status for c in meshes.api.calls("create")] == [503, 201]
    assert [s.session_id for s in meshes.fake.sessions()] == [session.session_id]


def test_refresh_list_and_revoke_are_still_retried_after_gateway_errors(
    meshes: Servers, settings: MeshesSettings
) -> None:
    with make_client(settings) as client:
        session = mint(client, settings)
        meshes.api.fail_next("refresh", 502)
        meshes.api.fail_next("list", 504)
        meshes.api.fail_next("revoke", 502)
        client.refresh_session(session.session_id)
        assert len(list(client.list_sessions(workspace_id=settings.workspace_id))) == 1
        client.revoke_session(session.session_id)
    for endpoint in ("refresh", "list", "revoke"):
        assert len(meshes.api.calls(endpoint)) == 2, endpoint
    assert meshes.api.revoked_ids() == [session.session_id]


def test_odd_answers_are_errors_of_the_client(meshes: Servers, settings: MeshesSettings) -> None:
    """A list instead of an object, a huge or infinite Retry-After, a repeating cursor."""
    waits: list[float] = []
    with make_client(settings, waits) as client:
        meshes.api.fail_next("create", 201, body="[1, 2]")
        with pytest.raises(MeshesUnavailableError):
            mint(client, settings)
        for value in ("inf", "1e400", "nan"):
            meshes.api.fail_next("create", 429, retry_after=value)
            mint(client, settings)  # retried on our own backoff, not Meshes' nonsense
        meshes.api.fail_next("create", 429, retry_after="99999")
        with pytest.raises(MeshesRateLimitedError) as huge:
            mint(client, settings)
        meshes.api.fail_next("list", 200, count=5, body={"data": [], "next_cursor": "same"})
        with pytest.raises(MeshesUnavailableError, match="cursor repeated"):
            list(client.list_sessions(workspace_id=settings.workspace_id))
    assert huge.value.retry_after == 3600
    assert len(meshes.api.calls("list")) == 2


def test_unreachable_api(settings: MeshesSettings) -> None:
    from meshes_bridge.testing.processes import free_port

    dead = settings.with_changes(api_url=f"http://127.0.0.1:{free_port()}")
    with make_client(dead, retry=RetryPolicy(retries=1)) as client:
        with pytest.raises(MeshesUnavailableError) as info:
            mint(client, dead)
    assert info.value.code == "unreachable" and info.value.status is None


def test_bad_json_is_not_retried(meshes: Servers, settings: MeshesSettings) -> None:
    meshes.api.fail_next("create", 201, body="<html>oops</html>")
    with make_client(settings) as client:
        with pytest.raises(MeshesUnavailableError) as info:
            mint(client, settings)
        meshes.api.fail_next("create", 201, body={"session_id": "sess_x"})  # fields missing
        with pytest.raises(MeshesUnavailableError) as missing:
            mint(client, settings)
    assert info.value.code == "bad_response" and "not JSON" in str(info.value)
    assert missing.value.code == "bad_response"
    assert len(meshes.api.calls("create")) == 2  # a garbled mint may have minted: no retry


def test_validation_error_names_the_field(meshes: Servers, settings: MeshesSettings) -> None:
    with make_client(settings) as client, pytest.raises(MeshesValidationError) as info:
        mint(client, settings, role="boss")
    assert info.value.status == 400 and info.value.field == "role"
    assert "field role" in str(info.value)


def test_wrong_secret_is_a_credentials_error_that_leaks_nothing(
    meshes: Servers, settings: MeshesSettings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = settings.with_changes(secret_key="msk_wrong_" + "x" * 40)
    with make_client(wrong) as client, pytest.raises(MeshesCredentialsError) as info:
        mint(client, wrong)
    error = info.value
    assert error.status == 401 and error.code == "invalid_token"
    assert meshes.api.calls("create")[0].rejection  # the fake says which check failed
    for text in (str(error), repr(error), caplog.text, repr(client)):
        assert_no_credentials(text, wrong.secret_key)
    assert wrong.secret_key not in repr(wrong) and TEST_SECRET_KEY not in repr(settings)


def test_no_exception_or_log_line_holds_a_credential(
    meshes: Servers, settings: MeshesSettings, caplog: pytest.LogCaptureFixture
) -> None:
    """Meshes echoing a token or the JWT in an error message is scrubbed."""
    caplog.set_level(logging.DEBUG)
    with make_client(settings) as client:
        session = mint(client, settings)
        jwt_seen = client._api.tokens.token()
        echo = (
            f"bad token {session.access_token} for Bearer {jwt_seen} with secret "
            f"{TEST_SECRET_KEY} and {session.launch_url}"
        )
        meshes.api.fail_next("refresh", 400, body={"error": "validation_error", "message": echo})
        with pytest.raises(MeshesValidationError) as info:
            client.refresh_session(session.session_id)
    for text in (str(info.value), info.value.message, caplog.text):
        assert_no_credentials(text, session.access_token, session.launch_url, jwt_seen)


def test_an_error_text_never_holds_what_meshes_said(
    meshes: Servers, settings: MeshesSettings, caplog: pytest.LogCaptureFixture
) -> None:
    """Meshes' message may echo a token in any shape (no digit, cut by `/` or `.`, a
    launch URL with the token in its path): the error's text is status, code and field."""
    caplog.set_level(logging.DEBUG)
    no_digit = "mat_" + "AbcdEfghIjklMnopQrstUvwxYzab-cdEF"
    with make_client(settings) as client:
        session = mint(client, settings)
        token = session.access_token
        cut = f"{token[:12]}/{token[12:24]}.{token[24:]}"
        launch_token = session.launch_url.split("launch=", 1)[1].removeprefix("mlt_")
        launch = session.launch_url.split("?")[0] + "/launch/" + launch_token
        echo = f"MESHES-SAID tokens {no_digit} and {cut}, launch {launch} or {session.launch_url}"
        meshes.api.fail_next(
            "refresh", 400, body={"error": "validation_error", "message": echo, "field": "role"}
        )
        with pytest.raises(MeshesValidationError) as refused:
            client.refresh_session(session.session_id)
        meshes.api.fail_next("refresh", 404, body={"error": token, "message": echo})
        with pytest.raises(MeshesNotFoundError) as odd_code:
            client.refresh_session(session.session_id)
    assert str(refused.value) == (
        "Meshes refresh_session failed: HTTP 400 Bad Request, code validation_error, field role"
    )
    assert refused.value.code == "validation_error" and refused.value.field == "role"
    assert odd_code.value.code is None and odd_code.value.status == 404
    for error in (refused.value, odd_code.value):
        for text in (str(error), repr(error)):
            assert "MESHES-SAID" not in text
            assert_no_credentials(text, token, no_digit, no_digit[4:], cut, launch)
            assert_no_credentials(text, *cut.replace(".", "/").split("/"))
    assert_no_credentials(caplog.text, token, no_digit[4:], cut, launch)


# -- the async client ----------------------------------------------------------------------


def test_async_client_does_the_same(meshes: Servers, settings: MeshesSettings) -> None:
    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)

    async def scenario() -> None:
        async with AsyncMeshesClient.from_settings(settings, sleep=fake_sleep) as client:
            meshes.api.fail_next("create", 503)
            session = await client.create_session(
                workspace_id=settings.workspace_id,
                allowed_origins=ORIGINS,
                external_user_id="bob",
            )
            token = await client.refresh_session(session.session_id)
            assert token.access_token != session.access_token
            listed = [s async for s in client.list_sessions(workspace_id=settings.workspace_id)]
            assert [s.session_id for s in listed] == [session.session_id]
            await client.revoke_session(session.session_id)
            with pytest.raises(MeshesNotFoundError):
                await client.revoke_session(session.session_id)
            meshes.api.fail_next("refresh", 429, retry_after=600)
            with pytest.raises(MeshesRateLimitedError):
                await client.refresh_session(session.session_id)

    asyncio.run(scenario())
    assert waits == [0.25]
    assert meshes.api.revoked_ids() and meshes.fake.sessions()[0].external_user_id == "bob"


def test_async_mint_follows_the_same_retry_rule(meshes: Servers, settings: MeshesSettings):
    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)

    async def scenario() -> None:
        async with AsyncMeshesClient.from_settings(settings, sleep=fake_sleep) as client:
            meshes.api.fail_next("create", 502)
            with pytest.raises(MeshesUnavailableError) as info:
                await client.create_session(workspace_id=settings.workspace_id)
            assert info.value.status == 502
            assert len(meshes.api.calls("create")) == 1 and len(meshes.fake.sessions()) <= 1
            meshes.api.fail_next("create", 503)
            await client.create_session(workspace_id=settings.workspace_id)

    asyncio.run(scenario())
    assert waits == [0.25]
    assert [c.status for c in meshes.api.calls("create")] == [502, 503, 201]
    assert len(meshes.fake.sessions()) == 1


def test_async_wrong_credentials(meshes: Servers, settings: MeshesSettings) -> None:
    wrong = settings.with_changes(access_key="mak_unknown_key")

    async def scenario() -> None:
        async with AsyncMeshesClient.from_settings(wrong) as client:
            await client.create_session(workspace_id=wrong.workspace_id)

    with pytest.raises(MeshesCredentialsError) as info:
        asyncio.run(scenario())
    assert_no_credentials(str(info.value))


def test_a_shared_httpx_client_is_not_closed(settings: MeshesSettings) -> None:
    http = httpx.Client()
    with MeshesClient.from_settings(settings, http_client=http) as client:
        mint(client, settings)
    assert not http.is_closed
    http.close()
