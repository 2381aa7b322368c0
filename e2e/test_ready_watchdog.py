"""The ready watchdog (`data-ready-timeout`): when the iframe (re)loads and no
`meshes:ready` follows within the timeout (a hard reload: the launch URL works once, so the
reloaded document is Meshes' error page), the bridge mints a fresh session and mounts a
fresh iframe. A ready that comes late but in time raises no alarm, and every later
`meshes:ready` from the same document gets the token again.
"""

from __future__ import annotations

from e2e.harness import (
    HostPage,
    embed_authenticated,
    has_run,
    open_authenticated,
    record_lifecycle,
    round_trip,
    states,
)
from meshes_bridge.core.limits import MAX_REMOUNTS

READY_TIMEOUT_S = 2


def test_a_hard_reload_is_remounted_with_a_fresh_session(host: HostPage) -> None:
    first = open_authenticated(host, **{"data-ready-timeout": str(READY_TIMEOUT_S)})
    servers = host.servers
    transcript = servers.transcript
    first_src = host.iframe().get_attribute("src")
    first_iframe = host.iframe().element_handle()
    mark = transcript.mark()

    host.frame().evaluate("() => { setTimeout(() => window.stub.reload(), 0); }")
    refused = transcript.wait_for(lambda e: e.event == "launch-refused", after=mark)
    assert refused.fields["reason"] == "used"
    host.wait_event("authenticated", count=2, timeout=(READY_TIMEOUT_S + 15) * 1000)
    host.wait_authenticated()
    status = embed_authenticated(host, 1, 1)

    mints = servers.backend.calls("mint")
    assert len(mints) == 2
    # Not before the timeout had run out after the reloaded document's load.
    assert mints[1].time - refused.time >= READY_TIMEOUT_S - 0.1
    # A fresh iframe on the fresh session's launch_url (the old one is never reused).
    assert host.iframe().count() == 1
    assert not first_iframe.evaluate("el => el.isConnected")
    src = host.iframe().get_attribute("src")
    assert src != first_src and "/workspace/dashboard?launch=" in src
    assert status["session_id"] != first["session_id"]
    assert servers.fake.session(status["session_id"]).launch_used is True
    assert len(transcript.find(lambda e: e.event == "launched")) == 2
    seen = states(host)
    assert has_run(seen, ["authenticated", "minting", "mounted", "authenticated"]), seen
    assert servers.backend.calls("refresh") == []


def test_a_late_ready_in_time_is_no_false_alarm(host: HostPage) -> None:
    servers = host.servers
    # The embed says ready 800 ms after its load event, like a SPA.
    servers.fake.ready_delay_ms = 800
    first = open_authenticated(host, **{"data-ready-timeout": "3"})
    launched = servers.transcript.find(lambda e: e.event == "launched")
    ready = servers.transcript.find(lambda e: e.event == "ready")
    assert len(launched) == 1 and len(ready) == 1
    assert ready[0].time - launched[0].time >= 0.75

    # Let the page's clock run well past load + 3 s (a condition on performance.now()).
    start = host.page.evaluate("performance.now()")
    host.page.wait_for_function("t => performance.now() > t", arg=start + 3500, timeout=15_000)
    round_trip(host, 655)

    assert len(servers.backend.calls("mint")) == 1
    assert host.container().get_attribute("data-state") == "authenticated"
    assert states(host) == ["booting", "minting", "mounted", "authenticated"]
    status = host.stub("status()")
    assert status["session_id"] == first["session_id"]
    assert status["auth_count"] == 1
    assert host.events("error") == []


def test_a_second_ready_gets_the_token_again(host: HostPage) -> None:
    first = open_authenticated(host)
    host.stub("ready()")
    status = embed_authenticated(host, 2, 1)
    round_trip(host, 666)

    assert status["session_id"] == first["session_id"]
    assert status["ready_posts"] == 2
    assert len(host.events("ready")) == 2
    assert len(host.events("authenticated")) == 2
    assert len(host.servers.backend.calls("mint")) == 1
    assert host.servers.backend.calls("refresh") == []
    assert states(host) == ["booting", "minting", "mounted", "authenticated"]
    assert host.iframe().count() == 1


def test_an_embed_that_never_says_ready_is_given_up_on(host: HostPage) -> None:
    """Every launch URL is already too old when the iframe loads it (Meshes' error page, no
    ready): the bridge mints afresh a few times, then stops in `error` instead of minting
    forever."""
    servers = host.servers
    servers.fake.launch_ttl_override_seconds = 0
    record_lifecycle(host)
    host.open(container_attrs={"data-ready-timeout": "1"})
    host.wait_state("error")

    mints = servers.backend.calls("mint")
    assert len(mints) == 1 + MAX_REMOUNTS
    refused = servers.transcript.find(lambda e: e.event == "launch-refused")
    assert [e.fields["reason"] for e in refused] == ["expired"] * len(mints)
    errors = host.events("error")
    assert errors and errors[-1]["detail"]["code"] == "remount-limit"
    assert host.iframe().count() == 0
    assert host.events("authenticated") == []
    seen = states(host)
    assert seen[:2] == ["booting", "minting"] and seen[-1] == "error", seen
    assert seen.count("mounted") == len(mints), seen
