"""Scrub credentials out of text before it reaches an exception, a log line or a response.

Used on every log line the server half writes and on what it keeps of Meshes' error
answers: a JWT, a bearer value, the literal secrets given, every word that starts with a
Meshes token prefix (whatever follows it, split by ``/`` or ``.`` or not), whatever in a
launch URL's path or query could be a token, and any long opaque token-like word are
replaced, and the text is cut short. Session ids and UUIDs are kept: they are not
credentials, and they are what makes a log line useful.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "[redacted]"
MAX_LENGTH = 300
#: Text beyond `SCAN_FACTOR` times the limit is cut before it is scanned.
SCAN_FACTOR = 16

#: Prefixes of access tokens, launch tokens and machine secret keys, as the test kit's fake
#: Meshes issues them (the contract names no format, so the rules below do not rely on a
#: prefix alone).
TOKEN_PREFIXES = ("mat_", "mlt_", "msk_")

_JWT_RE = re.compile(r"eyJ[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*")
_BEARER_RE = re.compile(r"(?i)\b(bearer)\s+\S+")
_LAUNCH_RE = re.compile(r"([?&]launch=)[^&#\s\"']+")
# A prefix, then everything up to a delimiter of the text around it (a space, a quote, a
# bracket, a comma): a token is not safe because its random part happens to hold no digit
# or to be cut by a `/` or a `.`. A part already redacted (a JWT-shaped or secret piece of
# it) does not end it. The prefix may follow `_` (`x_mat_...`), not a letter or a digit
# (`format_...` is a word).
_PREFIX_RE = re.compile(
    r"(?i)(?<![A-Za-z0-9])(" + "|".join(p[:-1] for p in TOKEN_PREFIXES) + r")_"
    r"(?:[^\s\"'`<>,;()\[\]{}|]|" + re.escape(REDACTED) + r")+"
)
# scheme://authority, then the rest up to a delimiter; JSON's escaped `\/` counts as `/`.
_URL_RE = re.compile(r"(?i)\b(https?:(?:\\?/){2})([^\s\"'`<>/\\?#]*)([^\s\"'`<>]*)")
_URL_PIECES_RE = re.compile(r"([/?&=#;\\]+)")
_URL_TRAILING = ".,;:!?)]}"
# Words of a launch URL's path that are not tokens: the contract's launch pages.
_LAUNCH_WORDS = frozenset(
    {"workspace", "dashboard", "connections", "rules", "events", "launch", "embed"}
)
# Query names whose value is a credential whatever it looks like.
_SECRET_NAMES = frozenset(
    {"launch", "token", "access_token", "launch_token", "secret", "secret_key", "key", "jwt"}
)
# A path segment or query part of any other URL that is plainly a word, not a token.
_URL_WORD_RE = re.compile(r"^(?:[a-z][a-z0-9_.\-]{0,31}|\d{1,12})$")
# Any long run of token characters: an access token of a format we do not know. Not `=`:
# the two sides of `name=value` are judged apart (a token's `=` padding stays alone).
_OPAQUE_RE = re.compile(r"[A-Za-z0-9_\-+~]{20,}")
_KEEP_RE = re.compile(
    r"^(sess_)?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
_LAST_SPACE_RE = re.compile(r"(?s).*\s")
_LABEL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.\[\]\-]{0,63}$")
# `token: value`, `"access_token": "value"`; not the `token` inside `invalid_token: why`.
_TOKEN_FIELD_RE = re.compile(
    r"(?i)(?<![A-Za-z0-9_])(\"?(?:access_token|token|launch_url|secret|secret_key)\"?\s*[:=]\s*)"
    r"(\"[^\"]*\"|\S+)"
)


def _is_opaque(word: str) -> bool:
    """Whether a long word looks random rather than written by someone.

    Digits, or mixed case together with `-_+~`, or mixed case with as many capitals as a
    random text has: a token. Lower-case, upper-case and CamelCase words (snake_case
    codes, CONSTANTS, exception names) are kept.
    """
    if _KEEP_RE.match(word):
        return False
    if any(c.isdigit() for c in word):
        return True
    letters = [c for c in word if c.isalpha()]
    upper = sum(c.isupper() for c in letters)
    if upper == 0 or upper == len(letters):
        return False
    if any(c in "-_+~" for c in word):
        return True
    return upper >= 0.4 * len(letters)


def _opaque(match: re.Match[str]) -> str:
    word = match.group(0)
    return REDACTED if _is_opaque(word) else word


def _is_launch_url(authority: str, pieces: list[str]) -> bool:
    words = [p.lower() for p in pieces]
    return (
        authority.lower().startswith("embed.")
        or (len(words) > 0 and words[0] == "workspace")
        or "launch" in words
    )


def _url(match: re.Match[str]) -> str:
    """A URL with its origin kept and every piece of its path, query and fragment that
    could be a token replaced; in a launch URL only the launch pages' words are kept."""
    scheme, authority, rest = match.group(1), match.group(2), match.group(3)
    if "@" in authority:  # user:password@host
        authority = REDACTED + "@" + authority.rpartition("@")[2]
    tail = ""
    while rest and rest[-1] in _URL_TRAILING:  # the sentence's, not the URL's
        rest, tail = rest[:-1], rest[-1] + tail
    parts = _URL_PIECES_RE.split(rest)  # piece, separator, piece, ...
    pieces = parts[0::2]
    launch = _is_launch_url(authority, [p for p in pieces if p])
    out: list[str] = []
    for index, part in enumerate(parts):
        if index % 2 or not part or part == REDACTED:
            out.append(part)
            continue
        name = parts[index - 2].lower() if index >= 2 and parts[index - 1] == "=" else None
        if name in _SECRET_NAMES:
            keep = False
        elif launch:
            keep = part.lower() in _LAUNCH_WORDS
        else:
            keep = bool(_URL_WORD_RE.match(part)) or bool(_KEEP_RE.match(part))
        out.append(part if keep else REDACTED)
    return scheme + authority + "".join(out) + tail


def is_plain_label(value: str) -> bool:
    """Whether `value` is shaped like an error code or a field name (``session_not_found``,
    ``allowed_origins[0]``) and holds nothing credential-like: safe to show as it is."""
    return bool(_LABEL_RE.match(value)) and redact_text(value) == value


def redact_text(text: str, secrets: Iterable[str] = (), limit: int = MAX_LENGTH) -> str:
    """`text` without credentials, at most `limit` characters."""
    scan = max(SCAN_FACTOR * limit, 4096)
    if len(text) > scan:
        # Some patterns cost time in proportion to the square of the text's length, and
        # what lies this far out is past the limit unless most of the text before it was
        # redacted away. The word the cut splits is dropped whole: half a token no longer
        # has a token's shape.
        head = _LAST_SPACE_RE.match(text[:scan])
        text = (head.group(0) if head else "") + "…"
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    text = _JWT_RE.sub(REDACTED, text)
    text = _PREFIX_RE.sub(lambda m: m.group(1) + "_" + REDACTED, text)
    text = _URL_RE.sub(_url, text)
    text = _BEARER_RE.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _LAUNCH_RE.sub(lambda m: m.group(1) + REDACTED, text)
    text = _TOKEN_FIELD_RE.sub(lambda m: m.group(1) + REDACTED, text)
    text = _OPAQUE_RE.sub(_opaque, text)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def redact_credentials(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with the literal secrets given, JWTs, prefixed Meshes tokens and ``launch=``
    values replaced, and nothing else touched (no cut, no guess at opaque words): for text
    whose shape is known (a URL path, a header), where `redact_text` would blank out a
    content hash."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    text = _JWT_RE.sub(REDACTED, text)
    text = _PREFIX_RE.sub(lambda m: m.group(1) + "_" + REDACTED, text)
    text = _BEARER_RE.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    return _LAUNCH_RE.sub(lambda m: m.group(1) + REDACTED, text)
