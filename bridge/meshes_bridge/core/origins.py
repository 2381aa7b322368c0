"""Origin rules, derived in one place from a URL (cf. penpal's getOriginFromSrc).

The parser is deliberately strict: anything a browser might read differently from us
(backslashes, whitespace, userinfo, non-canonical IPv4, exotic IPv6) is refused rather
than interpreted, so the origin we check messages against is the one the browser uses.
"""

import re

MAX_URL_LENGTH = 4096
DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-."
_AUTHORITY_END = "/?#"


class OriginError(ValueError):
    """A URL or origin we refuse; `reason` is a short stable word for logs and events."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


# Whitespace, a control character other than NUL (MicroPython's `re` cannot hold NUL in a
# pattern), DEL or a backslash.
_UNSAFE = re.compile("[\x01-\x20\x7f\\\\]")


def _has_unsafe_chars(text: str) -> bool:
    # Browsers strip tabs/newlines and treat "\" as "/" in http(s) URLs; refuse them.
    # A pattern, not a loop: MicroPython takes microseconds a character in a Python loop,
    # a millisecond for a long launch URL.
    return "\x00" in text or _UNSAFE.search(text) is not None


def _is_decimal(text: str) -> bool:
    if not text:
        return False
    for ch in text:
        if ch not in "0123456789":
            return False
    return True


def _looks_numeric(label: str) -> bool:
    # WHATWG: a host whose last label is a number is parsed as IPv4 (decimal, octal or hex).
    if _is_decimal(label):
        return True
    return label[:2] == "0x"


def _check_ipv4(host: str) -> None:
    parts = host.split(".")
    ok = len(parts) == 4
    for part in parts:
        if not _is_decimal(part) or (len(part) > 1 and part[0] == "0") or int(part) > 255:
            ok = False
    if not ok:
        raise OriginError("url", "IPv4 host is not in canonical dotted-decimal form")


def _check_host(host: str) -> str:
    if host.startswith("["):
        # Browsers rewrite IPv6 literals into a canonical form; accept only the one we need.
        if host != "[::1]":
            raise OriginError("url", "only [::1] is accepted as an IPv6 host")
        return host
    host = host.lower()
    if not host or host.startswith(".") or ".." in host:
        raise OriginError("url", "empty host or empty host label")
    for ch in host:
        if ch not in _HOST_CHARS:
            raise OriginError("url", "host has characters outside [a-z0-9.-]")
    labels = host.rstrip(".").split(".")
    if _looks_numeric(labels[-1]):
        _check_ipv4(host)
    return host


class Origin:
    """scheme + host + port; `port` is None when it is the scheme's default."""

    def __init__(self, scheme: str, host: str, port: "int | None") -> None:
        self.scheme = scheme
        self.host = host
        self.port = port

    def serialize(self) -> str:
        text = self.scheme + "://" + self.host
        if self.port is not None:
            text += ":" + str(self.port)
        return text

    def is_loopback(self) -> bool:
        if self.host in ("localhost", "[::1]"):
            return True
        return (
            self.host.startswith("127.")
            and self.host.count(".") == 3
            and _is_decimal(self.host.replace(".", ""))
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Origin) and self.serialize() == other.serialize()

    def __hash__(self) -> int:
        return hash(self.serialize())

    def __repr__(self) -> str:
        return "Origin(" + repr(self.serialize()) + ")"


def split_url(url: object) -> "tuple[Origin, str]":
    """(origin, rest) of an absolute http(s) URL; `rest` is the path, query and fragment."""
    if not isinstance(url, str):
        raise OriginError("url", "URL is not a string")
    if not url or len(url) > MAX_URL_LENGTH:
        raise OriginError("url", "URL is empty or too long")
    if _has_unsafe_chars(url):
        raise OriginError("url", "URL contains whitespace, control characters or backslashes")
    sep = url.find("://")
    if sep <= 0:
        raise OriginError("url", "URL is not absolute")
    scheme = url[:sep].lower()
    if scheme not in DEFAULT_PORTS:
        raise OriginError("scheme", "URL scheme must be http or https")
    rest = url[sep + 3 :]
    end = len(rest)
    for ch in _AUTHORITY_END:
        pos = rest.find(ch)
        if pos != -1 and pos < end:
            end = pos
    authority, tail = rest[:end], rest[end:]
    if "@" in authority:
        raise OriginError("url", "URL must not carry user information")
    host, port = _split_port(authority)
    port_num = _parse_port(port)
    if port_num == DEFAULT_PORTS[scheme]:
        port_num = None
    return Origin(scheme, _check_host(host), port_num), tail


def _split_port(authority: str) -> "tuple[str, str | None]":
    if authority.startswith("["):
        close = authority.find("]")
        if close == -1:
            raise OriginError("url", "unterminated IPv6 host")
        host, after = authority[: close + 1], authority[close + 1 :]
        if not after:
            return host, None
        if after[0] != ":":
            raise OriginError("url", "junk after IPv6 host")
        return host, after[1:]
    if ":" in authority:
        host, _, port = authority.partition(":")
        return host, port
    return authority, None


def _parse_port(port: "str | None") -> "int | None":
    if port is None or port == "":
        return None
    if not _is_decimal(port) or len(port) > 5 or not 0 < int(port) <= 65535:
        raise OriginError("url", "port is not a number between 1 and 65535")
    return int(port)


def parse_origin(url: object) -> Origin:
    """The origin of an absolute http(s) URL."""
    return split_url(url)[0]


def parse_origin_only(text: object) -> Origin:
    """An origin written on its own (`data-embed-origin`): no path beyond "/", no query."""
    origin, tail = split_url(text)
    if tail not in ("", "/"):
        raise OriginError("url", "an origin has no path, query or fragment")
    return origin


def check_embed_origin(origin: Origin) -> None:
    """The embed must be https, or http on a loopback host during development."""
    if origin.scheme == "https":
        return
    if origin.scheme == "http" and origin.is_loopback():
        return
    raise OriginError("insecure", "embed origin must be https (or http on a loopback host)")


_UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
_HEX = "0123456789ABCDEF"


# Any character but the unreserved ones: what quote_component must encode.
_RESERVED = re.compile("[^A-Za-z0-9._~-]")


def quote_component(text: str) -> str:
    """Percent-encode all but RFC 3986 unreserved characters (urllib is absent on MicroPython)."""
    if _RESERVED.search(text) is None:
        # The usual session id, as it is, without a loop over its bytes (MicroPython
        # takes about a microsecond and a half for each).
        return text
    out = []
    for byte in text.encode("utf-8"):
        ch = chr(byte)
        if byte < 128 and ch in _UNRESERVED:
            out.append(ch)
        else:
            out.append("%" + _HEX[byte >> 4] + _HEX[byte & 15])
    return "".join(out)


def check_same_origin_ref(ref: str, page: Origin) -> None:
    """`ref` (an attribute value, possibly relative) must resolve to the page's own origin."""
    if not isinstance(ref, str) or not ref:
        raise OriginError("url", "URL is empty")
    if _has_unsafe_chars(ref):
        raise OriginError("url", "URL contains whitespace, control characters or backslashes")
    if ref.startswith("//"):
        ref = page.scheme + ":" + ref
    elif "://" not in ref.split("?")[0].split("#")[0]:
        if ":" in ref.split("/")[0]:
            # "javascript:x", "data:..." and friends: a scheme, not a relative path.
            raise OriginError("scheme", "URL must be a path or an http(s) URL")
        return
    if parse_origin(ref) != page:
        raise OriginError("cross-origin", "URL must be on the page's own origin")
