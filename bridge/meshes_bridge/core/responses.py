"""The host backend's answers to the mint and refresh POSTs, checked before use."""

import json

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


def _printable(text: str) -> bool:
    # No control characters, and no lone surrogates (JSON "\ud800"): those cannot be
    # UTF-8 encoded, so such a session id could never be put in the refresh URL.
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
