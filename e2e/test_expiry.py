"""Expiry (host interface 3.6): `meshes:token-expired` -> data-state `expired`, the
`meshes-bridge:token-expired` event with `{}`, then recovery as for a refresh: one refresh
request, a new token to the embed, data-state `authenticated`.
"""

from __future__ import annotations

from typing import Any

from e2e.harness import (
    STEP_TIMEOUT_MS,
    HostPage,
    embed_authenticated,
    has_run,
    open_authenticated,
    round_trip,
    states,
)


def _expired_event_heard(host: HostPage) -> dict[str, Any]:
    (event,) = host.wait_event("token-expired")
    return event


def test_expiry_is_shown_then_recovered(host: HostPage) -> None:
    before = open_authenticated(host)
    backend = host.servers.backend
    # A slow refresh keeps `expired` on screen long enough to see it as a host would.
    backend.delay("refresh", 1.0)

    host.stub("expire()")
    host.wait_state("expired", timeout=STEP_TIMEOUT_MS)
    event = _expired_event_heard(host)
    assert event["detail"] == {}
    assert event["bubbles"] is True and event["target"] == "embed-1"

    status = embed_authenticated(host, 2, 2)
    host.wait_authenticated()
    round_trip(host, 633)

    calls = backend.calls("refresh")
    assert [(c.session_id, c.status) for c in calls] == [(before["session_id"], 200)]
    assert status["session_id"] == before["session_id"]
    assert status["expired_posts"] == 1
    assert len(host.events("token-refreshed")) == 1
    assert len(host.events("token-expired")) == 1
    assert states(host)[-3:] == ["authenticated", "expired", "authenticated"]
    assert len(backend.calls("mint")) == 1
    assert host.errors == []


def test_expiry_during_a_pending_refresh_shares_its_request(host: HostPage) -> None:
    before = open_authenticated(host)
    backend = host.servers.backend
    backend.delay("refresh", 0.8)

    host.frame().evaluate("() => { window.stub.askRefresh(); window.stub.expire(); }")
    _expired_event_heard(host)
    status = embed_authenticated(host, 2, 2)
    host.wait_authenticated()
    round_trip(host, 644)

    assert len(backend.calls("refresh")) == 1
    assert status["session_id"] == before["session_id"]
    assert states(host)[-4:] == ["authenticated", "refreshing", "expired", "authenticated"]
    assert len(host.events("token-refreshed")) == 1
    assert len(backend.calls("mint")) == 1


def test_the_embeds_own_expiry_while_the_refresh_hangs(host: HostPage) -> None:
    """Tokens that live 4 s and a refresh that never answers: the embed reports the expiry
    itself, the bridge times the request out (10 s) and retries, and the embed recovers."""
    before = open_authenticated(host)
    servers = host.servers
    transcript = servers.transcript
    servers.fake.ttl_override_seconds = 4
    mark = transcript.mark()
    host.stub("askRefresh()")
    transcript.wait_for("token #2 valid", timeout=STEP_TIMEOUT_MS / 1000, after=mark)
    # The embed's scheduled ask, 2 s before this 4 s token expires, hangs.
    servers.backend.hang_next("refresh")

    transcript.wait_for("meshes:token-refresh (scheduled)", timeout=10, after=mark)
    transcript.wait_for("meshes:token-expired (token expired)", timeout=10, after=mark)
    host.wait_state("expired", timeout=STEP_TIMEOUT_MS)
    event = _expired_event_heard(host)
    assert event["detail"] == {}
    # Still the one hung request: the expiry joined it rather than starting another.
    assert len(servers.backend.calls("refresh")) == 2

    transcript.wait_for("token #3 valid", timeout=25, after=mark)
    host.wait_authenticated()

    calls = servers.backend.calls("refresh")
    assert [c.status for c in calls[:3]] == [200, None, 200]
    assert {c.session_id for c in calls} == {before["session_id"]}
    # Timed out after 10 s (the page's clock), then the first backoff step.
    assert calls[2].time - calls[1].time >= 10.0
    seen = states(host)
    assert has_run(seen, ["authenticated", "refreshing", "expired", "authenticated"]), seen
    assert seen.count("expired") == 1 and seen.count("minting") == 1, seen
    assert len(servers.backend.calls("mint")) == 1
    status = host.stub("status()")
    assert status["session_id"] == before["session_id"]
    assert status["expired_posts"] == 1
