"""The ready watchdog: which document may get the token, and the fresh session
minted when a document never says ready; alone and through the session."""

from meshes_bridge.core.actions import PostAuth
from meshes_bridge.core.inputs import HttpAnswered, IframeLoaded
from meshes_bridge.core.watchdog import ReadyWatchdog
from tests.core.helpers import (
    READY_TIMEOUT,
    TOKEN,
    TOKEN2,
    assert_rejected_only,
    assert_remounted,
    auth,
    authenticated,
    error_codes,
    mounted,
    only,
    ready,
    refresh_json,
    refreshing,
    token_refresh,
)


def test_watchdog_credits_a_ready_around_its_load():
    dog = ReadyWatchdog()
    assert not dog.can_post()
    dog.mounted(0.0, 15)
    assert dog.deadline == 15.0 and not dog.can_post()
    dog.ready(1.0)  # before its load: held, and it may already get the token
    assert dog.deadline is None and dog.can_post()
    dog.loaded(2.0)
    assert dog.can_post() and dog.deadline is None
    dog.loaded(40.0)  # a reload: this document owes a ready
    assert not dog.can_post() and dog.deadline == 55.0
    assert not dog.tripped(54.9)
    dog.ready(41.0)
    assert dog.can_post() and not dog.tripped(100.0)
    dog.removed()
    assert not dog.can_post() and dog.deadline is None


def test_watchdog_a_stale_ready_does_not_vouch_for_a_reload():
    dog = ReadyWatchdog()
    dog.mounted(0.0, 15)
    dog.loaded(1.0)
    dog.ready(2.0)
    dog.ready(3.0)  # a repeated ready: held for a document not loaded yet
    dog.loaded(30.0)
    assert not dog.can_post() and dog.tripped(45.0) and dog.deadline is None


def test_ready_watchdog_remounts_when_no_ready():
    run = mounted()
    assert run.deadline() == 1.0 + READY_TIMEOUT
    assert run.timer(1.0 + READY_TIMEOUT - 0.01) == []
    out = run.timer(1.0 + READY_TIMEOUT)
    assert error_codes(out) == ["ready-timeout"]
    assert_remounted(out, 2)
    assert run.session.embed_origin is None
    assert_rejected_only(run, ready(), "origin")


def test_ready_watchdog_uses_data_ready_timeout():
    run = mounted({"data-ready-timeout": "3"})
    assert run.deadline() == 4.0
    run.feed(IframeLoaded(), 2.0)
    assert run.deadline() == 5.0
    assert error_codes(run.timer(5.0)) == ["ready-timeout"]


def test_ready_before_load_is_healthy():
    run = mounted()
    assert only(run.feed(ready(), 2.0), PostAuth) == [auth(TOKEN)]
    assert run.feed(IframeLoaded(), 2.1) == []
    assert run.deadline() is None
    assert run.timer(100.0) == []
    assert run.state == "authenticated"


def test_ready_after_load_is_healthy():
    run = mounted()
    assert run.feed(IframeLoaded(), 2.0) == []
    assert run.deadline() == 2.0 + READY_TIMEOUT
    assert only(run.feed(ready(), 3.0), PostAuth) == [auth(TOKEN)]
    assert run.deadline() is None
    assert run.timer(100.0) == []
    assert run.state == "authenticated"


def test_hard_reload_without_ready_remounts_after_late_ready():
    # The first document says ready late (after its load, SPA style); then the iframe is
    # hard reloaded and the new document never says ready.
    run = mounted()
    run.feed(IframeLoaded(), 2.0)
    assert only(run.feed(ready(), 16.5), PostAuth) == [auth(TOKEN)]
    assert run.feed(IframeLoaded(), 20.0) == []
    assert run.deadline() == 20.0 + READY_TIMEOUT
    assert run.timer(34.9) == []
    out = run.timer(35.0)
    assert error_codes(out) == ["ready-timeout"]
    assert_remounted(out, 2)


def test_hard_reload_without_ready_remounts_after_early_ready():
    run = authenticated()  # ready before load
    assert run.feed(IframeLoaded(), 10.0) == []
    assert run.deadline() == 10.0 + READY_TIMEOUT
    assert_remounted(run.timer(25.0), 2)


def test_hard_reload_with_ready_before_its_load_is_healthy():
    run = authenticated()
    assert only(run.feed(ready(), 10.0), PostAuth) == [auth(TOKEN)]
    assert run.feed(IframeLoaded(), 10.1) == []
    assert run.deadline() is None
    assert run.timer(100.0) == []


def test_repeated_ready_long_before_a_hard_reload_does_not_vouch_for_it():
    # The document says ready twice (both answered); much later the iframe is hard
    # reloaded and the new document never says ready: the watchdog must still fire.
    run = authenticated({"data-ready-timeout": "3"})
    assert only(run.feed(ready(), 5.0), PostAuth) == [auth(TOKEN)]
    assert run.feed(IframeLoaded(), 20.0) == []
    assert run.deadline() == 23.0
    out = run.timer(23.0)
    assert error_codes(out) == ["ready-timeout"]
    assert_remounted(out, 2)


def test_hard_reload_without_ready_gets_no_token_from_a_refresh():
    run = refreshing(5.0)
    assert run.feed(IframeLoaded(), 5.5) == []  # hard reload, no ready yet
    out = run.feed(HttpAnswered(2, 200, refresh_json()), 6.0)
    assert not only(out, PostAuth)
    assert run.state == "mounted"
    assert only(run.feed(ready(), 7.0), PostAuth) == [auth(TOKEN2)]


def test_refresh_answer_after_reload_while_authenticated():
    # A ready lands while a refresh is in flight (state authenticated again), then the
    # iframe is hard reloaded: the refresh answer must not post, nor break the machine.
    run = mounted()
    run.feed(IframeLoaded(), 1.5)
    run.feed(token_refresh(), 2.0)
    assert only(run.feed(ready(), 2.5), PostAuth) == [auth(TOKEN)]
    assert run.state == "authenticated"
    run.feed(IframeLoaded(), 3.0)
    out = run.feed(HttpAnswered(2, 200, refresh_json()), 3.5)
    assert not only(out, PostAuth)
    assert run.state == "mounted"
    assert only(run.feed(ready(), 4.0), PostAuth) == [auth(TOKEN2)]
