"""The shared, redacted, timestamped transcript of what the doubles saw.

Every double (host backend, stub embed, hostile origin) appends lines here; tests wait on
it and the demo streams it. Nothing that looks like a credential is ever stored: the text
and every string field pass through :func:`redact` before they are kept.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Prefix of every access token the fake Meshes issues.
ACCESS_TOKEN_PREFIX = "mat_"
#: Prefix of every single-use launch token the fake Meshes issues.
LAUNCH_TOKEN_PREFIX = "mlt_"

#: Prefix of the fake machine secret keys (``MESHES_SECRET_KEY``).
SECRET_KEY_PREFIX = "msk_"

_TOKEN_RE = re.compile(r"\b(mat|mlt|msk)_[A-Za-z0-9_\-]+")
# A JWT (header.payload.signature, base64url; the signature may be empty with alg none).
_JWT_RE = re.compile(r"\beyJ[A-Za-z0-9_\-]*\.eyJ[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]*")
_BEARER_RE = re.compile(r"(?i)\b(bearer)\s+[^\s\"',;]+")
_LAUNCH_QUERY_RE = re.compile(r"([?&]launch=)[^&#\s\"']+")
REDACTED_SUFFIX = "…(redacted)"

Match = str | Callable[["TranscriptEntry"], bool]


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every token-shaped value replaced by a placeholder.

    Access tokens become ``mat_…(redacted)``, launch tokens ``mlt_…(redacted)``, machine
    secret keys ``msk_…(redacted)``, a JWT ``eyJ…(redacted)``, the value of a ``launch=``
    query parameter and of an ``Authorization: Bearer`` header likewise; any extra literal
    `secrets` (e.g. a forged token a test injected) are blanked too.
    """
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "…(redacted)")
    text = _JWT_RE.sub("eyJ" + REDACTED_SUFFIX, text)
    text = _TOKEN_RE.sub(lambda m: m.group(1) + "_" + REDACTED_SUFFIX, text)
    text = _BEARER_RE.sub(lambda m: m.group(1) + " " + REDACTED_SUFFIX, text)
    return _LAUNCH_QUERY_RE.sub(lambda m: m.group(1) + REDACTED_SUFFIX, text)


def _redact_value(value: Any, secrets: Iterable[str]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, Mapping):
        return {str(k): _redact_value(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(v, secrets) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(repr(value), secrets)


@dataclass(frozen=True)
class TranscriptEntry:
    """One line of the transcript.

    `source` is the double that wrote it (``host``, ``embed``, ``hostile`` or ``api``),
    `event` a short stable name (``minted``, ``refreshed``, ``ready``, ``auth``, ``resize``,
    ``navigate``, ``refresh-asked``, ``expired``, ...), `text` the human-readable line and
    `fields` the structured details; all of them already redacted.
    """

    index: int
    time: float
    source: str
    event: str
    text: str
    fields: Mapping[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(self.time))
        millis = int((self.time % 1) * 1000)
        return f"{stamp}.{millis:03d} [{self.source:<7}] {self.text}"

    def matches(self, match: Match) -> bool:
        """True when `match` (a substring of the line, or a predicate) fits this entry."""
        if isinstance(match, str):
            return match in self.text or match in str(self)
        return bool(match(self))


class Transcript:
    """A thread-safe, append-only list of :class:`TranscriptEntry` with waiting helpers.

    The servers' thread appends, the test thread reads and waits; ``mark()`` plus
    ``wait_for(..., after=mark)`` waits for something that happens *from now on*.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._cond = threading.Condition()
        self._entries: list[TranscriptEntry] = []
        self._secrets: list[str] = []

    def add_secret(self, secret: str) -> None:
        """Register an extra literal value that must never appear in the transcript."""
        with self._cond:
            if secret and secret not in self._secrets:
                self._secrets.append(secret)

    def add(self, source: str, event: str, text: str, **fields: Any) -> TranscriptEntry:
        """Append a line (redacted) and wake every waiter; returns the stored entry."""
        with self._cond:
            secrets = list(self._secrets)
            entry = TranscriptEntry(
                index=len(self._entries),
                time=self._clock(),
                source=source,
                event=event,
                text=redact(text, secrets),
                fields=_redact_value(fields, secrets),
            )
            self._entries.append(entry)
            self._cond.notify_all()
            return entry

    def mark(self) -> int:
        """The number of entries so far: pass it as ``after=`` to wait only for newer ones."""
        with self._cond:
            return len(self._entries)

    def entries(self, after: int = 0) -> list[TranscriptEntry]:
        """A snapshot of the entries from index `after` on."""
        with self._cond:
            return list(self._entries[after:])

    def lines(self, after: int = 0) -> list[str]:
        """The entries from `after` on, formatted as human-readable lines."""
        return [str(entry) for entry in self.entries(after)]

    def text(self, after: int = 0) -> str:
        """The whole transcript (from `after` on) as one printable string."""
        return "\n".join(self.lines(after))

    def find(self, match: Match, after: int = 0) -> list[TranscriptEntry]:
        """Every entry from `after` on that `match` fits."""
        return [entry for entry in self.entries(after) if entry.matches(match)]

    def count(self, match: Match, after: int = 0) -> int:
        """How many entries from `after` on `match` fits."""
        return len(self.find(match, after))

    def wait_for(self, match: Match, timeout: float = 10.0, after: int = 0) -> TranscriptEntry:
        """Block until an entry (index >= `after`) fits `match`; return the first one.

        `match` is a substring of the line or a predicate over :class:`TranscriptEntry`.
        Raises :class:`TimeoutError` (with the transcript's tail in the message) otherwise.
        """
        deadline = time.monotonic() + timeout
        seen = after
        with self._cond:
            while True:
                for entry in self._entries[seen:]:
                    if entry.matches(match):
                        return entry
                seen = max(seen, len(self._entries))
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    tail = "\n".join(str(e) for e in self._entries[-15:])
                    raise TimeoutError(
                        f"no transcript entry matching {match!r} within {timeout} s; "
                        f"last lines:\n{tail}"
                    )
                self._cond.wait(remaining)

    def wait_new(self, after: int, timeout: float) -> list[TranscriptEntry]:
        """Entries from `after` on, waiting up to `timeout` s for at least one (for streaming)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._entries) <= after:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self._cond.wait(remaining)
            return list(self._entries[after:])

    def clear(self) -> None:
        """Forget every entry (registered secrets stay)."""
        with self._cond:
            self._entries.clear()
            self._cond.notify_all()

    def __len__(self) -> int:
        return self.mark()

    def __str__(self) -> str:
        return self.text()
