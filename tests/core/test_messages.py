"""The postMessage contract: what the iframe may send, how each message parses."""

from meshes_bridge.core import messages as msg
from meshes_bridge.core.inputs import NOT_OBJECT, OBJECT, TOO_LARGE, UNREADABLE, MessageData
from tests.core.helpers import data_of

REJECTION_REASONS = ("origin", "source", "too-large", "shape", "unknown-type")


def parse(data):
    return msg.parse_message(msg.classify(data))


def rejection_reason(value):
    assert isinstance(value, msg.Rejection), value
    assert value.reason in REJECTION_REASONS
    return value.reason


def test_parse_well_formed_messages():
    assert parse({"type": "meshes:ready"}) == msg.Ready()
    assert parse({"type": "meshes:token-refresh"}) == msg.TokenRefreshAsked()
    assert parse({"type": "meshes:token-expired"}) == msg.TokenExpired()
    assert parse({"type": "meshes:ready", "version": "2", "n": 1, "x": None}) == msg.Ready()
    navigate = parse({"type": "meshes:navigate", "path": "/workspace/rules", "depth": 2})
    assert navigate == msg.NavigateAsked({"path": "/workspace/rules", "depth": 2})
    assert parse({"type": "meshes:navigate"}) == msg.NavigateAsked({})
    assert parse({"type": "meshes:resize", "height": 640}) == msg.ResizeAsked(640)
    assert parse({"type": "meshes:resize", "height": 640.5}) == msg.ResizeAsked(640.5)
    assert parse({"type": "meshes:resize", "height": 0}) == msg.ResizeAsked(0)
    assert parse({"type": "meshes:resize", "height": msg.MAX_HEIGHT}) == msg.ResizeAsked(
        msg.MAX_HEIGHT
    )


def test_parse_resize_malformed_heights():
    for height in (True, False, -1, -0.5, "500", None, [500], {"px": 500}, msg.MAX_HEIGHT + 1):
        value = parse({"type": "meshes:resize", "height": height})
        assert rejection_reason(value) == "shape", height
    assert rejection_reason(parse({"type": "meshes:resize"})) == "shape"
    assert rejection_reason(
        msg.parse_message(data_of('{"type": "meshes:resize", "height": 1e999}'))
    ) == ("shape")


def test_parse_rejects_nested_values_and_long_fields():
    for value in ({"a": 1}, [1, 2], []):
        assert rejection_reason(parse({"type": "meshes:navigate", "nested": value})) == "shape"
        assert rejection_reason(parse({"type": "meshes:ready", "nested": value})) == "shape"
    long_text = "x" * (msg.MAX_STRING_CHARS + 1)
    assert rejection_reason(parse({"type": "meshes:navigate", "path": long_text})) == "shape"
    ok = parse({"type": "meshes:navigate", "path": "x" * msg.MAX_STRING_CHARS})
    assert isinstance(ok, msg.NavigateAsked)
    long_key = "k" * (msg.MAX_KEY_CHARS + 1)
    assert rejection_reason(parse({"type": "meshes:navigate", long_key: 1})) == "shape"
    assert rejection_reason(parse({"type": "meshes:navigate", "": 1})) == "shape"


def test_parse_rejects_too_many_fields():
    data = {"type": "meshes:navigate"}
    for i in range(msg.MAX_FIELDS - 1):
        data["f" + str(i)] = i
    assert isinstance(parse(data), msg.NavigateAsked)
    data["one_more"] = 1
    assert rejection_reason(parse(data)) == "shape"


def test_parse_rejects_too_large_data():
    # The fields' size (keys and strings by length, other values 8), as the adapter counts.
    pad = msg.MAX_MESSAGE_CHARS - len("type") - len("meshes:navigate") - len("pad")
    data = {"type": "meshes:navigate", "pad": "x" * pad}
    fields = msg.classify({"type": "meshes:navigate"}).fields
    fields["pad"] = "x" * (pad + 1)
    too_big = MessageData(OBJECT, fields)  # an adapter that read past the limit
    assert rejection_reason(msg.parse_message(too_big)) == "too-large"
    assert msg.classify(data).kind == OBJECT
    data["pad"] = "x" * (pad + 1)
    assert msg.classify(data).kind == TOO_LARGE
    for kind, reason in ((TOO_LARGE, "too-large"), (UNREADABLE, "shape"), (NOT_OBJECT, "shape")):
        assert rejection_reason(msg.parse_message(MessageData(kind))) == reason
    assert (
        rejection_reason(msg.parse_message(data_of("x" * (msg.MAX_MESSAGE_CHARS + 1))))
        == "too-large"
    )


def test_parse_rejects_non_objects_invalid_json_and_none():
    for text in ("[]", '"meshes:ready"', "1", "null", "true", '["meshes:ready"]'):
        assert rejection_reason(msg.parse_message(data_of(text))) == "shape", text
    for text in ("", "{", "not json", "{'type': 'meshes:ready'}", '{"type": "meshes:ready"'):
        assert rejection_reason(msg.parse_message(data_of(text))) == "shape", text
    assert rejection_reason(msg.parse_message(data_of(None))) == "shape"


def test_parse_rejects_deeply_nested_json_without_raising():
    # Within the size limit, but deeper than CPython's json recursion limit.
    for text in ("[" * 5000 + "]" * 5000, '{"a":' * 2500 + "1" + "}" * 2500):
        assert rejection_reason(msg.parse_message(data_of(text))) == "shape"
        assert msg.message_type(data_of(text)) is None


def test_parse_type_rules():
    assert rejection_reason(parse({"kind": "meshes:ready"})) == "shape"
    assert rejection_reason(parse({"type": 1})) == "shape"
    assert rejection_reason(parse({"type": None})) == "shape"
    assert rejection_reason(parse({"type": "ready"})) == "unknown-type"
    assert rejection_reason(parse({"type": "meshes:unknown"})) == "unknown-type"
    assert rejection_reason(parse({"type": "MESHES:READY"})) == "unknown-type"
    # The host's own message type is never accepted from the iframe.
    assert rejection_reason(parse({"type": "meshes:auth", "token": "x"})) == "unknown-type"


def test_rejection_detail_never_quotes_values():
    secret = "VALUE_" + "z" * 3000
    value = parse({"type": "meshes:navigate", "path": secret})
    assert "VALUE_" not in value.detail
    value = parse({"type": "meshes:resize", "height": "VALUE_1"})
    assert "VALUE_" not in value.detail


def test_message_type_and_auth_message():
    assert msg.message_type(data_of('{"type": "meshes:ready"}')) == "meshes:ready"
    assert msg.message_type(data_of('{"type": 3}')) is None
    assert msg.message_type(data_of("[]")) is None
    assert msg.message_type(data_of("nope")) is None
    assert msg.message_type(data_of(None)) is None
    assert msg.auth_message("abc") == {"type": "meshes:auth", "token": "abc"}
