"""The postMessage contract: what the iframe may send us and what we send it.

`parse_message` takes a message's data as the adapter read it (an `inputs.MessageData`:
its shape already sorted, its flat fields as plain Python values, so no JS object
crosses into the core) and returns either one of the message values below or a
`Rejection`. It never raises.
"""

import json

from meshes_bridge.core import inputs as inp
from meshes_bridge.core import wire
from meshes_bridge.core.values import Value
from meshes_bridge.core.wire import Reason

MAX_MESSAGE_CHARS = wire.MAX_MESSAGE_CHARS  # the relay stops reading past it too
MAX_FIELDS = wire.MAX_FIELDS
_NON_STRING = wire.NON_STRING_CHARS
MAX_KEY_CHARS = 64
MAX_STRING_CHARS = 2048
MAX_HEIGHT = 1000000

READY = "meshes:ready"
TOKEN_REFRESH = "meshes:token-refresh"
TOKEN_EXPIRED = "meshes:token-expired"
NAVIGATE = "meshes:navigate"
RESIZE = "meshes:resize"
AUTH = "meshes:auth"


class Ready(Value):
    """The iframe's document is listening: send it the token."""


class TokenRefreshAsked(Value):
    """The iframe wants a fresh token (scheduled, or after a stale-token 401)."""


class TokenExpired(Value):
    """The iframe has no usable token any more."""


class NavigateAsked(Value):
    _fields = ("fields",)

    def __init__(self, fields: "dict[str, object]") -> None:
        self.fields = fields


class ResizeAsked(Value):
    _fields = ("height",)

    def __init__(self, height: float) -> None:
        self.height = height


class Rejection(Value):
    """Why a message was dropped. `reason` is one of wire.Reason (the rejected event's
    `reason`). `detail` explains in words; it never quotes the message's values."""

    _fields = ("reason", "detail")

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail


_INF = float("inf")


def _finite_number(value: object) -> "float | None":
    """The value if it is a finite number (bool is an int in Python but never a height)."""
    if type(value) is int:
        return value  # always finite; the common case (a height) comes first
    if not isinstance(value, float):
        return None  # bool, str, None, NESTED...
    if value != value or value == _INF or value == -_INF:
        return None
    return value


def _parse_ready(data: "dict[str, object]") -> Value:
    return Ready()


def _parse_token_refresh(data: "dict[str, object]") -> Value:
    return TokenRefreshAsked()


def _parse_token_expired(data: "dict[str, object]") -> Value:
    return TokenExpired()


def _parse_navigate(data: "dict[str, object]") -> Value:
    fields: dict[str, object] = {}
    for key in data:
        if key != "type":
            fields[key] = data[key]
    return NavigateAsked(fields)


def _parse_resize(data: "dict[str, object]") -> Value:
    height = _finite_number(data.get("height"))
    if height is None:
        return Rejection(Reason.SHAPE, "meshes:resize needs a finite number height")
    if height < 0 or height > MAX_HEIGHT:
        return Rejection(Reason.SHAPE, "meshes:resize height out of range")
    return ResizeAsked(height)


_PARSERS = {
    READY: _parse_ready,
    TOKEN_REFRESH: _parse_token_refresh,
    TOKEN_EXPIRED: _parse_token_expired,
    NAVIGATE: _parse_navigate,
    RESIZE: _parse_resize,
}


def message_size(fields: "dict[str, object]") -> int:
    """Roughly the characters the fields take: keys and strings count their length, any
    other value NON_STRING_CHARS. The relay counts the same way as it reads, and stops past
    the limit."""
    size = 0
    for key in fields:
        value = fields[key]
        size += len(key) + (len(value) if isinstance(value, str) else _NON_STRING)
    return size


def classify(value: object) -> inp.MessageData:
    """A JSON-like Python value sorted as an adapter sorts a message's data: for code that
    has a value rather than a JS object (tests, tools)."""
    if isinstance(value, str):
        too_big = len(value) > MAX_MESSAGE_CHARS
        return inp.MessageData(inp.TOO_LARGE if too_big else inp.NOT_OBJECT)
    if not isinstance(value, dict):
        return inp.MessageData(inp.NOT_OBJECT)
    if len(value) > wire.MAX_KEYS:
        return inp.MessageData(inp.UNREADABLE)
    fields: dict[str, object] = {}
    for key in value:
        item = value[key]
        fields[str(key)] = inp.NESTED if isinstance(item, (dict, list)) else item
    if message_size(fields) > MAX_MESSAGE_CHARS:
        return inp.MessageData(inp.TOO_LARGE)
    return inp.MessageData(inp.OBJECT, fields)


def classify_json(text: "str | None") -> inp.MessageData:
    """classify() of JSON text; text that is not JSON is a string, None unreadable."""
    if text is None:
        return inp.MessageData(inp.UNREADABLE)
    try:
        value = json.loads(text)
    except (ValueError, RuntimeError):  # RecursionError: too deep to be a message
        value = text
    return classify(value)


_REFUSALS = {
    inp.TOO_LARGE: (Reason.TOO_LARGE, "message data is larger than the limit"),
    inp.UNREADABLE: (Reason.SHAPE, "message data could not be read"),
    inp.NOT_OBJECT: (Reason.SHAPE, "message data is not an object"),
    inp.TYPE_ONLY: (Reason.SHAPE, "message data was not read"),
}


def parse_message(data: inp.MessageData) -> "Value":
    """A message value, or a Rejection; never raises.

    In order: the size limit, a string `type`, a known `meshes:` type, at most MAX_FIELDS
    fields, then each field in turn (its name, then its value). One pass over the fields
    finds the size and the first bad field: a resize storm parses hundreds of these.
    """
    if data.kind != inp.OBJECT:
        reason, detail = _REFUSALS.get(data.kind, (Reason.SHAPE, "message data is not an object"))
        return Rejection(reason, detail)
    fields = data.fields
    size = 0
    bad_name = False
    bad_value: str | None = None
    for key in fields:
        value = fields[key]
        # A short string, a finite number, a bool or None; written out here, as a call per
        # field is a cost MicroPython notices.
        if isinstance(value, str):
            size += len(key) + len(value)
            ok = len(value) <= MAX_STRING_CHARS
        else:
            size += len(key) + _NON_STRING
            vtype = type(value)
            ok = vtype is int or value is None or vtype is bool or _finite_number(value) is not None
        if bad_name or bad_value is not None:
            continue  # only the first bad field is named, but the size counts them all
        if not isinstance(key, str) or not key or len(key) > MAX_KEY_CHARS:
            bad_name = True
        elif not ok:
            bad_value = key
    if size > MAX_MESSAGE_CHARS:
        return Rejection(Reason.TOO_LARGE, "message data is larger than the limit")
    kind = fields.get("type")
    if not isinstance(kind, str):
        return Rejection(Reason.SHAPE, "message has no string type")
    parser = _PARSERS.get(kind)
    if parser is None:
        return Rejection(Reason.UNKNOWN_TYPE, "type is not a known meshes: message")
    if len(fields) > MAX_FIELDS:
        return Rejection(Reason.SHAPE, "too many fields")
    if bad_name:
        return Rejection(Reason.SHAPE, "field names must be short strings")
    if bad_value is not None:
        text = "field " + bad_value + " must be a short string, number or null"
        return Rejection(Reason.SHAPE, text)
    return parser(fields)


def message_type(data: inp.MessageData) -> "str | None":
    """The `type` of a message if it has a string one: for deciding how loudly to log."""
    kind = data.fields.get("type")
    return kind if isinstance(kind, str) else None


def auth_message(token: str) -> "dict[str, str]":
    return {"type": AUTH, "token": token}
