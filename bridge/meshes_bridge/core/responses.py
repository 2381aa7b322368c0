"""The host backend's answers to the mint and refresh POSTs, checked before use."""

import json
import re

from meshes_bridge.core.origins import OriginError, parse_origin_only
from meshes_bridge.core.values import Value

MAX_RESPONSE_CHARS = 65536
MAX_TOKEN_CHARS = 8192
MAX_ID_CHARS = 256


class ResponseError(ValueError):
    """A response we cannot use. The message names fields, never their values."""


class Session(Value):
    _fields = ("session_id", "access_token", "expires_at", "launch_url")

    def __init__(
        self, session_id: str, access_token: str, expires_at: "str | None", launch_url: str
    ) -> None:
        self.session_id = session_id
        self.access_token = access_token
        self.expires_at = expires_at
        self.launch_url = launch_url

    def __repr__(self) -> str:
        # Never let a token reach a traceback or a log through repr().
        return "Session(session_id=" + repr(self.session_id) + ", access_token=[redacted])"


class Refreshed(Value):
    _fields = ("access_token", "expires_at")

    def __init__(self, access_token: str, expires_at: "str | None") -> None:
        self.access_token = access_token
        self.expires_at = expires_at

    def __repr__(self) -> str:
        return "Refreshed(access_token=[redacted], expires_at=" + repr(self.expires_at) + ")"


# A control character other than NUL (MicroPython's `re` cannot hold NUL in a pattern).
_CONTROL = re.compile("[\x01-\x1f\x7f]")


def _ascii(text: str) -> bool:
    try:
        return len(text.encode("utf-8")) == len(text)
    except UnicodeError:  # a lone surrogate, on CPython
        return False


def _printable(text: str) -> bool:
    # No control characters, and no lone surrogates (JSON "\ud800"): those cannot be
    # UTF-8 encoded, so such a session id could never be put in the refresh URL.
    if _ascii(text):
        # The usual token, id or date, checked without a Python loop: MicroPython takes
        # some 3 us a character in one, a long token's answer a millisecond.
        return "\x00" not in text and _CONTROL.search(text) is None
    for ch in text:
        code = ord(ch)
        if code < 0x20 or code == 0x7F or 0xD800 <= code <= 0xDFFF:
            return False
    return True


def _object(text: str) -> "dict[str, object]":
    if not isinstance(text, str) or len(text) > MAX_RESPONSE_CHARS:
        raise ResponseError("response is missing or too large")
    try:
        data = json.loads(text)
    except (ValueError, RuntimeError):  # RecursionError on deeply nested JSON
        raise ResponseError("response is not JSON") from None
    if not isinstance(data, dict):
        raise ResponseError("response is not a JSON object")
    return data


def _string(data: "dict[str, object]", name: str, limit: int) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value or len(value) > limit or not _printable(value):
        raise ResponseError("response field " + name + " is missing or malformed")
    return value


def _optional_string(data: "dict[str, object]", name: str, limit: int) -> "str | None":
    return None if data.get(name) is None else _string(data, name, limit)


def parse_session(text: str) -> Session:
    data = _object(text)
    return Session(
        _string(data, "session_id", MAX_ID_CHARS),
        _string(data, "access_token", MAX_TOKEN_CHARS),
        _optional_string(data, "expires_at", MAX_ID_CHARS),
        _string(data, "launch_url", 4096),
    )


def parse_refresh(text: str) -> Refreshed:
    data = _object(text)
    return Refreshed(
        _string(data, "access_token", MAX_TOKEN_CHARS),
        _optional_string(data, "expires_at", MAX_ID_CHARS),
    )


# What the host's developer does about an error code the endpoints answer, where a setting
# of theirs is the cause: the console line says which one.
_SETTING_FIXES = {
    "origin-not-allowed": "MESHES_ALLOWED_ORIGINS",
}
_CODE_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-"
_MAX_CODE_CHARS = 40
_MAX_ERROR_BODY_CHARS = 2048


def _error_code(data: "dict[str, object]") -> "str | None":
    code = data.get("error")
    if not isinstance(code, str) or not code or len(code) > _MAX_CODE_CHARS:
        return None
    for ch in code:
        if ch not in _CODE_CHARS:
            return None
    return code


def _origin_named(data: "dict[str, object]") -> "str | None":
    try:
        return parse_origin_only(data.get("origin")).serialize()
    except OriginError:
        return None


def failure_text(endpoint: str, status: int, body: str) -> str:
    """The console line for an endpoint's answer that is not 2xx: its status, the error code
    of a JSON error body (``{"error": code}``) and, for a code one of the host's settings
    causes, that setting and the origin the server named. Nothing else from the body is
    shown: an unknown body is only ever a status."""
    text = endpoint + " answered HTTP " + str(status)
    try:
        data = _object(body) if len(body) <= _MAX_ERROR_BODY_CHARS else None
    except (ResponseError, TypeError):
        data = None
    code = _error_code(data) if data is not None else None
    if code is None:
        return text
    text += " " + code
    setting = _SETTING_FIXES.get(code)
    if setting is None or data is None:
        return text
    origin = _origin_named(data)
    refused = "this page's origin" if origin is None else "this page's origin " + origin
    return (
        text + ": " + refused + " is not in " + setting + ", a setting of the server: add it there"
    )
