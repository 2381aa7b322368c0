"""The postMessage contract: what the iframe may send us and what we send it.

`parse_message` takes the message data as JSON text (the adapter serialises
`event.data` so no JS object crosses into the core) and returns either one of the
message values below or a `Rejection`. It never raises.
"""

import json

from meshes_bridge.core.values import Value

MAX_MESSAGE_CHARS = 16384
MAX_FIELDS = 16
MAX_KEY_CHARS = 64
MAX_STRING_CHARS = 2048
MAX_HEIGHT = 1000000

READY = "meshes:ready"
TOKEN_REFRESH = "meshes:token-refresh"
TOKEN_EXPIRED = "meshes:token-expired"
NAVIGATE = "meshes:navigate"
RESIZE = "meshes:resize"
AUTH = "meshes:auth"
# What an adapter passes instead of JSON text for data it did not serialise because it is
# over the limit (serialising megabytes first would itself be the attack). json.dumps
# never produces a raw NUL, so this cannot collide with real message text.
OVERSIZED = "\x00oversized"


class Ready(Value):
    """The iframe's document is listening: send it the token."""


class TokenRefreshAsked(Value):
    """The iframe wants a fresh token (scheduled, or after a stale-token 401)."""


class TokenExpired(Value):
    """The iframe has no usable token any more."""


class NavigateAsked(Value):
    _fields = ("fields",)

    def __init__(self, fields: dict) -> None:
        self.fields = fields


class ResizeAsked(Value):
    _fields = ("height",)

    def __init__(self, height: float) -> None:
        self.height = height


class Rejection(Value):
    """Why a message was dropped. `reason` is one of: origin, source, too-large, shape,
    unknown-type. `detail` explains in words; it never quotes the message's values."""

    _fields = ("reason", "detail")

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail


def _is_number(value: object) -> bool:
    # bool is an int in Python but never a height.
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _finite(value: float) -> bool:
    return value == value and value not in (float("inf"), float("-inf"))


def _scalar_ok(value: object) -> bool:
    if value is None or isinstance(value, bool):
        return True
    if _is_number(value):
        return _finite(value)
    return isinstance(value, str) and len(value) <= MAX_STRING_CHARS


def _check_fields(data: dict) -> "Rejection | None":
    if len(data) > MAX_FIELDS:
        return Rejection("shape", "too many fields")
    for key in data:
        if not isinstance(key, str) or not key or len(key) > MAX_KEY_CHARS:
            return Rejection("shape", "field names must be short strings")
        if not _scalar_ok(data[key]):
            return Rejection("shape", "field " + key + " must be a short string, number or null")
    return None


def _parse_ready(data: dict) -> "Value":
    return Ready()


def _parse_token_refresh(data: dict) -> "Value":
    return TokenRefreshAsked()


def _parse_token_expired(data: dict) -> "Value":
    return TokenExpired()


def _parse_navigate(data: dict) -> "Value":
    fields = {}
    for key in data:
        if key != "type":
            fields[key] = data[key]
    return NavigateAsked(fields)


def _parse_resize(data: dict) -> "Value":
    height = data.get("height")
    if not _is_number(height) or not _finite(height):
        return Rejection("shape", "meshes:resize needs a finite number height")
    if height < 0 or height > MAX_HEIGHT:
        return Rejection("shape", "meshes:resize height out of range")
    return ResizeAsked(height)


_PARSERS = {
    READY: _parse_ready,
    TOKEN_REFRESH: _parse_token_refresh,
    TOKEN_EXPIRED: _parse_token_expired,
    NAVIGATE: _parse_navigate,
    RESIZE: _parse_resize,
}


def decode(text: "str | None") -> "tuple[object, Rejection | None]":
    """The JSON value of a message, or why it cannot be one."""
    if text is None:
        return None, Rejection("shape", "message data is not JSON-serialisable")
    if text == OVERSIZED or len(text) > MAX_MESSAGE_CHARS:
        return None, Rejection("too-large", "message data is larger than the limit")
    try:
        return json.loads(text), None
    except (ValueError, RuntimeError):
        # RuntimeError: CPython's json raises RecursionError on deeply nested input.
        return None, Rejection("shape", "message data is not valid JSON")


def parse_message(text: "str | None") -> "Value":
    """A message value, or a Rejection; never raises."""
    data, rejection = decode(text)
    if rejection is not None:
        return rejection
    if not isinstance(data, dict):
        return Rejection("shape", "message data is not an object")
    kind = data.get("type")
    if not isinstance(kind, str):
        return Rejection("shape", "message has no string type")
    parser = _PARSERS.get(kind)
    if parser is None:
        return Rejection("unknown-type", "type is not a known meshes: message")
    problem = _check_fields(data)
    if problem is not None:
        return problem
    return parser(data)


def message_type(text: "str | None") -> "str | None":
    """The `type` of a message if it has a string one: for deciding how loudly to log."""
    data, rejection = decode(text)
    if rejection is None and isinstance(data, dict) and isinstance(data.get("type"), str):
        return data["type"]
    return None


def auth_message(token: str) -> dict:
    return {"type": AUTH, "token": token}
