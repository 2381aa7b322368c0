"""DOM changes a host framework makes under the bridge's feet: an htmx swap or a morph
that drops the iframe, an element that becomes a container in place, and a flood of huge
messages from a stranger."""

from __future__ import annotations

from e2e.harness import HostPage, child_frame, iframe_tag, round_trip

BIG = 8 * 1024 * 1024  # chars: serialising this first would stall MicroPython for minutes


def test_a_dropped_iframe_is_replaced_by_a_fresh_session(host: HostPage) -> None:
    host.open()
    host.wait_authenticated()
    first = host.stub("status()")["session_id"]
    host.page.evaluate("document.querySelector('#embed-1 iframe').remove()")
    host.page.wait_for_function("() => document.querySelectorAll('#embed-1 iframe').length === 1")
    host.wait_authenticated()
    status = host.stub("status()")
    assert status["authenticated"] and status["last_token_valid"]
    assert status["session_id"] != first
    assert len(host.servers.backend.calls("mint")) == 2


def test_an_element_that_becomes_a_container_is_mounted(host: HostPage) -> None:
    host.open(
        extra_body='<div id="embed-2" data-session-url="/meshes/session"'
        ' data-refresh-url="/meshes/session/{session_id}/refresh"></div>'
    )
    host.wait_authenticated()
    assert host.page.locator("#embed-2 iframe").count() == 0
    host.page.evaluate("document.querySelector('#embed-2').setAttribute('data-meshes-embed', '')")
    host.wait_authenticated(index=2)
    assert len(host.servers.backend.calls("mint")) == 2


def test_huge_messages_are_refused_without_reading_them(host: HostPage) -> None:
    servers = host.servers
    # frame-src also names the hostile origin, so the attacker's frame may load.
    host.open(extra_body=iframe_tag(servers.attack_url(), "attacker"), frames=[servers.hostile_url])
    host.wait_authenticated()
    attacker = child_frame(host.page, "attacker")
    attacker.evaluate(f"window.attack.post('x'.repeat({BIG}))")
    attacker.evaluate(f"window.attack.post({{type: 'meshes:ready', pad: 'x'.repeat({BIG})}})")
    host.frame().evaluate(f"window.stub.postRaw('x'.repeat({BIG}))")
    host.frame().evaluate(
        f"window.stub.postRaw({{type: 'meshes:resize', height: 700, pad: 'x'.repeat({BIG})}})"
    )
    rejected = host.wait_event("rejected", count=4)
    reasons = sorted(e["detail"]["reason"] for e in rejected)
    assert reasons == ["origin", "origin", "too-large", "too-large"]
    round_trip(host, 640)  # the bridge still answers, and nothing else changed
    assert host.iframe_height() == "640px"
    assert host.page.get_attribute("#embed-1", "data-state") == "authenticated"
