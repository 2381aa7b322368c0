"""Heights: clamped, rounded up, applied at most once per frame; by the policy
alone and through the session."""

from meshes_bridge.core.actions import (
    CancelFrame,
    Emit,
    MountIframe,
    RemoveIframe,
    RequestFrame,
    SetHeight,
)
from meshes_bridge.core.inputs import FrameTick, HttpAnswered, IframeLoaded
from meshes_bridge.core.resize import ResizeCoalescer, clamp_height
from tests.core.helpers import TOKEN2, authenticated, only, resize, session_json


def test_clamp_height():
    assert clamp_height(100, 480, None) == 480
    assert clamp_height(500, 480, None) == 500
    assert clamp_height(500.2, 480, None) == 501
    assert clamp_height(500.0, 480, None) == 500
    assert clamp_height(5000, 480, 900) == 900
    assert clamp_height(899.5, 480, 900) == 900
    assert clamp_height(0, 0, None) == 0


def test_clamp_height_never_undercuts_a_fractional_minimum():
    assert clamp_height(100, 480.5, None) == 481
    assert clamp_height(480.2, 480.5, 900) == 481
    assert clamp_height(1000, 480.5, 900.5) == 900


def test_resize_coalescer():
    coalescer = ResizeCoalescer()
    assert coalescer.take() is None
    assert coalescer.ask(500) is True
    assert coalescer.ask(600) is False
    assert coalescer.take() == 600
    assert coalescer.take() is None
    assert coalescer.ask(700) is True


def test_resize_clamps_and_rounds_up():
    run = authenticated({"data-min-height": "480", "data-max-height": "900"})
    for height, applied in ((100, 480), (500.2, 501), (700, 700), (5000, 900), (0, 480)):
        assert run.feed(resize(height), 3.0) == [RequestFrame()]
        assert run.feed(FrameTick(), 3.1) == [
            SetHeight(applied),
            Emit("resize", {"height": applied}),
        ]


def test_resize_burst_applies_only_the_last_height_once():
    run = authenticated()
    assert run.feed(resize(600), 3.0) == [RequestFrame()]
    for height in (700, 800, 650.5):
        assert run.feed(resize(height), 3.0) == []
    assert run.feed(FrameTick(), 3.02) == [SetHeight(651), Emit("resize", {"height": 651})]
    assert run.feed(FrameTick(), 3.04) == []
    assert run.feed(resize(900), 3.1) == [RequestFrame()]


def test_fractional_min_height_is_never_undercut():
    run = authenticated({"data-min-height": "480.5"})
    assert only(run.actions, MountIframe)[0].height == 481
    run.feed(resize(10), 3.0)
    assert run.feed(FrameTick(), 3.1) == [SetHeight(481), Emit("resize", {"height": 481})]


def test_remount_cancels_a_pending_frame():
    run = authenticated({"data-ready-timeout": "3"})
    assert only(run.feed(resize(900), 3.0), RequestFrame) == [RequestFrame()]
    out = run.feed(IframeLoaded(), 4.0)  # hard reload, the new document never says ready
    out = run.timer(7.0)
    assert CancelFrame() in out
    assert out.index(CancelFrame()) < out.index(RemoveIframe())
    run.feed(HttpAnswered(2, 200, session_json(token=TOKEN2, sid="sess_2")), 8.0)
    assert not only(run.feed(FrameTick(), 8.1), SetHeight)
