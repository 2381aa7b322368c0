"""The checks a message passes before the session acts on it, and the rejections:
an event each, console lines within a budget."""

from meshes_bridge.core import messages as msg
from meshes_bridge.core.actions import Emit, Log
from meshes_bridge.core.inputs import HttpAnswered, MessageReceived
from meshes_bridge.core.limits import BUDGET_WINDOW, REJECTION_LOG_BUDGET
from tests.core.helpers import (
    EMBED,
    assert_rejected_only,
    authenticated,
    data_of,
    message,
    mounted,
    only,
    ready,
    session_json,
    started,
)


def test_messages_from_wrong_origin_are_rejected():
    for run in (mounted(), authenticated()):
        for origin in ("https://evil.example", "http://embed.meshes.io", EMBED + ":8443", "null"):
            assert_rejected_only(run, ready(origin), "origin")
            assert_rejected_only(run, message({"type": msg.TOKEN_REFRESH}, origin), "origin")


def test_messages_before_mount_are_rejected_as_origin():
    run = started()
    assert_rejected_only(run, ready(), "origin")
    assert run.state == "minting"


def test_messages_from_wrong_source_are_rejected():
    for run in (mounted(), authenticated()):
        assert_rejected_only(
            run, MessageReceived(EMBED, False, data_of('{"type": "meshes:ready"}')), "source"
        )
        event = MessageReceived(EMBED, False, data_of('{"type": "meshes:token-expired"}'))
        assert_rejected_only(run, event, "source")


def test_malformed_and_unknown_messages_are_rejected():
    for run in (mounted(), authenticated()):
        for data, reason in (
            ("not json", "shape"),
            (None, "shape"),
            ("[]", "shape"),
            ('{"type": "meshes:resize", "height": "big"}', "shape"),
            ('{"type": "meshes:resize", "height": true}', "shape"),
            ('{"type": "meshes:navigate", "x": {"y": 1}}', "shape"),
            ('{"type": "meshes:hello"}', "unknown-type"),
            ('{"type": "meshes:auth", "token": "x"}', "unknown-type"),
            ("x" * (msg.MAX_MESSAGE_CHARS + 1), "too-large"),
            ("[" * 5000 + "]" * 5000, "shape"),
        ):
            assert_rejected_only(run, MessageReceived(EMBED, True, data_of(data)), reason)


def test_rejection_log_level():
    run = mounted(debug=True)
    out = run.feed(MessageReceived("https://evil.example", True, data_of('{"x": 1}')), 3.0)
    assert out[1].level == "debug"
    # Without debug, a junk message costs one event and no log line at all.
    run = mounted()
    out = run.feed(MessageReceived("https://evil.example", True, data_of('{"x": 1}')), 3.0)
    assert out == [Emit("rejected", {"reason": "origin", "origin": "https://evil.example"})]
    out = run.feed(
        MessageReceived("https://evil.example", True, data_of('{"type": "meshes:ready"}')), 3.0
    )
    assert out[1].level == "warn"
    out = run.feed(MessageReceived(EMBED, True, data_of("nope")), 3.0)
    assert out[1].level == "warn"


def test_rejection_log_lines_are_budgeted_events_are_not():
    run = mounted()
    evil = MessageReceived("https://evil.example", True, data_of('{"type": "meshes:ready"}'))
    logged = 0
    for i in range(REJECTION_LOG_BUDGET + 40):
        out = run.feed(evil, 3.0 + i * 0.001)
        assert out[0] == Emit("rejected", {"reason": "origin", "origin": "https://evil.example"})
        logged += len(only(out, Log))
    assert logged == REJECTION_LOG_BUDGET
    out = run.feed(evil, 3.0 + BUDGET_WINDOW)  # the window has room again
    assert only(out, Log)[0].text.endswith("; 40 more rejected before this were not logged")


def test_wants_fields_only_from_the_iframe_on_the_embed_origin():
    run = started()
    assert not run.session.wants_fields(EMBED, True)  # no iframe yet
    run.feed(HttpAnswered(1, 200, session_json()), 1.0)
    assert run.session.wants_fields(EMBED, True)
    assert not run.session.wants_fields(EMBED, False)
    assert not run.session.wants_fields("https://evil.example", True)
