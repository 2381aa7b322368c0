"""Navigation (host interface 3.8): a `meshes:navigate` from the embed becomes a bubbling
`meshes-bridge:navigate` on the container whose detail is the message's fields except
`type`."""

from __future__ import annotations

from e2e.harness import HostPage


def _settled(host: HostPage) -> None:
    host.open()
    host.wait_authenticated()


def test_clicking_a_link_in_the_embed(host: HostPage) -> None:
    _settled(host)
    host.frame().locator("nav a[data-page='connections']").click()
    [event] = host.wait_event("navigate")
    assert event["detail"] == {"page": "connections", "path": "/workspace/connections"}
    assert event["target"] == "embed-1" and event["bubbles"] is True
    host.frame().locator("nav a[data-page='events']").click()
    events = host.wait_event("navigate", count=2)
    assert events[1]["detail"] == {"page": "events", "path": "/workspace/events"}
    assert host.stub("status()")["navigations"] == 2
    # Navigating inside the embed is not a reload: still one session, still authenticated.
    assert host.container().get_attribute("data-state") == "authenticated"
    assert len(host.servers.backend.calls("mint")) == 1
    assert host.events("rejected") == [] and host.errors == []


def test_navigate_from_the_embed_script_and_every_field_but_type(host: HostPage) -> None:
    _settled(host)
    host.stub("navigate('rules')")
    [event] = host.wait_event("navigate")
    assert event["detail"] == {"page": "rules", "path": "/workspace/rules"}
    # Whatever flat fields the embed sends come through, minus `type`.
    host.stub(
        "postRaw({type: 'meshes:navigate', page: 'events', path: '/workspace/events',"
        " title: 'Events', count: 3, fraction: 0.5, live: true, filter: null})"
    )
    events = host.wait_event("navigate", count=2)
    assert events[1]["detail"] == {
        "page": "events",
        "path": "/workspace/events",
        "title": "Events",
        "count": 3,
        "fraction": 0.5,
        "live": True,
        "filter": None,
    }
    host.stub("postRaw({type: 'meshes:navigate'})")
    events = host.wait_event("navigate", count=3)
    assert events[2]["detail"] == {}
    assert host.events("rejected") == [] and host.errors == []
