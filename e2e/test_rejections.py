"""Messages the bridge must drop (host interface 3.3): from a foreign origin, from a frame
of the embed origin that is not the bridge's iframe, and malformed ones from the real
embed frame. Each is dropped without effect and reported as a bubbling
`meshes-bridge:rejected` event with exactly {reason, origin}, and logged redacted.

Proving that something did NOT happen: every test first makes something legitimate
happen after the forged messages (a resize through the stub embed) and waits for its
effect; only then does it check that the forged messages changed nothing.
"""

from __future__ import annotations

import json
from typing import Any

from playwright.sync_api import Frame

from e2e.harness import HostPage, after_frames, child_frame, iframe_tag

ATTACK_ID = "attack"
# A value that stands for anything secret-looking inside a forged message: it must not
# be echoed to the console or into an event.
CANARY = "mat_CANARY_forged_value_7f3a"

PERFECT = [
    {"type": "meshes:ready"},
    {"type": "meshes:token-refresh"},
    {"type": "meshes:resize", "height": 913},
]

# (what, message data, expected reason); posted in this order by the real embed frame.
MALFORMED: list[tuple[str, Any, str]] = [
    ("a string", "meshes:ready", "shape"),
    ("an array", ["meshes:ready"], "shape"),
    ("null", None, "shape"),
    ("a number", 42, "shape"),
    ("no type", {"height": 700}, "shape"),
    ("a non-string type", {"type": 7}, "shape"),
    ("an unknown meshes: type", {"type": "meshes:teleport", "token": CANARY}, "unknown-type"),
    ("an unknown other type", {"type": "acme:hello", "secret": CANARY}, "unknown-type"),
    ("resize, string height", {"type": "meshes:resize", "height": "700"}, "shape"),
    ("resize, negative height", {"type": "meshes:resize", "height": -5}, "shape"),
    ("resize, no height", {"type": "meshes:resize"}, "shape"),
    ("resize, boolean height", {"type": "meshes:resize", "height": True}, "shape"),
    ("resize, infinite height", {"type": "meshes:resize", "height": float("inf")}, "shape"),
    # What JSON cannot carry, as the loader's relay hands a message to Python.
    ("resize, NaN height", {"type": "meshes:resize", "height": float("nan")}, "shape"),
    ("resize, -Infinity height", {"type": "meshes:resize", "height": float("-inf")}, "shape"),
    ("resize, height past 2^53", {"type": "meshes:resize", "height": 2**60}, "shape"),
    (
        "resize, nested field",
        {"type": "meshes:resize", "height": 700, "extra": {"token": CANARY}},
        "shape",
    ),
    ("navigate, nested field", {"type": "meshes:navigate", "page": {"name": CANARY}}, "shape"),
    ("navigate, list field", {"type": "meshes:navigate", "pages": ["a", CANARY]}, "shape"),
    (
        "navigate, too many fields",
        {"type": "meshes:navigate", **{f"f{n}": n for n in range(20)}},
        "shape",
    ),
    (
        "ready, far too many fields",
        {"type": "meshes:ready", **{f"f{n}": n for n in range(100)}},
        "shape",
    ),
    (
        "navigate, huge (> 16 KiB)",
        {"type": "meshes:navigate", "page": CANARY + "x" * 20_000},
        "too-large",
    ),
]

# Records rejected events heard on document.body in the bubble phase.
BODY_LISTENER = """
() => {
  window.__bodyRejected = [];
  document.body.addEventListener("meshes-bridge:rejected", (e) => {
    window.__bodyRejected.push({
      phase: e.eventPhase, bubbles: e.bubbles, target: e.target.id,
      keys: Object.keys(e.detail).sort(), detail: JSON.parse(JSON.stringify(e.detail)),
    });
  });
}
"""


def _settled(
    host: HostPage,
    extra_body: str = "",
    script_attrs: dict | None = None,
    frames: tuple[str, ...] = (),
) -> int:
    """Open the page (`frames`: origins frame-src names besides the embed's), wait until it
    is authenticated and the embed's first resize is applied, install the body listener;
    returns how many events were seen so far."""
    host.open(extra_body=extra_body, script_attrs=script_attrs, frames=frames)
    host.wait_authenticated()
    host.wait_event("resize")
    host.page.evaluate(BODY_LISTENER)
    return len(host.events())


def _legit_resize(host: HostPage, height: int) -> None:
    """A resize through the real embed, applied: everything posted before it is handled."""
    host.stub(f"resize({height})")
    host.page.wait_for_function(
        "h => window.__meshesEvents.some(e => e.name === 'resize' && e.detail.height === h)",
        arg=height,
    )


def _rejection_log_lines(host: HostPage) -> list[str]:
    return [line for line in host.console if "rejected a message from" in line]


def _post_from(frame: Frame, messages: list[Any]) -> None:
    for message in messages:
        frame.evaluate("m => window.attack.post(m)", message)


def _body_rejected(host: HostPage) -> list[dict[str, Any]]:
    return host.page.evaluate("window.__bodyRejected")


def test_foreign_origin_is_rejected(host: HostPage) -> None:
    servers = host.servers
    # frame-src also names the hostile origin, so the attacker's frame may load.
    attacker = iframe_tag(servers.attack_url(), ATTACK_ID)
    before = _settled(host, extra_body=attacker, frames=(servers.hostile_url,))
    height = host.iframe_height()
    attack = child_frame(host.page, ATTACK_ID)

    _post_from(attack, PERFECT)
    host.wait_event("rejected", count=len(PERFECT))
    after_frames(host.page)
    assert host.iframe_height() == height
    _legit_resize(host, 611)

    new = host.events()[before:]
    rejected = [e for e in new if e["name"] == "rejected"]
    assert [e["detail"] for e in rejected] == [
        {"reason": "origin", "origin": servers.hostile_url}
    ] * len(PERFECT)
    assert all(e["bubbles"] and e["target"] == "embed-1" for e in rejected)
    # Nothing else happened: no ready, no auth, no refresh, no resize to the forged height.
    assert [e["name"] for e in new if e["name"] != "rejected"] == ["resize"]
    assert new[-1]["detail"] == {"height": 611}
    assert host.iframe_height() == "611px"
    assert host.container().get_attribute("data-state") == "authenticated"
    assert servers.backend.calls("refresh") == []
    assert len(servers.backend.calls("mint")) == 1
    # The attacker never got a token: not in its page, not in what it reported home.
    assert attack.evaluate("window.attack.received()") == []
    assert servers.hostile.tokens_received() == []
    # Heard on document.body in the bubble phase, with exactly {reason, origin}.
    body = _body_rejected(host)
    assert len(body) == len(PERFECT)
    for seen in body:
        assert seen["phase"] == 3 and seen["bubbles"] is True
        assert seen["keys"] == ["origin", "reason"]
    # Each rejection is logged, naming the origin and the reason only.
    lines = _rejection_log_lines(host)
    assert len(lines) == len(PERFECT)
    assert all(servers.hostile_url in line and ": origin" in line for line in lines)


def test_other_frame_of_the_embed_origin_is_rejected(host: HostPage) -> None:
    servers = host.servers
    before = _settled(host, extra_body=iframe_tag(servers.other_frame_url(), ATTACK_ID))
    height = host.iframe_height()
    other = child_frame(host.page, ATTACK_ID)

    _post_from(other, PERFECT)
    host.wait_event("rejected", count=len(PERFECT))
    after_frames(host.page)
    assert host.iframe_height() == height
    _legit_resize(host, 617)

    new = host.events()[before:]
    assert [e["detail"] for e in new if e["name"] == "rejected"] == [
        {"reason": "source", "origin": servers.embed_url}
    ] * len(PERFECT)
    assert [e["name"] for e in new if e["name"] != "rejected"] == ["resize"]
    assert host.iframe_height() == "617px"
    assert host.container().get_attribute("data-state") == "authenticated"
    assert servers.backend.calls("refresh") == []
    # The bridge never answered the wrong frame's ready with meshes:auth.
    assert other.evaluate("window.attack.received()") == []
    assert servers.hostile.messages("other-frame") == []
    assert servers.hostile.tokens_received() == []
    assert [s["keys"] for s in _body_rejected(host)] == [["origin", "reason"]] * len(PERFECT)
    lines = _rejection_log_lines(host)
    assert len(lines) == len(PERFECT)
    assert all(servers.embed_url in line and ": source" in line for line in lines)


def test_malformed_messages_from_the_embed_are_rejected(host: HostPage) -> None:
    servers = host.servers
    # data-debug on: even the most talkative logging must not echo a forged value.
    before = _settled(host, script_attrs={"data-debug": True})
    height = host.iframe_height()
    frame = host.frame()

    for _what, message, _reason in MALFORMED:
        frame.evaluate("m => window.stub.postRaw(m)", message)
    host.wait_event("rejected", count=len(MALFORMED))
    # A resize the bridge had accepted would be applied within a frame or two.
    after_frames(host.page)
    assert host.iframe_height() == height
    _legit_resize(host, 623)

    new = host.events()[before:]
    rejected = [e["detail"] for e in new if e["name"] == "rejected"]
    got = [(what, d["reason"]) for (what, _m, _r), d in zip(MALFORMED, rejected, strict=True)]
    assert got == [(what, reason) for what, _m, reason in MALFORMED]
    assert all(d == {"reason": d["reason"], "origin": servers.embed_url} for d in rejected)
    assert [e["name"] for e in new if e["name"] != "rejected"] == ["resize"]
    assert new[-1]["detail"] == {"height": 623}
    assert host.container().get_attribute("data-state") == "authenticated"
    assert servers.backend.calls("refresh") == []
    assert len(servers.backend.calls("mint")) == 1
    body = _body_rejected(host)
    assert len(body) == len(MALFORMED)
    assert all(s["phase"] == 3 and s["keys"] == ["origin", "reason"] for s in body)
    # Every rejection logged (the embed's own origin: loudly), and redacted: no forged
    # value reaches the console or an event.
    lines = _rejection_log_lines(host)
    assert len(lines) == len(MALFORMED)
    assert all(servers.embed_url in line for line in lines)
    assert not [line for line in host.console if CANARY in line]
    assert CANARY not in json.dumps(host.events())
    assert host.errors == []


# Every kind of flat value a message may carry, and how JSON-unfriendly text survives.
NAVIGATE_FIELDS: dict[str, Any] = {
    "page": "rules",
    "path": '/workspace/rules?q="x"&y=\\1',
    "title": "R\u00e8gles \u2713 \U0001f600 \u2028",
    "count": 3,
    "ratio": 0.25,
    "largest": 2**53 - 1,
    "negative": -42,
    "on": True,
    "off": False,
    "nothing": None,
}


def test_navigate_fields_arrive_exactly_as_sent(host: HostPage) -> None:
    before = _settled(host)
    message = {"type": "meshes:navigate", **NAVIGATE_FIELDS, "gone": "__undefined__"}
    # A field whose value is undefined is no field at all, as JSON.stringify has it.
    host.frame().evaluate("m => { m.gone = undefined; window.stub.postRaw(m); }", message)
    [navigate] = host.wait_event("navigate")
    assert navigate["detail"] == NAVIGATE_FIELDS
    assert [e["name"] for e in host.events()[before:]] == ["navigate"]
    assert host.errors == []
