"""The requests to the backend, through the session: one mint or refresh out at a
time, its timeout, retries with backoff, stale answers, and the budgets that bound
a runaway iframe."""

from meshes_bridge.core.actions import (
    AbortRequest,
    Emit,
    Log,
    MountIframe,
    PostAuth,
    RemoveIframe,
    SetState,
    StartMint,
    StartRefresh,
)
from meshes_bridge.core.inputs import HttpAnswered, HttpFailed, IframeLost, Start
from meshes_bridge.core.limits import (
    BUDGET_WINDOW,
    MINT_BUDGET,
    MINT_TIMEOUT,
    REFRESH_BUDGET,
    REFRESH_TIMEOUT,
)
from meshes_bridge.core.retry import backoff_delay
from tests.core.helpers import (
    LAUNCH,
    LAUNCH2,
    READY_TIMEOUT,
    REFRESH_FILLED,
    SESSION_URL,
    TOKEN,
    TOKEN2,
    TOKEN3,
    Run,
    assert_rejected_only,
    assert_remounted,
    auth,
    authenticated,
    error_codes,
    mounted,
    no_logs,
    only,
    ready,
    refresh_json,
    refreshing,
    scan_for_secrets,
    session_json,
    started,
    token_expired,
    token_refresh,
)


def test_start_sets_minting_and_starts_mint():
    run = Run({"data-session-body": '{"launch_page": "connections"}'})
    out = run.feed(Start(), 0.0)
    # The request first: someone waits on it; the state change only reports it.
    assert out == [StartMint(1, SESSION_URL, {"launch_page": "connections"}), SetState("minting")]
    assert run.state == "minting"
    assert run.deadline() == MINT_TIMEOUT


def test_mint_5xx_and_network_errors_retry_with_backoff():
    run = started()
    out = run.feed(HttpAnswered(1, 503, "busy"), 1.0)
    assert no_logs(out) == [] and only(out, Log)
    assert run.state == "minting" and run.deadline() == 1.5
    assert run.timer(1.49) == []
    assert run.timer(1.5) == [StartMint(2, SESSION_URL, {})]
    out = run.feed(HttpFailed(2, "network down"), 2.0)
    assert no_logs(out) == [] and run.deadline() == 3.0
    assert run.timer(3.0) == [StartMint(3, SESSION_URL, {})]
    out = run.feed(HttpAnswered(3, 200, session_json()), 4.0)
    assert no_logs(out) == [MountIframe(LAUNCH, 480), SetState("mounted")]


def test_mint_retries_are_limited():
    run = started()
    now = 1.0
    request_id = 1
    for attempt in range(1, 5):
        out = run.feed(HttpAnswered(request_id, 500, ""), now)
        assert no_logs(out) == []
        assert run.deadline() == now + backoff_delay(attempt)
        now = run.deadline()
        request_id += 1
        assert run.timer(now) == [StartMint(request_id, SESSION_URL, {})]
    out = run.feed(HttpAnswered(request_id, 500, ""), now + 1)
    assert error_codes(out) == ["mint-failed"]
    assert run.state == "error" and run.deadline() is None


def test_mint_request_timeout_aborts_and_retries():
    run = started()
    assert run.timer(MINT_TIMEOUT - 0.1) == []
    out = run.timer(MINT_TIMEOUT)
    assert no_logs(out) == [AbortRequest(1)]
    assert run.deadline() == MINT_TIMEOUT + 0.5
    assert run.timer(MINT_TIMEOUT + 0.5) == [StartMint(2, SESSION_URL, {})]
    # The aborted request's late answer is stale and ignored.
    assert run.feed(HttpAnswered(1, 200, session_json()), 16.0) == []
    assert run.state == "minting"
    out = run.feed(HttpAnswered(2, 200, session_json()), 17.0)
    assert no_logs(out) == [MountIframe(LAUNCH, 480), SetState("mounted")]


def test_token_refresh_starts_one_request_with_encoded_session_id():
    run = authenticated()
    out = run.feed(token_refresh(), 5.0)
    assert out == [StartRefresh(2, REFRESH_FILLED), SetState("refreshing")]
    assert run.deadline() == 5.0 + REFRESH_TIMEOUT
    # Single flight: a second ask, or an expiry, shares the request in flight.
    assert run.feed(token_refresh(), 5.5) == []
    out = run.feed(token_expired(), 5.6)
    assert no_logs(out) == [SetState("expired"), Emit("token-expired", {})]
    assert not only(run.actions, StartRefresh)[1:]


def test_refresh_5xx_retries_at_backoff():
    run = refreshing()
    out = run.feed(HttpAnswered(2, 503, ""), 6.0)
    assert no_logs(out) == [] and len(only(out, Log)) == 1
    assert run.state == "refreshing"
    assert run.deadline() == 6.5
    assert run.timer(6.49) == []
    assert run.timer(6.5) == [StartRefresh(3, REFRESH_FILLED)]
    assert run.deadline() == 6.5 + REFRESH_TIMEOUT
    # Single flight holds during a pending retry too.
    out = run.feed(HttpFailed(3, "connection reset"), 7.0)
    assert no_logs(out) == [] and run.deadline() == 8.0
    assert run.feed(token_refresh(), 7.5) == []
    assert run.timer(8.0) == [StartRefresh(4, REFRESH_FILLED)]
    out = run.feed(HttpAnswered(4, 200, refresh_json()), 8.5)
    assert only(out, PostAuth) == [auth(TOKEN2)]
    assert run.state == "authenticated"


def test_refresh_429_and_408_retry():
    for status in (408, 429):
        run = refreshing()
        run.feed(HttpAnswered(2, status, ""), 6.0)
        assert run.deadline() == 6.5 and run.state == "refreshing"


def test_a_retry_due_in_the_step_that_remounts_is_never_sent():
    # Asked before the iframe's document said ready; its retry and the ready watchdog
    # fall due together: the fresh mint goes first, the retry neither out nor aborted.
    run = mounted()
    run.feed(token_refresh(), 2.0)
    run.feed(HttpAnswered(2, 502, ""), 2.5)
    out = run.timer(1.0 + READY_TIMEOUT)
    assert error_codes(out) == ["ready-timeout"]
    assert_remounted(out, 4)
    assert not only(out, StartRefresh) and not only(out, AbortRequest), out
    assert run.feed(HttpAnswered(3, 200, refresh_json()), 17.0) == []


def test_refresh_timeout_aborts_and_retries():
    run = refreshing(5.0)
    assert run.timer(5.0 + REFRESH_TIMEOUT - 0.01) == []
    out = run.timer(5.0 + REFRESH_TIMEOUT)
    assert no_logs(out) == [AbortRequest(2)]
    assert run.deadline() == 5.0 + REFRESH_TIMEOUT + 0.5
    assert run.timer(run.deadline()) == [StartRefresh(3, REFRESH_FILLED)]
    assert run.feed(HttpAnswered(2, 200, refresh_json()), 16.0) == []  # stale


def test_refresh_retries_exhausted_report_and_remount():
    run = refreshing()
    now = 6.0
    request_id = 2
    for _attempt in range(4):
        assert no_logs(run.feed(HttpAnswered(request_id, 502, ""), now)) == []
        now = run.deadline()
        request_id += 1
        assert run.timer(now) == [StartRefresh(request_id, REFRESH_FILLED)]
    out = run.feed(HttpAnswered(request_id, 502, ""), now + 0.1)
    assert error_codes(out) == ["refresh-failed"]
    assert_remounted(out, request_id + 1)
    assert run.state == "minting"
    assert run.session.embed_origin is None
    assert_rejected_only(run, ready(), "origin", now + 0.2)
    body = session_json(token=TOKEN3, launch=LAUNCH2)
    out = run.feed(HttpAnswered(request_id + 1, 200, body), now + 1)
    assert no_logs(out) == [MountIframe(LAUNCH2, 480), SetState("mounted")]
    assert only(run.feed(ready(), now + 2), PostAuth) == [auth(TOKEN3)]


def test_refresh_session_gone_remounts_fresh():
    for status in (401, 403, 404):
        run = refreshing()
        out = run.feed(HttpAnswered(2, status, ""), 6.0)
        assert no_logs(out) == [StartMint(3, SESSION_URL, {}), RemoveIframe(), SetState("minting")]
        assert run.state == "minting" and run.session.session_id is None
        out = run.feed(HttpAnswered(3, 200, session_json(token=TOKEN3, launch=LAUNCH2)), 7.0)
        assert no_logs(out) == [MountIframe(LAUNCH2, 480), SetState("mounted")]
        assert only(run.feed(ready(), 8.0), PostAuth) == [auth(TOKEN3)]
        scan_for_secrets(run.actions, [TOKEN, TOKEN3])


def test_refresh_unusable_answer_remounts():
    run = refreshing()
    out = run.feed(HttpAnswered(2, 200, "{}"), 6.0)
    assert error_codes(out) == ["refresh-failed"]
    assert_remounted(out, 3)


def test_stale_http_answers_are_ignored():
    run = refreshing()
    run.feed(HttpAnswered(2, 401, ""), 6.0)  # remount: mint request 3
    for event in (
        HttpAnswered(2, 200, refresh_json()),
        HttpFailed(2, "late"),
        HttpAnswered(1, 200, session_json(token=TOKEN3)),
        HttpAnswered(99, 200, session_json(token=TOKEN3)),
        HttpFailed(99, "?"),
    ):
        assert run.feed(event, 6.5) == []
        assert run.state == "minting"
    assert run.deadline() == 6.0 + MINT_TIMEOUT


def test_mint_budget_holds_across_iframe_swaps():
    run = authenticated()  # mint 1 at t=0
    mint_id = 1
    now = 2.5
    # Swapped out after each authentication: the remount cap resets, the budget does not.
    for _ in range(MINT_BUDGET - 1):
        now += 1.0
        mint_id += 1
        assert_remounted(run.feed(IframeLost(), now), mint_id)
        run.feed(HttpAnswered(mint_id, 200, session_json()), now + 0.1)
        run.feed(ready(), now + 0.2)
        assert run.state == "authenticated"
    out = run.feed(IframeLost(), now + 1.0)
    assert not only(out, StartMint) and run.state == "minting", out
    assert "next one in" in only(out, Log)[-1].text
    assert run.deadline() == BUDGET_WINDOW  # when the first mint (t=0) leaves the window
    assert run.timer(BUDGET_WINDOW - 0.01) == []
    assert run.timer(BUDGET_WINDOW) == [StartMint(mint_id + 1, SESSION_URL, {})]


def test_refresh_loop_is_bounded_and_reported_once():
    run = authenticated()
    request_id = 1
    now = 3.0
    for _ in range(REFRESH_BUDGET):
        request_id += 1
        out = run.feed(token_refresh(), now)
        assert only(out, StartRefresh) == [StartRefresh(request_id, REFRESH_FILLED)], out
        run.feed(HttpAnswered(request_id, 200, refresh_json()), now + 0.1)
        now += 1.0
    out = run.feed(token_refresh(), now)
    assert not only(out, StartRefresh), out
    assert error_codes(out) == ["refresh-loop"], out
    assert run.state == "refreshing"
    for extra in range(20):  # the loop goes on: no request, no second error
        out = run.feed(token_refresh(), now + 0.1 + extra * 0.01)
        assert not only(out, StartRefresh) and not error_codes(out), out
    assert run.deadline() == 3.0 + BUDGET_WINDOW
    out = run.timer(3.0 + BUDGET_WINDOW)
    assert out == [StartRefresh(request_id + 1, REFRESH_FILLED)], out
    out = run.feed(HttpAnswered(request_id + 1, 200, refresh_json(TOKEN3)), 64.0)
    assert auth(TOKEN3) in out and run.state == "authenticated", out
