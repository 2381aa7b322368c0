"""Containers (host interface 2): several on one page are independent, one added later is
mounted, one removed is torn down, and one with wrong attributes goes to `error` with a
`config` error naming the attribute while the good ones on the page keep working."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Request, expect

from e2e.harness import HostPage, after_frames
from tests.host.pages import REFRESH_PATH, SESSION_PATH, render_attrs

GOOD = {
    "data-meshes-embed": True,
    "data-session-url": SESSION_PATH,
    "data-refresh-url": REFRESH_PATH,
}

# Removes embed-1 in the same task as the bridge handles a meshes:resize of that height
# (this listener was added after the bridge's, so it runs right after it).
REMOVE_ON_RESIZE = """
(height) => window.addEventListener("message", (event) => {
  if (event.data && event.data.type === "meshes:resize" && event.data.height === height) {
    window.__resizesAtRemoval = window.__meshesEvents.filter(e => e.name === "resize").length;
    window.__removed = document.getElementById("embed-1");
    window.__removed.remove();
  }
})
"""


def _div(element_id: str, **overrides: Any) -> str:
    attrs = {**GOOD, "id": element_id}
    attrs.update({k.replace("_", "-"): v for k, v in overrides.items()})
    return f"<div{render_attrs(attrs)}></div>"


def _until(host: HostPage, condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait, an animation frame at a time, for a condition on the doubles' side."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        after_frames(host.page, 1)


def _bridge_problems(host: HostPage) -> list[str]:
    """Console errors/warnings and page errors: there must be none on a healthy page."""
    lines = [line for line in host.console if line.startswith(("error:", "warning:"))]
    return lines + host.errors


def test_two_containers_are_independent(host: HostPage) -> None:
    servers = host.servers
    host.open(containers=2)
    host.wait_authenticated(1)
    host.wait_authenticated(2)
    assert host.iframe(1).count() == 1 and host.iframe(2).count() == 1
    one, two = host.stub("status()", 1), host.stub("status()", 2)
    assert one["session_id"] != two["session_id"]
    assert one["last_token_valid"] is True and two["last_token_valid"] is True
    assert len(servers.backend.calls("mint")) == 2
    for index in (1, 2):
        names = [e["name"] for e in host.events(index=index)]
        assert names[:2] == ["ready", "authenticated"], names
    host.wait_event("resize", index=1)
    host.wait_event("resize", index=2)
    before_two = host.events(index=2)

    # A refresh in the first: its own session only; the second hears nothing of it.
    host.stub("askRefresh()", 1)
    host.wait_event("token-refreshed", index=1)
    host.frame(1).wait_for_function("() => window.stub.status().token_generation === 2")
    host.wait_state("authenticated", 1)
    [refresh] = servers.backend.calls("refresh")
    assert refresh.session_id == one["session_id"]
    # A resize and a malformed message from the first iframe: handled by container 1 alone.
    height_two = host.iframe_height(2)
    host.stub("resize(777)", 1)
    host.stub("postRaw({type: 'meshes:resize', height: 'tall'})", 1)
    [rejected] = host.wait_event("rejected")
    assert rejected["target"] == "embed-1"
    assert rejected["detail"] == {"reason": "shape", "origin": servers.embed_url}
    host.page.wait_for_function(
        "() => window.__meshesEvents.some(e => e.target === 'embed-1'"
        " && e.name === 'resize' && e.detail.height === 777)"
    )
    after_frames(host.page)
    assert host.iframe_height(1) == "777px"
    assert host.iframe_height(2) == height_two
    assert host.events(index=2) == before_two
    assert host.container(2).get_attribute("data-state") == "authenticated"
    status_two = host.stub("status()", 2)
    assert status_two["auth_count"] == 1 and status_two["token_generation"] == 1
    assert host.events("rejected") == [rejected]
    # The one rejection is logged once (not once per container); nothing else complained.
    problems = _bridge_problems(host)
    assert len(problems) == 1 and "rejected a message" in problems[0], problems


def test_a_container_added_later_is_mounted(host: HostPage) -> None:
    host.open()
    host.wait_authenticated(1)
    # An htmx swap / SPA route: a subtree holding a container arrives after boot.
    host.page.evaluate(
        "html => { const s = document.createElement('section');"
        " s.innerHTML = html; document.body.appendChild(s); }",
        _div("embed-2", data_min_height=520),
    )
    host.wait_authenticated(2)
    assert host.iframe(2).count() == 1
    one, two = host.stub("status()", 1), host.stub("status()", 2)
    assert one["session_id"] != two["session_id"]
    assert two["last_token_valid"] is True
    assert len(host.servers.backend.calls("mint")) == 2
    # The first container was not touched by the second's arrival.
    assert host.container(1).get_attribute("data-state") == "authenticated"
    assert one["auth_count"] == 1
    assert [e["name"] for e in host.events(index=2)][:2] == ["ready", "authenticated"]
    # One with a wrong attribute, added later: a config error, like one present at load.
    host.page.evaluate(
        "html => document.body.insertAdjacentHTML('beforeend', html)",
        _div("late-bad", data_max_height="ten"),
    )
    [error] = host.wait_event("error")
    assert error["target"] == "late-bad"
    assert error["detail"]["code"] == "config"
    assert "data-max-height" in error["detail"]["message"]
    expect(host.page.locator("#late-bad")).to_have_attribute("data-state", "error")
    assert len(host.servers.backend.calls("mint")) == 2
    problems = _bridge_problems(host)
    assert len(problems) == 1 and "config: data-max-height" in problems[0], problems


def test_a_container_removed_mid_refresh_is_torn_down(host: HostPage) -> None:
    servers = host.servers
    failed: list[Request] = []
    host.page.on("requestfailed", lambda r: failed.append(r))
    host.open()
    host.wait_authenticated()
    session_id = host.stub("status()")["session_id"]
    servers.backend.delay("refresh", 2)
    with host.page.expect_request(lambda r: r.url.endswith("/refresh")):
        host.stub("askRefresh()")
    # The refresh reached the backend (which holds it for 2 s); remove the container now.
    _until(host, lambda: len(servers.backend.calls("refresh")) == 1)
    assert host.container().get_attribute("data-state") == "refreshing"
    host.page.evaluate(
        "window.__removed = document.getElementById('embed-1'); window.__removed.remove()"
    )
    assert host.page.locator("iframe").count() == 0
    # Its pending refresh is aborted (the backend never gets to answer it) ...
    refresh_url = servers.url(REFRESH_PATH.replace("{session_id}", session_id))
    _until(host, lambda: len(failed) == 1)
    assert failed[0].url == refresh_url
    assert failed[0].failure == "net::ERR_ABORTED"
    # ... and a round trip later, nothing else has happened.
    host.page.evaluate("fetch('/favicon.ico', {cache: 'no-store'}).then(r => r.text())")
    after_frames(host.page)
    assert len(servers.backend.calls("mint")) == 1
    assert len(servers.backend.calls("refresh")) == 1
    bridge_posts = [r for r in host.host_requests() if r.method == "POST"]
    assert [r.url for r in bridge_posts] == [servers.url(SESSION_PATH), refresh_url]
    # No meshes:auth reached anything after the removal, and nothing complained.
    auths = [e for e in servers.transcript.entries() if (e.source, e.event) == ("embed", "auth")]
    assert len(auths) == 1
    assert _bridge_problems(host) == [], _bridge_problems(host)
    assert host.events("error") == []
    # Nothing touched the removed element since (its state is where the removal left it).
    assert host.page.evaluate("window.__removed.getAttribute('data-state')") == "refreshing"

    # The same element put back (a SPA caching its DOM) is a new container: mounted afresh.
    servers.backend.delay("refresh", 0)
    resizes = len(host.events("resize"))
    host.page.evaluate("document.body.prepend(window.__removed)")
    host.wait_authenticated()
    assert host.iframe().count() == 1
    assert host.stub("status()")["session_id"] != session_id
    assert len(servers.backend.calls("mint")) == 2

    # Removed again with a resize pending (the page drops it in the very task that handled
    # the message, before the next frame): that resize is never applied nor reported.
    host.wait_event("resize", count=resizes + 1)
    host.page.evaluate(REMOVE_ON_RESIZE, 901)
    host.stub("postRaw({type: 'meshes:resize', height: 901})")
    host.page.wait_for_function("() => window.__resizesAtRemoval !== undefined")
    after_frames(host.page, 3)
    assert len(host.events("resize")) == host.page.evaluate("window.__resizesAtRemoval")
    assert host.page.evaluate("window.__removed.querySelector('iframe')") is None
    assert _bridge_problems(host) == [], _bridge_problems(host)


BAD = {
    # element id: (attributes, the attribute the error must name)
    "no-session-url": ({"data-session-url": None}, "data-session-url"),
    "foreign-session-url": (
        {"data-session-url": "https://example.com/meshes/session"},
        "data-session-url",
    ),
    "protocol-relative-session-url": (
        {"data-session-url": "//example.com/meshes/session"},
        "data-session-url",
    ),
    "script-session-url": ({"data-session-url": "javascript:alert(1)"}, "data-session-url"),
    "foreign-refresh-url": (
        {"data-refresh-url": "https://example.com/meshes/session/{session_id}/refresh"},
        "data-refresh-url",
    ),
    "body-not-json": ({"data-session-body": "{launch_page: connections"}, "data-session-body"),
    "body-not-object": ({"data-session-body": '["connections"]'}, "data-session-body"),
    "min-not-number": ({"data-min-height": "tall"}, "data-min-height"),
    "max-below-min": ({"data-min-height": "600", "data-max-height": "500"}, "data-max-height"),
    "csrf-cookie-only": ({"data-csrf-cookie": "csrftoken"}, "data-csrf-cookie"),
    "csrf-header-only": ({"data-csrf-header": "X-CSRFToken"}, "data-csrf-header"),
}


def test_wrong_attributes_are_a_config_error_and_spare_the_good_container(
    host: HostPage,
) -> None:
    servers = host.servers
    bad_html = "\n".join(
        f"<div{render_attrs({**GOOD, 'id': name, **attrs})}></div>"
        for name, (attrs, _) in BAD.items()
    )
    # embed-1 is good, and so is "absolute" (same-origin absolute URLs).
    absolute = _div(
        "absolute",
        data_session_url=servers.url(SESSION_PATH),
        data_refresh_url=servers.url(REFRESH_PATH),
    )
    host.open(extra_body=bad_html + "\n" + absolute)
    host.wait_authenticated(1)
    expect(host.page.locator("#absolute")).to_have_attribute("data-state", "authenticated")
    for name, (_attrs, attribute) in BAD.items():
        container = host.page.locator(f"#{name}")
        assert container.get_attribute("data-state") == "error", name
        assert container.locator("iframe").count() == 0, name
        errors = [e for e in host.events("error") if e["target"] == name]
        assert len(errors) == 1, (name, errors)
        detail = errors[0]["detail"]
        assert set(detail) == {"code", "message"}
        assert detail["code"] == "config", (name, detail)
        assert attribute in detail["message"], (name, detail)
        assert errors[0]["bubbles"] is True
    # The good containers minted and work. The bad ones made no request from Python; the
    # loader's early mint (sent at page load, before any attribute is checked) went out
    # for those whose session URL, body and CSRF pair look sendable, and was thrown away:
    # such a session is never launched and its token reaches no one.
    early_only = {"foreign-refresh-url", "min-not-number", "max-below-min"}
    assert len(servers.backend.calls("mint")) == 2 + len(early_only)
    assert len([s for s in servers.fake.sessions() if s.launch_used]) == 2
    assert host.stub("status()")["last_token_valid"] is True
    host.stub("askRefresh()")
    host.wait_event("token-refreshed", index=1)
    host.wait_state("authenticated")
    assert [e["target"] for e in host.events("error")] == list(BAD)
    assert host.errors == []
