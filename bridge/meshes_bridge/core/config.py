"""Configuration from HTML attributes: the loader's script tag and each container.

Attribute values arrive as strings (or None when absent); parsing either yields a
complete config or raises ConfigError naming the attribute, so a host sees exactly
which attribute to fix.
"""

import json

from meshes_bridge.core.origins import (
    OriginError,
    check_same_origin_ref,
    parse_origin,
    parse_origin_only,
)
from meshes_bridge.core.values import Value

RUNTIMES = ("micropython", "pyodide")
DEFAULT_MIN_HEIGHT = 480
DEFAULT_READY_TIMEOUT = 15.0
MAX_HEIGHT_ATTR = 100000
MAX_READY_TIMEOUT = 600.0
MAX_BODY_CHARS = 8192
_FALSE_WORDS = ("false", "0", "off", "no")
_TOKEN_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_!#$%&'*+.^`|~"

CONTAINER_ATTRIBUTES = (
    "data-session-url",
    "data-refresh-url",
    "data-session-body",
    "data-min-height",
    "data-max-height",
    "data-embed-origin",
    "data-csrf-cookie",
    "data-csrf-header",
    "data-ready-timeout",
)


class ConfigError(ValueError):
    def __init__(self, attribute: str, message: str) -> None:
        super().__init__(attribute + ": " + message)
        self.attribute = attribute
        self.message = attribute + ": " + message


class LoaderOptions(Value):
    _fields = ("runtime", "hooks", "debug", "warnings", "timings_url")

    def __init__(
        self,
        runtime: str,
        hooks: "str | None",
        debug: bool,
        warnings: "list[str]",
        timings_url: "str | None" = None,
    ) -> None:
        self.runtime = runtime
        self.hooks = hooks
        self.debug = debug
        self.warnings = warnings
        self.timings_url = timings_url


def parse_flag(value: object) -> bool:
    """A boolean attribute: present means on, unless it says false/0/off/no."""
    if value is None or value is False:
        return False
    if value is True:
        return True
    return str(value).strip().lower() not in _FALSE_WORDS


def _timings_url(options: "dict[str, object]", warnings: "list[str]") -> "str | None":
    """`data-timings-url`: a URL on the page's own origin (`page` is the page's URL), or
    None. Another origin is refused: the timings are the host's, and its CSRF header goes
    with them."""
    raw = options.get("timings_url")
    if not isinstance(raw, str) or not raw.strip():
        return None
    try:
        check_same_origin_ref(raw.strip(), parse_origin(options.get("page")))
    except OriginError as exc:
        warnings.append("data-timings-url: " + exc.message + "; timings are not posted")
        return None
    return raw.strip()


def parse_loader_options(options: "dict[str, object]") -> LoaderOptions:
    """The script tag's options; never fails: a bad value falls back and is reported."""
    warnings: list[str] = []
    runtime = options.get("runtime") or "micropython"
    if not isinstance(runtime, str) or runtime not in RUNTIMES:
        warnings.append("data-runtime must be micropython or pyodide; using micropython")
        runtime = "micropython"
    hooks = options.get("hooks")
    if not isinstance(hooks, str) or not hooks.strip():
        hooks = None
    timings_url = _timings_url(options, warnings)
    return LoaderOptions(runtime, hooks, parse_flag(options.get("debug")), warnings, timings_url)


class ContainerConfig(Value):
    _fields = (
        "session_url",
        "refresh_url",
        "session_body",
        "min_height",
        "max_height",
        "embed_origin",
        "csrf_cookie",
        "csrf_header",
        "ready_timeout",
    )

    def __init__(
        self,
        session_url: str,
        refresh_url: str,
        session_body: "dict[str, object]",
        min_height: float = DEFAULT_MIN_HEIGHT,
        max_height: "float | None" = None,
        embed_origin: "str | None" = None,
        csrf_cookie: "str | None" = None,
        csrf_header: "str | None" = None,
        ready_timeout: float = DEFAULT_READY_TIMEOUT,
    ) -> None:
        self.session_url = session_url
        self.refresh_url = refresh_url
        self.session_body = session_body
        self.min_height = min_height
        self.max_height = max_height
        self.embed_origin = embed_origin
        self.csrf_cookie = csrf_cookie
        self.csrf_header = csrf_header
        self.ready_timeout = ready_timeout


def _get(attrs: "dict[str, str | None]", name: str) -> "str | None":
    value = attrs.get(name)
    return value if isinstance(value, str) else None


def _required_url(attrs: "dict[str, str | None]", name: str, page_origin: str) -> str:
    value = _get(attrs, name)
    if value is None or not value.strip():
        raise ConfigError(name, "is required")
    value = value.strip()
    try:
        check_same_origin_ref(value, parse_origin(page_origin))
    except OriginError as exc:
        raise ConfigError(name, exc.message) from None
    return value


def _optional_number(
    attrs: "dict[str, str | None]", name: str, low: float, high: float
) -> "float | None":
    raw = _get(attrs, name)
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    if text.endswith("px"):
        text = text[:-2]
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(name, "must be a number") from None
    if not (low <= value <= high):
        raise ConfigError(name, "must be between " + str(low) + " and " + str(high))
    if value == int(value):
        return int(value)
    return value


def _number(
    attrs: "dict[str, str | None]", name: str, default: float, low: float, high: float
) -> float:
    value = _optional_number(attrs, name, low, high)
    return default if value is None else value


def _session_body(attrs: "dict[str, str | None]") -> "dict[str, object]":
    raw = _get(attrs, "data-session-body")
    if raw is None or not raw.strip():
        return {}
    if len(raw) > MAX_BODY_CHARS:
        raise ConfigError("data-session-body", "is too long")
    try:
        body = json.loads(raw)
    except (ValueError, RuntimeError):  # RecursionError on deeply nested JSON
        raise ConfigError("data-session-body", "must be valid JSON") from None
    if not isinstance(body, dict):
        raise ConfigError("data-session-body", "must be a JSON object")
    return body


def _embed_origin(attrs: "dict[str, str | None]") -> "str | None":
    raw = _get(attrs, "data-embed-origin")
    if raw is None or not raw.strip():
        return None
    try:
        return parse_origin_only(raw.strip()).serialize()
    except OriginError as exc:
        raise ConfigError("data-embed-origin", exc.message) from None


def _is_token(text: str) -> bool:
    for ch in text:
        if ch not in _TOKEN_CHARS:
            return False
    return bool(text)


def _csrf(attrs: "dict[str, str | None]") -> "tuple[str | None, str | None]":
    cookie = (_get(attrs, "data-csrf-cookie") or "").strip() or None
    header = (_get(attrs, "data-csrf-header") or "").strip() or None
    if (cookie is None) != (header is None):
        missing = "data-csrf-cookie" if cookie is None else "data-csrf-header"
        raise ConfigError(missing, "data-csrf-cookie and data-csrf-header go together")
    if cookie is not None and not _is_token(cookie):
        raise ConfigError("data-csrf-cookie", "is not a valid cookie name")
    if header is not None and not _is_token(header):
        raise ConfigError("data-csrf-header", "is not a valid header name")
    return cookie, header


def parse_container(attrs: "dict[str, str | None]", page_origin: str) -> ContainerConfig:
    """A container's config from its attributes (name -> string or None)."""
    session_url = _required_url(attrs, "data-session-url", page_origin)
    refresh_url = _required_url(attrs, "data-refresh-url", page_origin)
    min_height = _number(attrs, "data-min-height", DEFAULT_MIN_HEIGHT, 0, MAX_HEIGHT_ATTR)
    max_height = _optional_number(attrs, "data-max-height", 0, MAX_HEIGHT_ATTR)
    if max_height is not None and max_height < min_height:
        raise ConfigError("data-max-height", "must not be less than data-min-height")
    timeout = _number(attrs, "data-ready-timeout", DEFAULT_READY_TIMEOUT, 0.1, MAX_READY_TIMEOUT)
    cookie, header = _csrf(attrs)
    return ContainerConfig(
        session_url,
        refresh_url,
        _session_body(attrs),
        min_height,
        max_height,
        _embed_origin(attrs),
        cookie,
        header,
        timeout,
    )
