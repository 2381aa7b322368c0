"""The `timings` event (host interface 6): once per mount, at its first `meshes:auth`,
every step in order, the loader's steps on the first mount of a container found at boot
only, the POST to data-timings-url with the container's CSRF pair, and never a token or
a URL."""

import json

from meshes_bridge.core.actions import (
    AbortRequest,
    AdoptEarlyMint,
    Emit,
    Log,
    PostTimings,
    SetState,
    StartMint,
    StartRequest,
)
from meshes_bridge.core.config import parse_loader_options
from meshes_bridge.core.inputs import (
    BootTimes,
    EarlyMint,
    HttpAnswered,
    HttpFailed,
    IframeLoaded,
    IframeLost,
    Start,
    Teardown,
)
from meshes_bridge.core.limits import REPORT_TIMEOUT
from meshes_bridge.core.session import EmbedSession
from meshes_bridge.core.timings import RUNTIME, STEPS, Timings
from tests.core.helpers import (
    LAUNCH,
    LAUNCH2,
    PAGE,
    SESSION_URL,
    TOKEN,
    TOKEN2,
    attrs_with,
    authenticated,
    mounted,
    only,
    ready,
    refresh_json,
    scan_for_secrets,
    session_json,
    timings,
    token_refresh,
)

CSRF = {"data-csrf-cookie": "csrftoken", "data-csrf-header": "X-CSRFToken"}


def timings_of(actions):
    return [a.detail for a in only(actions, Emit) if a.name == "timings"]


def assert_in_order(detail):
    """Every key, and each stamp at or after the one before (None: a step skipped)."""
    assert sorted(detail) == sorted([RUNTIME] + list(STEPS)), detail
    last = None
    for step in STEPS:
        at = detail[step]
        if at is None:
            continue
        assert isinstance(at, float), (step, at)
        if last is not None:
            assert at >= last, (step, detail)
        last = at


def booted(extra=None, boot=None, timings_url=None, early=None, now=0.5):
    """A session started the way the adapter starts one found at boot (loader at 10 ms,
    runtime up at 300 ms by default), on MicroPython."""
    session = EmbedSession(None, False, "micropython", timings_url)
    if boot is None:
        boot = BootTimes(0.010, 0.300)
    out = session.handle(Start(attrs_with(extra or {}), PAGE, early, boot), now)
    return session, out


def test_the_first_auth_of_a_mount_reports_every_step_once():
    session, out = booted()
    assert only(out, StartMint) == [StartMint(1, SESSION_URL, {})], out
    session.handle(HttpAnswered(1, 200, session_json()), 0.75)
    session.handle(IframeLoaded(), 0.9)  # a document that loads before it says ready
    out = session.handle(ready(), 1.25)
    expected = timings(
        "micropython",
        loader=10.0,
        runtime_ready=300.0,
        mint_sent=500.0,
        mint_answered=750.0,
        iframe_created=750.0,
        iframe_loaded=900.0,
        ready=1250.0,
        auth=1250.0,
    )
    # After the auth and its `authenticated` event, so a host's listener sees that first.
    names = [a.name for a in only(out, Emit)]
    assert names == ["ready", "authenticated", "timings"], out
    assert timings_of(out) == [expected]
    assert_in_order(expected)
    # A later ready, a load, a refresh: the same mount, nothing more to report.
    for event, now in ((ready(), 2.0), (IframeLoaded(), 2.5), (token_refresh(), 3.0)):
        assert timings_of(session.handle(event, now)) == []
    assert timings_of(session.handle(HttpAnswered(2, 200, refresh_json()), 3.5)) == []


def test_a_ready_before_the_load_event_is_the_document_loaded():
    # The usual order (the embed's script says ready before images finish): the load event
    # that follows the auth changes nothing reported.
    run = mounted()
    out = run.feed(ready(), 2.0)
    (detail,) = timings_of(out)
    assert detail["iframe_loaded"] == detail["ready"] == detail["auth"] == 2000.0
    assert timings_of(run.feed(IframeLoaded(), 2.5)) == []


def test_a_remount_reports_again_without_the_loader_steps():
    session, out = booted()
    session.handle(HttpAnswered(1, 200, session_json()), 0.75)
    first = timings_of(session.handle(ready(), 1.0))
    assert first[0]["loader"] == 10.0 and first[0]["runtime_ready"] == 300.0
    # The session is gone (404 to a refresh): a fresh session, mounted afresh.
    session.handle(token_refresh(), 5.0)
    out = session.handle(HttpAnswered(2, 404, "{}"), 5.5)
    assert only(out, StartMint) == [StartMint(3, SESSION_URL, {})], out
    session.handle(HttpAnswered(3, 200, session_json(TOKEN2, launch=LAUNCH2)), 6.0)
    session.handle(IframeLoaded(), 6.5)
    out = session.handle(ready(), 7.0)
    expected = timings(
        "micropython",
        mint_sent=5500.0,
        mint_answered=6000.0,
        iframe_created=6000.0,
        iframe_loaded=6500.0,
        ready=7000.0,
        auth=7000.0,
    )
    assert timings_of(out) == [expected]
    assert_in_order(expected)


def test_a_retried_mint_counts_from_its_first_request():
    session, out = booted()
    out = session.handle(HttpAnswered(1, 503, "{}"), 0.6)
    deadline = session.next_deadline()
    assert deadline is not None and deadline > 0.6
    out = session.handle_timer(deadline)
    assert only(out, StartMint) == [StartMint(2, SESSION_URL, {})], out
    session.handle(HttpAnswered(2, 200, session_json()), deadline + 0.25)
    (detail,) = timings_of(session.handle(ready(), deadline + 0.5))
    assert detail["mint_sent"] == 500.0
    assert detail["mint_answered"] == round((deadline + 0.25) * 1000.0, 3)
    assert_in_order(detail)


def early_mint():
    href = PAGE + SESSION_URL
    return EarlyMint(SESSION_URL, href, "{}", None, None, None, href, None)


def test_the_loaders_early_mint_counts_from_when_the_bridge_took_it_over():
    # Sent while the runtime booted: what the host waited for it is from the runtime on.
    session, out = booted(early=early_mint(), now=0.4)
    assert only(out, AdoptEarlyMint) == [AdoptEarlyMint(1)], out
    session.handle(HttpAnswered(1, 200, session_json()), 0.41)
    (detail,) = timings_of(session.handle(ready(), 0.8))
    assert detail["runtime_ready"] == 300.0
    assert detail["mint_sent"] == 400.0 and detail["mint_answered"] == 410.0
    assert_in_order(detail)


def test_the_order_holds_even_when_the_loaders_stamps_come_late():
    # A loader's stamps after the bridge's own (which no page does, as one clock runs both):
    # still reported in order, each step at or after the one before.
    session, out = booted(boot=BootTimes(0.2, 0.9), now=0.5)
    session.handle(HttpAnswered(1, 200, session_json()), 0.75)
    (detail,) = timings_of(session.handle(ready(), 1.0))
    assert detail["runtime_ready"] == 900.0
    assert detail["mint_sent"] == 900.0 and detail["mint_answered"] == 900.0
    assert detail["auth"] == 1000.0
    assert_in_order(detail)


def test_a_container_found_later_has_no_loader_steps():
    session = EmbedSession(None, False, "pyodide")
    session.handle(Start(attrs_with({}), PAGE), 30.0)
    session.handle(HttpAnswered(1, 200, session_json()), 30.5)
    (detail,) = timings_of(session.handle(ready(), 31.0))
    assert detail["runtime"] == "pyodide"
    assert detail["loader"] is None and detail["runtime_ready"] is None
    assert detail["mint_sent"] == 30000.0


def test_timings_are_posted_to_data_timings_url_with_the_csrf_pair():
    session, out = booted(CSRF, timings_url="/monitoring/timings")
    session.handle(HttpAnswered(1, 200, session_json()), 0.75)
    out = session.handle(ready(), 1.0)
    (detail,) = timings_of(out)
    posts = only(out, PostTimings)
    assert posts == [PostTimings(2, "/monitoring/timings", detail, "csrftoken", "X-CSRFToken")]
    assert out.index(posts[0]) > out.index(only(out, Emit)[-1])  # after the event
    # Once per authentication: not again for a later auth of the same mount.
    assert only(session.handle(ready(), 2.0), PostTimings) == []
    # Without the attribute, no POST; without a CSRF pair, none sent.
    session, out = booted()
    session.handle(HttpAnswered(1, 200, session_json()), 0.75)
    assert only(session.handle(ready(), 1.0), PostTimings) == []
    session, out = booted(timings_url="/t")
    session.handle(HttpAnswered(1, 200, session_json()), 0.75)
    assert only(session.handle(ready(), 1.0), PostTimings) == [PostTimings(2, "/t", detail)]


def reported(timings_url="/t"):
    """A session authenticated with data-timings-url, its report out; and the report."""
    session, _ = booted(timings_url=timings_url)
    session.handle(HttpAnswered(1, 200, session_json()), 0.75)
    (post,) = only(session.handle(ready(), 1.0), PostTimings)
    return session, post


def warnings(out):
    return [a.text for a in only(out, Log) if a.level == "warn"]


def test_a_report_answered_2xx_says_nothing_and_anything_else_one_line():
    session, post = reported()
    assert session.next_deadline() == 1.0 + REPORT_TIMEOUT
    assert session.handle(HttpAnswered(post.request_id, 204, ""), 1.1) == []
    assert session.next_deadline() != 1.0 + REPORT_TIMEOUT  # its timeout is gone
    session, post = reported()
    out = session.handle(HttpAnswered(post.request_id, 500, "<h1>secret page</h1>"), 1.1)
    assert warnings(out) == ["timings not posted to data-timings-url: HTTP 500"]
    assert only(out, SetState) == [] and only(out, Emit) == []  # changes nothing
    assert session.state == "authenticated"
    # Never retried: no request later, at any time.
    assert only(session.handle_timer(1000.0), StartRequest) == []
    session, post = reported()
    out = session.handle(HttpFailed(post.request_id, "network error"), 1.1)
    assert warnings(out) == ["timings not posted to data-timings-url: network error"]


def test_a_report_that_hangs_is_aborted_after_its_timeout():
    session, post = reported()
    assert session.next_deadline() == 1.0 + REPORT_TIMEOUT
    out = session.handle_timer(1.0 + REPORT_TIMEOUT)
    assert AbortRequest(post.request_id) in out
    assert warnings(out) == ["timings not posted to data-timings-url: timed out"]
    assert session.state == "authenticated"
    # A late answer to it is not news.
    assert session.handle(HttpAnswered(post.request_id, 500, ""), 12.0) == []


def test_reports_out_are_left_to_a_remount_and_aborted_at_teardown():
    session, first = reported()
    out = session.handle(IframeLost(), 1.1)  # a remount: the report is about a mount that did
    assert AbortRequest(first.request_id) not in out
    # The new mount authenticates within the first report's timeout: both are out.
    (mint,) = only(out, StartMint)
    session.handle(HttpAnswered(mint.request_id, 200, session_json(launch=LAUNCH2)), 1.2)
    (second,) = only(session.handle(ready(), 1.5), PostTimings)
    assert second.request_id > first.request_id
    assert session.next_deadline() == 1.0 + REPORT_TIMEOUT  # the older one's, first
    out = session.handle_timer(1.0 + REPORT_TIMEOUT)
    assert only(out, AbortRequest) == [AbortRequest(first.request_id)]
    assert session.next_deadline() == 1.5 + REPORT_TIMEOUT
    out = session.handle(Teardown(), 12.0)
    assert AbortRequest(second.request_id) in out
    assert session.next_deadline() is None


def test_a_container_given_up_aborts_its_reports():
    session, post = reported()
    session.handle(IframeLost(), 1.1)
    # The fresh mint is refused for good (a 403): the container gives up.
    out = session.handle(HttpAnswered(3, 403, "{}"), 1.2)
    assert session.state == "error"
    assert AbortRequest(post.request_id) in out
    assert session.next_deadline() is None


def test_no_token_or_url_in_the_timings():
    run = authenticated()
    (detail,) = timings_of(run.actions)
    reports = [a for a in only(run.actions, Emit) if a.name == "timings"]
    scan_for_secrets(reports, [TOKEN, LAUNCH, "L4UNCH", SESSION_URL, "sess_"])
    text = json.dumps(detail)
    assert "http" not in text and "/" not in text, text
    for key in detail:
        assert key == RUNTIME or detail[key] is None or isinstance(detail[key], float)


def test_no_timings_for_a_mount_that_never_authenticates():
    session, out = booted()
    out = session.handle(HttpAnswered(1, 500, "{}"), 0.75)
    assert timings_of(out) == []
    session, out = booted({"data-min-height": "tall"})
    assert timings_of(out) == [] and session.state == "error"


def test_timings_recorder():
    recorder = Timings("micropython")
    recorder.boot(None, 0.25)
    recorder.mark("mint_sent", 0.5)
    recorder.mark("mint_sent", 0.7)  # the first time counts
    detail = recorder.authenticated(1.0)
    assert detail == timings("micropython", runtime_ready=250.0, mint_sent=500.0, auth=1000.0)
    assert recorder.authenticated(2.0) is None
    recorder.mark("ready", 3.0)  # reported already: ignored until the next mount
    recorder.mount_again()
    recorder.mark("mint_sent", 4.0)
    assert recorder.authenticated(5.0) == timings("micropython", mint_sent=4000.0, auth=5000.0)
    # Whole microseconds: no float noise from the seconds-to-milliseconds step.
    recorder.mount_again()
    assert recorder.authenticated(0.3) == timings("micropython", auth=300.0)


def test_data_timings_url_must_be_on_the_page_origin():
    page = "https://host.example/app/page?x=1"
    for good in ("/monitoring/timings", "timings", "https://host.example/t", "//host.example/t"):
        options = parse_loader_options({"timings_url": good, "page": page})
        assert options.timings_url == good and options.warnings == [], good
    options = parse_loader_options({"timings_url": "  /t  ", "page": page})
    assert options.timings_url == "/t"
    for bad in (
        "https://collector.example/t",
        "//collector.example/t",
        "http://host.example/t",
        "javascript:alert(1)",
        "/t with space",
    ):
        options = parse_loader_options({"timings_url": bad, "page": page})
        assert options.timings_url is None, bad
        assert len(options.warnings) == 1 and "data-timings-url" in options.warnings[0], bad
    # No page to compare with: refused too, never posted blind.
    options = parse_loader_options({"timings_url": "/t"})
    assert options.timings_url is None and len(options.warnings) == 1
    for absent in (None, "", "  ", 3):
        options = parse_loader_options({"timings_url": absent, "page": page})
        assert options.timings_url is None and options.warnings == [], absent
