"""Resizing (host interface 3.7): `meshes:resize {height}` sets the iframe's `style.height`
to the height clamped to [data-min-height (default 480), data-max-height], rounded up to
whole CSS px; `meshes-bridge:resize` carries the height applied; a burst is applied at most
once per animation frame and the last height wins."""

from __future__ import annotations

from e2e.harness import HostPage

BURST = 120
# Counts the page's animation frames while a burst is handled.
FRAME_COUNTER = """
() => {
  window.__frames = 0;
  window.__countFrames = true;
  const tick = () => {
    if (!window.__countFrames) return;
    window.__frames += 1;
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}
"""


def _settled(host: HostPage, container_attrs: dict | None = None) -> None:
    """Open the page; return once authenticated with the embed's own first resize applied."""
    host.open(container_attrs=container_attrs)
    host.wait_authenticated()
    host.wait_event("resize")


def _applied(host: HostPage, height: int, before: int) -> None:
    """Wait until a `meshes-bridge:resize` after the first `before` ones reports `height`
    and is the latest one; check the iframe."""
    host.page.wait_for_function(
        "([h, n]) => { const r = window.__meshesEvents.filter(e => e.name === 'resize');"
        " return r.length > n && r[r.length - 1].detail.height === h; }",
        arg=[height, before],
    )
    assert host.iframe_height() == f"{height}px"
    assert host.events("resize")[-1]["detail"] == {"height": height}


def _resize(host: HostPage, asked: float, applied: int, raw: bool = False) -> None:
    before = len(host.events("resize"))
    if raw:
        # The embed posts the message only (its content keeps its size): fractional heights.
        host.stub(f"postRaw({{type: 'meshes:resize', height: {asked!r}}})")
    else:
        host.stub(f"resize({asked!r})")
    _applied(host, applied, before)


def test_heights_are_clamped_to_the_default_minimum_and_the_maximum(host: HostPage) -> None:
    _settled(host, {"data-max-height": 1200})
    _resize(host, 650, 650)  # in between: exact
    _resize(host, 100, 480)  # below the default minimum
    _resize(host, 5000, 1200)  # above data-max-height
    _resize(host, 1200, 1200)  # the bounds themselves
    _resize(host, 481, 481)
    _resize(host, 650.2, 651, raw=True)  # fractional: rounded up, never clipping content
    _resize(host, 700.9, 701, raw=True)
    _resize(host, 0, 480, raw=True)
    _resize(host, 1199.5, 1200, raw=True)
    _resize(host, 1200.5, 1200, raw=True)
    # Every event is a height the bridge applied, within the bounds.
    for event in host.events("resize"):
        assert 480 <= event["detail"]["height"] <= 1200
    assert host.container().get_attribute("data-state") == "authenticated"
    assert host.errors == []


def test_a_custom_minimum_and_no_maximum(host: HostPage) -> None:
    _settled(host, {"data-min-height": 600})
    _resize(host, 200, 600)
    _resize(host, 640, 640)
    _resize(host, 250_000, 250_000, raw=True)  # no data-max-height: no upper bound
    _resize(host, 599.01, 600, raw=True)
    assert host.errors == []


def test_a_burst_is_applied_once_per_frame_and_the_last_height_wins(host: HostPage) -> None:
    _settled(host, {"data-max-height": 5000})
    before = len(host.events("resize"))
    host.page.evaluate(FRAME_COUNTER)
    # One JS task in the embed frame posts the whole burst; the last height is 500 + BURST.
    posted = host.frame().evaluate(
        "n => { for (let i = 1; i <= n; i++)"
        " window.stub.postRaw({type: 'meshes:resize', height: 500 + i}); return n; }",
        BURST,
    )
    assert posted == BURST
    last = 500 + BURST
    _applied(host, last, before)
    frames = host.page.evaluate("() => { window.__countFrames = false; return window.__frames; }")
    applied = host.events("resize")[before:]
    heights = [e["detail"]["height"] for e in applied]
    # Far fewer events than messages: at most one per animation frame that passed.
    assert len(applied) <= BURST // 4, heights
    assert len(applied) <= frames + 1, (heights, frames)
    # Each applied height is one that was posted, in order; the last one wins.
    assert heights == sorted(heights)
    assert all(501 <= h <= last for h in heights)
    assert heights[-1] == last
    assert host.iframe_height() == f"{last}px"
    assert host.events("rejected") == []
    assert host.errors == []
