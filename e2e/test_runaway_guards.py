"""Runaway guards and failing safe, on both interpreters: a page runs for
hours, so an iframe swapped out again and again, an iframe that asks for tokens in a loop,
a tab frozen past its token's lifetime, a wall clock stepped back and a bug inside the core
must each end in bounded, visible behaviour, never in a stream of backend requests.
"""

from __future__ import annotations

import time

from e2e.harness import (
    STEP_TIMEOUT_MS,
    HostPage,
    embed_authenticated,
    open_authenticated,
    record_lifecycle,
    states,
)
from meshes_bridge.core.limits import BUDGET_WINDOW, MINT_BUDGET, REFRESH_BUDGET

REMOVE_IFRAME = "() => document.querySelector('#embed-1 iframe').remove()"


def test_iframe_swapped_out_again_and_again_stays_within_the_mint_budget(
    host: HostPage,
) -> None:
    open_authenticated(host)
    backend = host.servers.backend
    # Swapped out after each authentication (an htmx swap, a morph): each swap costs a
    # fresh session, on the same machine, until the budget for the minute is spent.
    for swap in range(1, MINT_BUDGET):
        host.page.evaluate(REMOVE_IFRAME)
        host.wait_event("authenticated", count=swap + 1)
        host.wait_authenticated()
    assert len(backend.calls("mint")) == MINT_BUDGET
    host.page.evaluate(REMOVE_IFRAME)
    line = host.wait_console("next one in")[0]
    assert f"minted {MINT_BUDGET} sessions in {int(BUDGET_WINDOW)} s" in line
    host.wait_state("minting")
    # No sixth mint: the container waits for the window to free a slot.
    assert len(backend.calls("mint")) == MINT_BUDGET
    assert host.iframe().count() == 0
    assert host.events("error") == []


def test_an_iframe_asking_for_tokens_in_a_loop_is_bounded(host: HostPage) -> None:
    open_authenticated(host)
    backend = host.servers.backend
    # A broken embed: it asks for a new token as soon as it gets one.
    host.frame().evaluate(
        """() => window.addEventListener("message", (e) => {
             const ask = () => window.stub.askRefresh();
             if (e.data && e.data.type === "meshes:auth") setTimeout(ask, 0);
           })"""
    )
    host.stub("askRefresh()")
    error = host.wait_event("error", timeout=STEP_TIMEOUT_MS)[0]
    assert error["detail"]["code"] == "refresh-loop", error
    assert f"more than {REFRESH_BUDGET} token refreshes" in error["detail"]["message"]
    assert len(backend.calls("refresh")) == REFRESH_BUDGET
    # The loop goes on in the iframe; the backend hears nothing more, no second error.
    for _ in range(10):
        host.stub("askRefresh()")
    host.frame().evaluate("() => window.stub.flushReports()")
    assert len(backend.calls("refresh")) == REFRESH_BUDGET
    assert [e["detail"]["code"] for e in host.events("error")] == ["refresh-loop"]
    assert host.container().get_attribute("data-state") == "refreshing"
    assert len(backend.calls("mint")) == 1


def test_a_tab_frozen_past_the_token_lifetime_recovers_with_one_refresh(host: HostPage) -> None:
    open_authenticated(host)
    servers = host.servers
    transcript = servers.transcript
    servers.fake.ttl_override_seconds = 6  # the embed asks 3 s before expiry
    mark = transcript.mark()
    host.stub("askRefresh()")
    transcript.wait_for("token #2 valid", timeout=STEP_TIMEOUT_MS / 1000, after=mark)
    session_id = host.stub("status()")["session_id"]
    expires_at = servers.fake.session(session_id).expires_at
    refreshes = len(servers.backend.calls("refresh"))

    # As a hidden tab the browser froze: no task runs, no timer fires, in the page or in
    # its iframe (same site: one renderer's main thread). Headless Chromium ignores
    # Page.setWebLifecycleState, so the debugger holds the thread instead.
    cdp = host.page.context.new_cdp_session(host.page)
    cdp.send("Debugger.enable")
    cdp.send("Debugger.pause")
    while servers.fake.now() < expires_at + 1:  # until its token has expired
        time.sleep(0.1)
    assert len(servers.backend.calls("refresh")) == refreshes
    shown = transcript.mark()
    cdp.send("Debugger.resume")
    cdp.send("Debugger.disable")

    # The embed's overdue refresh and expiry timers fire at once; one refresh answers both.
    transcript.wait_for("token #3 valid", timeout=STEP_TIMEOUT_MS / 1000, after=shown)
    host.wait_authenticated()
    after = servers.backend.calls("refresh")[refreshes:]
    assert len(after) == 1, [(c.status, c.time) for c in after]
    assert after[0].status == 200
    assert len(servers.backend.calls("mint")) == 1
    assert host.events("error") == []


def test_a_wall_clock_stepped_back_does_not_stall_the_ready_watchdog(host: HostPage) -> None:
    """The core runs on performance.now(): a user or NTP stepping Date.now() back an hour
    between a (re)load and its deadline must not postpone the watchdog by that hour."""
    open_authenticated(host, **{"data-ready-timeout": "2"})
    # Runs after the bridge's own load listener (registered first, when it mounted).
    host.page.evaluate(
        """() => {
             const iframe = document.querySelector('#embed-1 iframe');
             iframe.addEventListener('load', () => {
               const real = Date.now.bind(Date);
               Date.now = () => real() - 3600 * 1000;
             }, { once: true });
           }"""
    )
    host.frame().evaluate("() => { setTimeout(() => window.stub.reload(), 0); }")
    error = host.wait_event("error", timeout=STEP_TIMEOUT_MS)[0]
    assert error["detail"]["code"] == "ready-timeout"
    host.wait_event("authenticated", count=2, timeout=STEP_TIMEOUT_MS)
    assert len(host.servers.backend.calls("mint")) == 2


HOOKS_WITH_A_FAULT = """
def on_ready(embed):
    # Inject a bug into the core: its next refresh ask raises.
    def broken(now):
        raise KeyError("a bug")

    embed._embed.machine._on_token_refresh = broken
"""


def test_an_exception_inside_the_core_fails_safe(host: HostPage) -> None:
    record_lifecycle(host)
    host.servers.backend.add_file("/hooks/fault.py", HOOKS_WITH_A_FAULT, "text/plain")
    host.open(script_attrs={"data-hooks": "/hooks/fault.py"})
    host.wait_authenticated()
    embed_authenticated(host, 1, 1)
    tokens = host.servers.fake.issued_tokens()

    host.stub("askRefresh()")
    host.wait_state("error", timeout=STEP_TIMEOUT_MS)
    errors = host.events("error")
    assert [e["detail"] for e in errors] == [
        {"code": "internal", "message": "internal error: KeyError"}
    ]
    # Everything it had started is undone: no iframe, no refresh request, and it stays so.
    assert host.iframe().count() == 0
    assert host.servers.backend.calls("refresh") == []
    assert states(host)[-1] == "error"
    page_text = host.page.content() + "\n".join(host.console)
    assert not [t for t in tokens if t in page_text]
