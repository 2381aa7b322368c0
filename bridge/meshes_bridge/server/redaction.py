"""Scrub credentials out of text before it reaches an exception, a log line or a response.

Used on everything that comes back from Meshes (its error messages) and on every log
line the server half writes: a JWT, a bearer value, a launch query, the literal secrets
given and any long opaque token-like word are replaced, and the text is cut short.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "[redacted]"
MAX_LENGTH = 300

_JWT_RE = re.compile(r"eyJ[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*")
_BEARER_RE = re.compile(r"(?i)\b(bearer)\s+\S+")
_LAUNCH_RE = re.compile(r"([?&]launch=)[^&#\s\"']+")
# Any long run of token characters with letters and digits: an access token of a format we
# do not know. Session ids and UUIDs are kept (they are not credentials, and they help).
_OPAQUE_RE = re.compile(r"[A-Za-z0-9_\-+=~]{20,}")
_KEEP_RE = re.compile(
    r"^(sess_)?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
# `token: value`, `"access_token": "value"`; not the `token` inside `invalid_token: why`.
_TOKEN_FIELD_RE = re.compile(
    r"(?i)(?<![A-Za-z0-9_])(\"?(?:access_token|token|launch_url|secret|secret_key)\"?\s*[:=]\s*)"
    r"(\"[^\"]*\"|\S+)"
)


def _opaque(match: re.Match[str]) -> str:
    word = match.group(0)
    if _KEEP_RE.match(word) or word.isalpha() or not any(c.isdigit() for c in word):
        return word
    return REDACTED


def redact_text(text: str, secrets: Iterable[str] = (), limit: int = MAX_LENGTH) -> str:
    """`text` without credentials, at most `limit` characters."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    text = _JWT_RE.sub(REDACTED, text)
    text = _BEARER_RE.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _LAUNCH_RE.sub(lambda m: m.group(1) + REDACTED, text)
    text = _TOKEN_FIELD_RE.sub(lambda m: m.group(1) + REDACTED, text)
    text = _OPAQUE_RE.sub(_opaque, text)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text
