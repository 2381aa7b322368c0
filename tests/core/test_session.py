"""The session machine: the token posted to a ready document, refreshed, expired,
kept out of everything written; navigation; fresh sessions and their cap."""

import json

from meshes_bridge.core import messages as msg
from meshes_bridge.core.actions import (
    Emit,
    Log,
    MountIframe,
    PostAuth,
    RemoveIframe,
    SetState,
    StartMint,
    StartRefresh,
)
from meshes_bridge.core.inputs import (
    FrameTick,
    HttpAnswered,
    HttpFailed,
    IframeLoaded,
    IframeLost,
    MessageReceived,
    Start,
    Teardown,
)
from meshes_bridge.core.limits import MAX_REMOUNTS
from tests.core.helpers import (
    EMBED,
    EXPIRES2,
    LAUNCH2,
    REFRESH_FILLED,
    SID,
    TOKEN,
    TOKEN2,
    TOKEN3,
    Run,
    assert_remounted,
    auth,
    authenticated,
    data_of,
    error_codes,
    message,
    mounted,
    no_logs,
    only,
    ready,
    refresh_json,
    refreshing,
    resize,
    scan_for_secrets,
    session_json,
    started,
    timings,
    token_expired,
    token_refresh,
)

# Started at 0, minted at 1, ready (before any load event) and auth at 2.
AUTH_AT_2 = timings(
    mint_sent=0.0,
    mint_answered=1000.0,
    iframe_created=1000.0,
    iframe_loaded=2000.0,
    ready=2000.0,
    auth=2000.0,
)


def test_ready_posts_the_token_to_the_embed_origin():
    run = mounted()
    out = run.feed(ready(), 2.0)
    # The token first: the embed waits on it; the events and the state only report it.
    assert out == [
        auth(TOKEN),
        Emit("ready", {}),
        SetState("authenticated"),
        Emit("authenticated", {}),
        Emit("timings", AUTH_AT_2),
    ]
    assert out[0].message == {"type": "meshes:auth", "token": TOKEN}
    assert out[0].target_origin == EMBED
    assert run.deadline() is None
    assert run.feed(IframeLoaded(), 2.5) == []


def test_second_ready_posts_again():
    run = authenticated()
    out = run.feed(ready(), 3.0)
    assert out == [auth(TOKEN), Emit("ready", {}), Emit("authenticated", {})]


def test_no_token_before_ready():
    run = mounted()
    run.feed(IframeLoaded(), 1.5)
    for event in (resize(600), message({"type": msg.NAVIGATE, "path": "/x"}), FrameTick()):
        assert not only(run.feed(event, 2.0), PostAuth)
    assert run.state == "mounted"


def test_debug_logs_are_redacted():
    run = mounted(debug=True)
    out = run.feed(ready(), 2.0)
    assert [a.level for a in only(out, Log)] == ["debug", "debug"]
    out = run.feed(message({"type": msg.NAVIGATE, "token": TOKEN, "path": "/p?x=" + TOKEN}), 3)
    assert only(out, Log) and not only(out, PostAuth)
    scan_for_secrets(run.actions, [TOKEN])


def test_token_refresh_answer_posts_the_new_token():
    run = refreshing()
    out = run.feed(HttpAnswered(2, 200, refresh_json()), 6.0)
    # The new token first, before the console line and the events that report it.
    assert out == [
        auth(TOKEN2),
        Log("info", "refreshed session " + SID),
        Emit("token-refreshed", {"expires_at": EXPIRES2}),
        SetState("authenticated"),
        Emit("authenticated", {}),
    ]
    assert out[0].message["token"] == TOKEN2
    assert run.deadline() is None
    # Later readies get the new token.
    assert only(run.feed(ready(), 7.0), PostAuth) == [auth(TOKEN2)]
    # A new ask after the answer is a new request.
    assert run.feed(token_refresh(), 8.0) == [
        StartRefresh(3, REFRESH_FILLED),
        SetState("refreshing"),
    ]


def test_token_refresh_before_ready_waits_for_ready():
    run = mounted()
    run.feed(IframeLoaded(), 1.5)
    out = run.feed(token_refresh(), 2.0)
    assert out == [StartRefresh(2, REFRESH_FILLED), SetState("refreshing")]
    out = run.feed(HttpAnswered(2, 200, refresh_json()), 3.0)
    assert no_logs(out) == [Emit("token-refreshed", {"expires_at": EXPIRES2}), SetState("mounted")]
    out = run.feed(ready(), 4.0)
    loaded = {"iframe_loaded": 1500.0, "ready": 4000.0, "auth": 4000.0}
    assert out == [
        auth(TOKEN2),
        Emit("ready", {}),
        SetState("authenticated"),
        Emit("authenticated", {}),
        Emit(
            "timings", timings(mint_sent=0.0, mint_answered=1000.0, iframe_created=1000.0, **loaded)
        ),
    ]


def test_token_expired_refreshes_then_authenticates():
    run = authenticated()
    out = run.feed(token_expired(), 5.0)
    assert no_logs(out) == [
        StartRefresh(2, REFRESH_FILLED),
        SetState("expired"),
        Emit("token-expired", {}),
    ]
    assert run.state == "expired"
    # A ready while expired gets no (expired) token.
    assert run.feed(ready(), 5.5) == [Emit("ready", {})]
    out = run.feed(HttpAnswered(2, 200, refresh_json()), 6.0)
    assert no_logs(out) == [
        auth(TOKEN2),
        Emit("token-refreshed", {"expires_at": EXPIRES2}),
        SetState("authenticated"),
        Emit("authenticated", {}),
    ]


def test_token_expired_refresh_gone_remounts():
    run = authenticated()
    run.feed(token_expired(), 5.0)
    out = run.feed(HttpAnswered(2, 404, ""), 6.0)
    assert_remounted(out, 3)


def test_navigate_emits_fields_except_type():
    run = authenticated()
    data = {"type": msg.NAVIGATE, "path": "/workspace/rules", "title": "Rules", "n": 3, "x": None}
    out = run.feed(message(data), 3.0)
    assert out == [
        Emit("navigate", {"path": "/workspace/rules", "title": "Rules", "n": 3, "x": None})
    ]


def test_navigate_drops_fields_holding_the_token():
    run = authenticated()
    data = {"type": msg.NAVIGATE, "path": "/p", "url": "https://e.io/?t=" + TOKEN, "t": TOKEN}
    out = run.feed(message(data), 3.0)
    assert out == [Emit("navigate", {"path": "/p"})]
    out = run.feed(message({"type": msg.NAVIGATE, "path": "/p", TOKEN: "1"}), 3.0)
    assert out == [Emit("navigate", {"path": "/p"})]
    scan_for_secrets(run.actions, [TOKEN])


def test_an_old_token_echoed_after_a_refresh_is_still_kept_out():
    run = refreshing(5.0)
    run.feed(HttpAnswered(2, 200, refresh_json()), 6.0)
    out = run.feed(message({"type": "meshes:navigate", "page": "x", "echo": TOKEN}), 7.0)
    assert only(out, Emit) == [Emit("navigate", {"page": "x"})]
    out = run.feed(HttpAnswered(99, 500, "x"), 8.0)
    for action in run.feed(message({"type": "meshes:resize", "height": TOKEN}), 9.0):
        assert TOKEN not in repr(action) and TOKEN2 not in repr(action)


def test_a_second_start_does_nothing():
    run = mounted()
    assert run.feed(Start(), 3.0) == []
    assert run.state == "mounted"


def test_a_second_start_is_ignored_even_in_error():
    run = started()
    run.feed(HttpAnswered(1, 400, ""), 1.0)
    assert run.feed(Start(), 2.0) == []
    assert run.state == "error"


def to_remount_limit():
    """Mounted, then MAX_REMOUNTS fresh sessions that never say ready: the next ready
    timeout gives up. Returns the run and that last timer's actions."""
    run = mounted()
    mint_id = 1
    for _ in range(MAX_REMOUNTS):
        now = run.deadline()
        mint_id += 1
        assert_remounted(run.timer(now), mint_id)
        out = run.feed(HttpAnswered(mint_id, 200, session_json()), now + 1)
        assert only(out, MountIframe)
    return run, run.timer(run.deadline())


def test_remount_limit():
    run, out = to_remount_limit()
    assert error_codes(out) == ["ready-timeout", "remount-limit"]
    assert RemoveIframe() in out and not only(out, StartMint)
    assert run.state == "error" and run.deadline() is None


def test_authentication_resets_the_remount_count():
    run = mounted()
    mint_id = 1
    for _ in range(MAX_REMOUNTS * 2):
        now = run.deadline()
        mint_id += 1
        assert_remounted(run.timer(now), mint_id)
        run.feed(HttpAnswered(mint_id, 200, session_json()), now + 1)
        run.feed(ready(), now + 1.1)
        run.feed(IframeLoaded(), now + 1.2)
        assert run.state == "authenticated"
        run.feed(IframeLoaded(), now + 2)  # a hard reload that never says ready
    assert run.state == "authenticated"


def test_messages_in_error_state_change_nothing():
    run, _ = to_remount_limit()
    assert run.state == "error"
    for event in (ready(), token_refresh(), token_expired(), resize(600), IframeLoaded()):
        out = run.feed(event, 200.0)
        assert not only(out, SetState) and not only(out, StartRefresh), out
        assert not only(out, PostAuth)
        assert run.state == "error"
    assert run.deadline() is None


def test_iframe_lost_mints_afresh_on_the_same_machine():
    run = authenticated()
    out = run.feed(IframeLost(), 3.0)
    assert_remounted(out, 2)
    assert only(out, Log)[0].level == "warn"
    assert not run.session.wants_fields(EMBED, True)  # no iframe: nothing to read
    out = run.feed(IframeLost(), 3.1)  # no iframe now: nothing more to lose
    assert out == [], out


def test_iframe_lost_again_and_again_hits_the_remount_cap():
    run = mounted()
    mint_id = 1
    for attempt in range(MAX_REMOUNTS):
        now = 2.0 + attempt
        out = run.feed(IframeLost(), now)
        mint_id += 1
        assert_remounted(out, mint_id)
        run.feed(HttpAnswered(mint_id, 200, session_json()), now + 0.5)
    out = run.feed(IframeLost(), 10.0)
    assert error_codes(out) == ["remount-limit"] and run.state == "error", out


def test_token_never_leaks_in_a_long_scenario():
    run = Run(debug=True)
    run.feed(Start(), 0.0)
    spoof = json.dumps({"type": msg.READY, "token": TOKEN, "x": TOKEN})
    run.feed(HttpAnswered(1, 200, session_json()), 1.0)
    run.feed(MessageReceived("https://evil.example", True, data_of(spoof)), 1.1)
    run.feed(MessageReceived(EMBED, False, data_of(spoof)), 1.2)
    run.feed(MessageReceived(EMBED, True, data_of('{"type": "meshes:x", "' + TOKEN + '": 1}')), 1.3)
    run.feed(
        MessageReceived(EMBED, True, data_of('{"type": "meshes:ready", "' + TOKEN + '": {}}')), 1.4
    )
    run.feed(ready(), 2.0)
    run.feed(IframeLoaded(), 2.1)
    run.feed(message({"type": msg.NAVIGATE, "path": "/p#" + TOKEN, "token": TOKEN}), 2.2)
    run.feed(token_refresh(), 3.0)
    run.feed(HttpFailed(2, "failed with " + TOKEN), 3.1)
    run.timer(run.deadline())
    run.feed(HttpAnswered(3, 500, "echo " + TOKEN), 4.0)
    run.timer(run.deadline())
    run.feed(HttpAnswered(4, 200, refresh_json()), 6.0)
    run.feed(message({"type": msg.NAVIGATE, "a": TOKEN2, "b": "x" + TOKEN2}), 6.1)
    run.feed(token_expired(), 7.0)
    run.feed(HttpAnswered(5, 200, "{" + TOKEN2), 7.1)  # unusable: remount
    run.feed(HttpAnswered(6, 200, session_json(token=TOKEN3, launch=LAUNCH2)), 8.0)
    run.feed(ready(), 9.0)
    run.feed(resize(700), 9.1)
    run.feed(FrameTick(), 9.2)
    run.feed(IframeLoaded(), 9.3)
    run.feed(IframeLoaded(), 9.4)  # a hard reload that never says ready
    run.timer(run.deadline())
    run.feed(HttpAnswered(7, 200, session_json(token=TOKEN, launch="http://evil.example/")), 30)
    run.feed(Teardown(), 31.0)
    posted = [a.message["token"] for a in only(run.actions, PostAuth)]
    assert posted == [TOKEN, TOKEN2, TOKEN3]
    for action in only(run.actions, PostAuth):
        assert action.target_origin == EMBED
    assert error_codes(run.actions) == ["refresh-failed", "ready-timeout", "launch-url"]
    scan_for_secrets(run.actions, [TOKEN, TOKEN2, TOKEN3])
