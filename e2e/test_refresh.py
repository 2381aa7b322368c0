"""Refreshing the token (host interface 3.5): the embed asks with `meshes:token-refresh`, the
bridge POSTs the refresh URL (the URL-encoded session id in its path, no token anywhere in
the request) and sends the new token with `meshes:auth`. Concurrent asks share one
request; network errors and 5xx answers are retried with backoff; 401/403/404 mean the
session is gone: a fresh mint, a fresh iframe.
"""

from __future__ import annotations

from urllib.parse import quote

from e2e.harness import (
    STEP_TIMEOUT_MS,
    HostPage,
    SeenRequest,
    embed_authenticated,
    open_authenticated,
    record_lifecycle,
    round_trip,
    states,
)

REFRESH_WAIT_S = STEP_TIMEOUT_MS / 1000


def _refresh_requests(host: HostPage) -> list[SeenRequest]:
    """The refresh POSTs the host page made (as the browser sent them)."""
    return [r for r in host.host_requests() if r.method == "POST" and r.url.endswith("/refresh")]


def _refresh_path(session_id: str) -> str:
    return f"/meshes/session/{quote(session_id, safe='')}/refresh"


def _assert_no_token(host: HostPage, requests: list[SeenRequest]) -> None:
    secrets = host.servers.fake.issued_tokens()
    assert secrets
    for request in requests:
        seen = "\n".join(
            [request.url, request.body, *(f"{k}: {v}" for k, v in request.headers.items())]
        )
        assert not [s for s in secrets if s in seen], f"a token in {request.url}"
    for call in host.servers.backend.calls("refresh"):
        assert not [s for s in secrets if s in call.text()]


def test_refresh_sends_a_new_token_to_the_embed(host: HostPage) -> None:
    before = open_authenticated(host)
    session_id = before["session_id"]
    fake = host.servers.fake
    old_token = fake.access_token(session_id)

    host.stub("askRefresh()")
    host.wait_event("token-refreshed")
    status = embed_authenticated(host, 2, 2)
    host.wait_authenticated()
    round_trip(host, 611)

    # Exactly one POST, to the refresh URL of this session, with no token in it.
    calls = host.servers.backend.calls("refresh")
    assert len(calls) == 1
    assert calls[0].method == "POST"
    assert calls[0].session_id == session_id
    sent = _refresh_requests(host)
    assert [r.url for r in sent] == [host.servers.url(_refresh_path(session_id))]
    _assert_no_token(host, sent)

    # The embed got the NEW token, for the same session; the old one no longer works.
    assert status["session_id"] == session_id
    assert status["auth_count"] == 2
    assert status["last_token_valid"] is True
    assert status["token_generation"] == 2
    assert fake.access_token(session_id) != old_token
    assert fake.inspect_token(old_token).reason == "stale"
    assert host.servers.transcript.count("token #2 valid") == 1

    # The host saw token-refreshed with the backend's expires_at, and the states moved
    # authenticated -> refreshing -> authenticated.
    refreshed = host.servers.transcript.find(lambda e: e.event == "refreshed")
    assert len(refreshed) == 1
    events = host.events("token-refreshed")
    assert [e["detail"] for e in events] == [{"expires_at": refreshed[0].fields["expires_at"]}]
    assert states(host)[-3:] == ["authenticated", "refreshing", "authenticated"]
    assert len(host.events("authenticated")) == 2
    assert host.errors == []


def test_concurrent_asks_share_one_request(host: HostPage) -> None:
    before = open_authenticated(host)
    backend = host.servers.backend
    backend.delay("refresh", 0.5)

    # Three asks in one task of the embed: all arrive while the first request is pending.
    host.frame().evaluate(
        "() => { window.stub.askRefresh(); window.stub.askRefresh(); window.stub.askRefresh(); }"
    )
    host.wait_event("token-refreshed")
    status = embed_authenticated(host, 2, 2)
    round_trip(host, 622)

    assert status["refresh_asks"] == 3
    assert len(backend.calls("refresh")) == 1
    assert len(_refresh_requests(host)) == 1
    assert status["auth_count"] == 2
    assert status["token_generation"] == 2
    assert status["session_id"] == before["session_id"]
    assert len(host.events("token-refreshed")) == 1
    assert len(host.events("authenticated")) == 2
    assert states(host)[-3:] == ["authenticated", "refreshing", "authenticated"]


def test_5xx_answers_are_retried_with_backoff(host: HostPage) -> None:
    before = open_authenticated(host)
    backend = host.servers.backend
    backend.fail_next("refresh", 503, count=2)

    mark = host.servers.transcript.mark()
    host.stub("askRefresh()")
    # Another ask while the retries are under way joins them: no extra request.
    host.servers.transcript.wait_for("refresh answered HTTP 503", after=mark)
    host.stub("askRefresh()")
    host.wait_event("token-refreshed")
    status = embed_authenticated(host, 2, 2)
    host.wait_authenticated()
    round_trip(host, 677)

    calls = backend.calls("refresh")
    assert [c.status for c in calls] == [503, 503, 200]
    assert status["refresh_asks"] == 2
    assert {c.session_id for c in calls} == {before["session_id"]}
    # Backoff 0.5 s, then 1 s, timed by when the backend received each request.
    assert calls[1].time - calls[0].time >= 0.45
    assert calls[2].time - calls[1].time >= 0.95
    assert status["auth_count"] == 2
    assert status["token_generation"] == 2
    assert len(host.events("token-refreshed")) == 1
    # Retries keep the state at refreshing: no detour, no fresh session.
    assert states(host)[-3:] == ["authenticated", "refreshing", "authenticated"]
    assert len(backend.calls("mint")) == 1


def test_a_network_error_is_retried(host: HostPage) -> None:
    before = open_authenticated(host)
    # The browser fails the first refresh POST itself (no answer at all).
    host.page.route("**/refresh", lambda route: route.abort("connectionreset"), times=1)

    host.stub("askRefresh()")
    host.wait_event("token-refreshed")
    status = embed_authenticated(host, 2, 2)
    host.wait_authenticated()

    assert len(_refresh_requests(host)) == 2
    calls = host.servers.backend.calls("refresh")
    assert [c.status for c in calls] == [200]
    assert calls[0].session_id == before["session_id"]
    assert status["token_generation"] == 2
    assert len(host.servers.backend.calls("mint")) == 1


def test_session_gone_mints_and_mounts_afresh(host: HostPage) -> None:
    first = open_authenticated(host)
    backend = host.servers.backend
    sessions = [first["session_id"]]
    sources = [host.iframe().get_attribute("src")]

    for round_number, status_code in enumerate((401, 403, 404), start=2):
        backend.fail_next("refresh", status_code)
        host.stub("askRefresh()")
        host.wait_event("authenticated", count=round_number)
        host.wait_authenticated()
        status = embed_authenticated(host, 1, 1)

        # A fresh mint, a fresh iframe on a NEW launch_url, the new session authenticated.
        assert len(backend.calls("mint")) == round_number, status_code
        assert len(backend.calls("refresh")) == round_number - 1, status_code
        assert host.iframe().count() == 1
        source = host.iframe().get_attribute("src")
        assert source not in sources, status_code
        sources.append(source)
        assert status["session_id"] not in sessions, status_code
        sessions.append(status["session_id"])
        assert status["auth_count"] == 1
        assert status["last_token_valid"] is True
        assert states(host)[-5:] == [
            "authenticated",
            "refreshing",
            "minting",
            "mounted",
            "authenticated",
        ], status_code

    # The embed's old launch URLs were never reused, and nothing was refreshed.
    assert host.servers.transcript.find(lambda e: e.event == "launch-refused") == []
    assert host.events("token-refreshed") == []
    assert host.errors == []


def test_the_session_id_is_url_encoded_in_the_refresh_url(host: HostPage) -> None:
    servers = host.servers
    # A real session, answered by the mint endpoint under an id that needs encoding.
    real = servers.fake.create_session({}, allowed_origin=servers.host_url)
    odd_id = "sess_ä b/c?d#e%f&g=h+i"
    servers.backend.fail_next("mint", 200, body={**real, "session_id": odd_id})
    record_lifecycle(host)
    host.open()
    host.wait_authenticated()
    assert host.stub("status()")["session_id"] == real["session_id"]

    host.stub("askRefresh()")
    # The backend knows no session by that id: 404, so the bridge mints afresh.
    host.wait_event("authenticated", count=2)
    host.wait_authenticated()

    sent = _refresh_requests(host)
    encoded = "sess_%C3%A4%20b%2Fc%3Fd%23e%25f%26g%3Dh%2Bi"
    assert encoded == quote(odd_id, safe="")
    assert [r.url for r in sent] == [servers.url(f"/meshes/session/{encoded}/refresh")]
    _assert_no_token(host, sent)
    # The backend decoded exactly that id from its route.
    calls = servers.backend.calls("refresh")
    assert [(c.session_id, c.status) for c in calls] == [(odd_id, 404)]
    assert len(servers.backend.calls("mint")) == 2
    assert host.stub("status()")["session_id"] not in (odd_id, real["session_id"])


def test_the_embeds_scheduled_refresh(host: HostPage) -> None:
    before = open_authenticated(host)
    transcript = host.servers.transcript
    # From now on tokens live 4 s: the embed asks for a refresh 2 s before expiry.
    host.servers.fake.ttl_override_seconds = 4
    mark = transcript.mark()
    host.stub("askRefresh()")
    transcript.wait_for("token #2 valid", timeout=REFRESH_WAIT_S, after=mark)

    asked = transcript.wait_for("meshes:token-refresh (scheduled)", timeout=10, after=mark)
    transcript.wait_for("token #3 valid", timeout=REFRESH_WAIT_S, after=asked.index)
    host.wait_event("token-refreshed", count=2)

    calls = host.servers.backend.calls("refresh")
    assert len(calls) >= 2
    assert {c.session_id for c in calls} == {before["session_id"]}
    status = host.stub("status()")
    assert status["session_id"] == before["session_id"]
    assert status["token_generation"] >= 3
    # Refreshed in time: the embed never saw its token expire, nothing was minted again.
    assert status["expired_posts"] == 0
    assert transcript.count("token refused") == 0
    assert len(host.servers.backend.calls("mint")) == 1
    assert host.events("token-expired") == []
