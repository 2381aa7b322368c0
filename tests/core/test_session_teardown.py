"""How a session ends: torn down by its page, or failing safe on a bug (an
exception, a missing cell of the table); either way nothing it started is left."""

from meshes_bridge.core.actions import (
    AbortRequest,
    CancelFrame,
    Emit,
    PostAuth,
    RemoveIframe,
    SetState,
    StartRefresh,
)
from meshes_bridge.core.inputs import FrameTick, HttpAnswered, IframeLoaded, Start, Teardown
from meshes_bridge.core.transitions import TABLE
from tests.core.helpers import (
    TOKEN,
    error_codes,
    mounted,
    only,
    ready,
    refresh_json,
    refreshing,
    resize,
    scan_for_secrets,
    session_json,
    started,
    token_expired,
)


def test_teardown_while_minting_aborts():
    run = started()
    assert run.feed(Teardown(), 1.0) == [AbortRequest(1)]
    assert run.deadline() is None
    assert run.feed(HttpAnswered(1, 200, session_json()), 2.0) == []
    assert run.timer(100.0) == []


def test_teardown_aborts_requests_cancels_frame_removes_iframe():
    run = refreshing()
    run.feed(resize(600), 5.5)
    out = run.feed(Teardown(), 6.0)
    assert out == [AbortRequest(2), CancelFrame(), RemoveIframe()]
    assert run.deadline() is None
    for event in (
        HttpAnswered(2, 200, refresh_json()),
        ready(),
        FrameTick(),
        IframeLoaded(),
        Start(),
        Teardown(),
    ):
        assert run.feed(event, 7.0) == []
    assert run.timer(1000.0) == []


def test_teardown_with_a_retry_pending():
    run = refreshing()
    run.feed(HttpAnswered(2, 500, ""), 6.0)
    assert run.feed(Teardown(), 6.1) == [RemoveIframe()]
    assert run.timer(100.0) == []


def test_an_input_missing_from_the_table_fails_safe():
    run = refreshing()  # authenticated, refresh request 2 pending
    run.feed(resize(900), 5.5)  # a frame requested too
    table = {}
    for state in TABLE:
        table[state] = dict(TABLE[state])
    del table["refreshing"]["token-expired"]
    run.session._table = table
    out = run.feed(token_expired(), 6.0)
    assert out[:3] == [AbortRequest(2), CancelFrame(), RemoveIframe()], out
    assert SetState("error") in out and run.state == "error"
    assert error_codes(out) == ["internal"]
    assert only(out, Emit)[0].detail["message"] == "internal error: StateError"
    assert not only(out, StartRefresh) and not only(out, PostAuth)
    assert run.session._tokens.token is None
    assert run.deadline() is None
    assert run.feed(ready(), 7.0) == [] and run.timer(100.0) == []


def test_an_exception_in_the_core_fails_safe():
    run = refreshing()  # authenticated, refresh request 2 pending
    run.feed(resize(900), 5.5)  # a frame requested too

    def broken(now):
        raise KeyError("tok_SECRET_in_the_exception_text")

    run.session._on_ready = broken  # inject a fault
    out = run.feed(ready(), 6.0)
    assert out[:3] == [AbortRequest(2), CancelFrame(), RemoveIframe()], out
    assert SetState("error") in out and run.state == "error"
    assert error_codes(out) == ["internal"]
    assert only(out, Emit)[0].detail["message"] == "internal error: KeyError"
    assert not only(out, PostAuth)
    scan_for_secrets(out, ["tok_SECRET_in_the_exception_text", TOKEN])
    assert run.session._tokens.token is None
    assert run.deadline() is None
    assert run.feed(ready(), 7.0) == [] and run.timer(100.0) == []
    assert run.feed(HttpAnswered(2, 200, refresh_json()), 7.0) == []


def test_an_exception_in_a_timer_fails_safe():
    run = mounted()  # ready watchdog pending

    def broken(*args):
        raise ValueError("boom")

    run.session._remount = broken
    out = run.timer(run.deadline())
    assert error_codes(out) == ["internal"] and run.state == "error", out
    assert RemoveIframe() in out and run.deadline() is None
