"""What the host sees (host interface section 4): the container's `data-state` through a
lifecycle, and every `meshes-bridge:*` event with its documented detail, dispatched on the
container and bubbling (heard by a listener on <body> in the bubble phase), no token in
any detail.
"""

from __future__ import annotations

import json
from typing import Any

from playwright.sync_api import expect

from e2e.harness import (
    EVENT_NAMES,
    STEP_TIMEOUT_MS,
    HostPage,
    body_events,
    embed_authenticated,
    open_authenticated,
    record_lifecycle,
    states,
)
from meshes_bridge.core.timings import STEPS
from meshes_bridge.core.wire import FALLBACK_ATTRIBUTE
from meshes_bridge.server.render import FALLBACK_TEXT, embed_html
from tests.host.pages import LOADER_URL, REFRESH_PATH, SESSION_PATH, STATIC_PREFIX

# The documented detail of each event: its exact keys.
DETAIL_KEYS: dict[str, list[str]] = {
    "ready": [],
    "authenticated": [],
    "navigate": ["page", "path"],  # the stub's navigate message: {type, page, path}
    "resize": ["height"],
    "token-refreshed": ["expires_at"],
    "token-expired": [],
    "rejected": ["origin", "reason"],
    "error": ["code", "message"],
    "timings": sorted(["runtime", *STEPS]),
}
BOOT = ["booting", "minting", "mounted", "authenticated"]


def _check_heard_on_body(host: HostPage, names: set[str]) -> list[dict[str, Any]]:
    """Every event the document heard was also heard on <body>, bubbling up from the
    container, with its documented detail keys and no token in it; `names` were among them."""
    # One snapshot of both records: an event may arrive between two reads.
    heard, on_document = host.page.evaluate("[window.__bodyEvents, window.__meshesEvents]")
    assert [e["name"] for e in heard] == [e["name"] for e in on_document]
    assert heard == body_events(host)[: len(heard)]
    assert names <= {e["name"] for e in heard}, names - {e["name"] for e in heard}
    for event in heard:
        assert event["bubbles"] is True, event
        assert event["bubblePhase"] is True, event
        assert event["target"] == "embed-1", event
        assert event["keys"] == DETAIL_KEYS[event["name"]], event
    text = json.dumps(heard)
    assert not [t for t in host.servers.fake.issued_tokens() if t in text]
    return heard


def _wait_page_clock(host: HostPage, ms: int) -> None:
    """Return once `ms` more milliseconds passed on the page's own clock (a condition)."""
    start = host.page.evaluate("performance.now()")
    host.page.wait_for_function("t => performance.now() > t", arg=start + ms, timeout=15_000)


def test_the_happy_path_states(host: HostPage) -> None:
    open_authenticated(host)
    assert states(host) == BOOT
    assert host.container().get_attribute("data-state") == "authenticated"
    heard = _check_heard_on_body(host, {"ready", "authenticated"})
    firsts = [e["name"] for e in heard if e["name"] in ("ready", "authenticated")]
    assert firsts == ["ready", "authenticated"]
    assert [e["detail"] for e in heard if e["name"] in ("ready", "authenticated")] == [{}, {}]


def test_every_event_with_its_detail_and_the_states_on_the_way(host: HostPage) -> None:
    first = open_authenticated(host)
    servers = host.servers

    host.stub("resize(700)")
    resized = host.page.wait_for_function(
        "() => window.__meshesEvents.some(e => e.name === 'resize' && e.detail.height === 700)",
        timeout=STEP_TIMEOUT_MS,
    )
    assert resized
    assert host.iframe_height() == "700px"

    host.stub("navigate('connections')")
    (navigated,) = host.wait_event("navigate")
    assert navigated["detail"] == {"page": "connections", "path": "/workspace/connections"}

    host.stub("postRaw({type: 'meshes:teleport'})")
    (rejected,) = host.wait_event("rejected")
    assert rejected["detail"] == {"reason": "unknown-type", "origin": servers.embed_url}

    host.stub("askRefresh()")
    (refreshed,) = host.wait_event("token-refreshed")
    embed_authenticated(host, 2, 2)
    answer = servers.transcript.find(lambda e: e.event == "refreshed")
    assert refreshed["detail"] == {"expires_at": answer[0].fields["expires_at"]}

    host.stub("expire()")
    (expired,) = host.wait_event("token-expired")
    assert expired["detail"] == {}
    embed_authenticated(host, 3, 3)
    host.wait_authenticated()

    assert states(host) == [
        *BOOT,
        "refreshing",
        "authenticated",
        "expired",
        "authenticated",
    ]
    heard = _check_heard_on_body(host, set(DETAIL_KEYS) - {"error"})
    assert [e["detail"] for e in heard if e["name"] == "resize"][-1] == {"height": 700}
    assert host.events("error") == []
    assert host.stub("status()")["session_id"] == first["session_id"]


def test_a_refused_mint_is_an_error(host: HostPage) -> None:
    backend = host.servers.backend
    backend.fail_next("mint", 403)
    record_lifecycle(host)
    host.open()
    host.wait_state("error")
    (error,) = host.wait_event("error")
    assert error["detail"]["code"] == "mint-failed"
    assert isinstance(error["detail"]["message"], str) and error["detail"]["message"]

    # A 403 is final: past the first backoff step, still one mint and no iframe.
    _wait_page_clock(host, 1500)
    assert [c.status for c in backend.calls("mint")] == [403]
    assert host.iframe().count() == 0
    assert states(host) == ["booting", "minting", "error"]
    _check_heard_on_body(host, {"error"})
    assert len(host.events("error")) == 1
    assert set(EVENT_NAMES) == set(DETAIL_KEYS)


def test_a_5xx_mint_is_retried(host: HostPage) -> None:
    backend = host.servers.backend
    backend.fail_next("mint", 500, count=2)
    open_authenticated(host)

    calls = backend.calls("mint")
    assert [c.status for c in calls] == [500, 500, 200]
    assert calls[1].time - calls[0].time >= 0.45
    assert calls[2].time - calls[1].time >= 0.95
    # The retries stay in `minting`: no error on the way.
    assert states(host) == BOOT
    assert host.events("error") == []
    assert host.iframe().count() == 1


def test_a_refused_origin_names_the_setting_in_the_console(host: HostPage) -> None:
    # The backend allows another origin only: this page's fetch is refused as a foreign
    # one would be (the harness's reset puts the settings back).
    service = host.servers.backend.bridge.service
    service.settings = service.settings.with_changes(allowed_origins=("https://app.example",))
    host.open()
    host.wait_state("error")
    (error,) = host.wait_event("error")
    page_origin = host.page.evaluate("location.origin")
    expected = (
        "session endpoint answered HTTP 403 origin-not-allowed: this page's origin "
        f"{page_origin} is not in MESHES_ALLOWED_ORIGINS"
    )
    assert error["detail"]["message"].startswith(expected), error
    assert [line for line in host.console if expected in line], host.console


def _template_helper_page(host: HostPage, loader_url: str) -> None:
    """A page whose container is the template helpers' own HTML."""
    container = embed_html(
        session_url=SESSION_PATH,
        refresh_url=REFRESH_PATH,
        loader_url=loader_url,
        element_id="embed-1",
        include_script=False,
    )
    host.open(containers=0, extra_body=container, script_attrs={"src": loader_url})


def test_a_loader_that_never_runs_leaves_the_fallback_visible(host: HostPage) -> None:
    _template_helper_page(host, STATIC_PREFIX + "missing/loader.js")  # answers 404
    fallback = host.container().locator(f"[{FALLBACK_ATTRIBUTE}]")
    expect(fallback).to_have_text(FALLBACK_TEXT)
    _wait_page_clock(host, 1500)
    expect(fallback).to_be_visible()
    expect(host.container()).to_have_attribute("data-state", "booting")


def test_the_fallback_goes_once_the_embed_is_mounted(host: HostPage) -> None:
    _template_helper_page(host, LOADER_URL)
    host.wait_authenticated()
    expect(host.container().locator(f"[{FALLBACK_ATTRIBUTE}]")).to_have_count(0)
    assert host.iframe().count() == 1
