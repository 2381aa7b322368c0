"""Timings (host interface 6): each container dispatches `meshes-bridge:timings` when it
first authenticates and again after every remount, every step in order and plausible
(within the page's lifetime, after the delays the host injected), the loader's steps only
for a container found at boot; `on_timings` gets the same; `data-timings-url` gets one POST
per authentication, with the CSRF header, on the page's own origin only; never a token or
a URL in any of it."""

from __future__ import annotations

import json
from typing import Any

from e2e.harness import STEP_TIMEOUT_MS, HostPage, embed_authenticated, round_trip
from meshes_bridge.core.timings import RUNTIME, STEPS
from tests.host.origin import TimingsPost
from tests.host.pages import TIMINGS_PATH
from tests.support import wait_for

MINT_DELAY_S = 0.4
CSRF_ATTRS = {"data-csrf-cookie": "csrftoken", "data-csrf-header": "X-CSRFToken"}
# The hook writes what it got into window.hookCalls (created by a file: no inline script
# under the page's policy).
RECORDER_JS = "window.hookCalls = [];\n"
HOOKS = """
import json

import js


def on_timings(embed, timings):
    js.window.hookCalls.push(json.dumps([embed.session_id, str(embed.element.id), timings]))
"""


def _open(
    host: HostPage,
    hooks: bool = False,
    timings_url: str | None = TIMINGS_PATH,
    container_attrs: dict[str, Any] | None = None,
) -> None:
    script: dict[str, Any] = {"data-timings-url": timings_url}
    extra = ""
    if hooks:
        host.servers.backend.add_file("/hooks/timings.py", HOOKS, "text/plain")
        script["data-hooks"] = "/hooks/timings.py"
        extra = host.script_tag("hook-calls.js", RECORDER_JS)
    host.open(container_attrs=container_attrs, script_attrs=script, extra_body=extra)


def _check(detail: dict[str, Any], runtime: str, page_now: float) -> None:
    """Every key; each stamp a number of ms since navigation start, at or after the one
    before, none later than `page_now`; no token, no URL."""
    assert sorted(detail) == sorted([RUNTIME, *STEPS]), detail
    assert detail[RUNTIME] == runtime
    last = 0.0
    for step in STEPS:
        at = detail[step]
        if at is None:
            continue
        assert isinstance(at, int | float), (step, detail)
        assert last <= at <= page_now, (step, detail, page_now)
        last = at
    text = json.dumps(detail)
    assert "http" not in text and "/" not in text, text


def _page_now(host: HostPage) -> float:
    return float(host.page.evaluate("performance.now()"))


def _posts(host: HostPage, count: int) -> list[TimingsPost]:
    backend = host.servers.backend
    return wait_for(
        lambda: len(backend.timings_posts()) >= count and backend.timings_posts(),
        what=f"{count} timings POST(s)",
    )


def _no_token_in(host: HostPage, *texts: str) -> None:
    tokens = host.servers.fake.issued_tokens()
    assert tokens
    for text in texts:
        assert not [t for t in tokens if t in text], text


def test_the_first_authentication_reports_every_step(host: HostPage) -> None:
    backend = host.servers.backend
    backend.csrf = True
    backend.delay("mint", MINT_DELAY_S)
    _open(host, hooks=True, container_attrs=CSRF_ATTRS)
    host.wait_authenticated()
    (event,) = host.wait_event("timings")
    detail = event["detail"]
    _check(detail, host.runtime, _page_now(host))
    assert None not in detail.values(), detail  # found at boot: every step happened
    # The host held the mint answer back: it cannot have come sooner after the loader
    # began (the loader sent it at the earliest then).
    assert detail["mint_answered"] - detail["loader"] >= MINT_DELAY_S * 1000, detail
    # Dispatched after the auth's own event, on the container.
    names = [e["name"] for e in host.events()]
    assert names.index("authenticated") < names.index("timings")
    assert event["target"] == "embed-1" and event["bubbles"] is True

    # The hook got the same.
    host.page.wait_for_function("window.hookCalls.length >= 1", timeout=STEP_TIMEOUT_MS)
    calls = [json.loads(c) for c in host.page.evaluate("window.hookCalls")]
    session_id = host.stub("status()")["session_id"]
    assert calls == [[session_id, "embed-1", detail]]

    # One POST to data-timings-url, the same object, with the container's CSRF header.
    (post,) = _posts(host, 1)
    assert json.loads(post.body) == detail
    assert post.headers["content-type"] == "application/json"
    cookie = next(c["value"] for c in host.page.context.cookies() if c["name"] == "csrftoken")
    assert post.headers["x-csrftoken"] == cookie
    assert post.status == 204
    _no_token_in(host, json.dumps(detail), post.body, json.dumps(calls))


def test_a_remount_reports_again_without_the_loader_steps(host: HostPage) -> None:
    backend = host.servers.backend
    _open(host)
    host.wait_authenticated()
    (first,) = host.wait_event("timings")
    _posts(host, 1)

    # The session is gone (404 to a refresh): a fresh session, its mint held back.
    backend.delay("mint", MINT_DELAY_S)
    backend.fail_next("refresh", 404)
    host.stub("askRefresh()")
    events = host.wait_event("timings", count=2, timeout=30_000)
    embed_authenticated(host, 1, 1)
    second = events[1]["detail"]
    _check(second, host.runtime, _page_now(host))
    assert second["loader"] is None and second["runtime_ready"] is None, second
    assert None not in [second[step] for step in STEPS[2:]], second
    assert second["mint_sent"] >= first["detail"]["auth"]
    # The bridge's own mint this time: sent, then answered no sooner than the delay.
    assert second["mint_answered"] - second["mint_sent"] >= MINT_DELAY_S * 1000, second

    posts = _posts(host, 2)
    assert [json.loads(p.body) for p in posts] == [first["detail"], second]
    # Later auths of the same mount report nothing more.
    backend.delay("mint", 0)
    host.stub("askRefresh()")
    embed_authenticated(host, 2, 2)
    round_trip(host, 640)
    assert len(host.events("timings")) == 2
    assert len(backend.timings_posts()) == 2
    assert host.events("error") == []


def test_a_document_that_says_ready_after_its_load(host: HostPage) -> None:
    host.servers.fake.ready_delay_ms = 800  # like a SPA: ready well after `load`
    _open(host, timings_url=None)
    host.wait_authenticated()
    (event,) = host.wait_event("timings")
    detail = event["detail"]
    _check(detail, host.runtime, _page_now(host))
    # The load event is its own step then; the ready came the delay after it (less the
    # moment between the embed's own `load` and the iframe's in the page).
    assert detail["ready"] - detail["iframe_loaded"] >= 700, detail
    assert detail["iframe_loaded"] > detail["iframe_created"], detail
    assert host.servers.backend.timings_posts() == []


def test_a_container_added_later_has_no_loader_steps(host: HostPage) -> None:
    _open(host)
    host.wait_authenticated()
    (first,) = host.wait_event("timings")
    host.page.evaluate(
        """() => document.body.insertAdjacentHTML("beforeend",
        '<div id="embed-2" data-meshes-embed data-session-url="/meshes/session"'
        + ' data-refresh-url="/meshes/session/{session_id}/refresh"></div>')"""
    )
    host.wait_authenticated(index=2)
    (later,) = host.wait_event("timings", index=2)
    detail = later["detail"]
    _check(detail, host.runtime, _page_now(host))
    assert detail["loader"] is None and detail["runtime_ready"] is None, detail
    assert detail["mint_sent"] >= first["detail"]["auth"]
    posts = _posts(host, 2)
    assert [json.loads(p.body) for p in posts] == [first["detail"], detail]


def test_a_timings_url_on_another_origin_is_refused_at_boot(host: HostPage) -> None:
    elsewhere = host.servers.embed_url + TIMINGS_PATH
    _open(host, timings_url=elsewhere)
    host.wait_authenticated()
    host.wait_event("timings")  # the event and the hook still work
    line = "data-timings-url: URL must be on the page's own origin; timings are not posted"
    host.wait_console(line)
    round_trip(host, 600)
    assert not [r for r in host.host_requests() if TIMINGS_PATH in r.url]
    assert host.events("error") == []


def test_a_failing_timings_url_changes_nothing(host: HostPage) -> None:
    backend = host.servers.backend
    backend.timings_status = 500
    _open(host)
    host.wait_authenticated()
    host.wait_event("timings")
    (post,) = _posts(host, 1)
    assert post.status == 500
    line = "timings not posted to data-timings-url: HTTP 500"
    host.wait_console(line)
    # Not retried, no error, still authenticated.
    round_trip(host, 600)
    assert len(backend.timings_posts()) == 1
    assert host.events("error") == []
    assert host.container().get_attribute("data-state") == "authenticated"
