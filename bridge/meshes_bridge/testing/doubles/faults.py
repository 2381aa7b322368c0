"""Fault injection for the HTTP doubles: queued failures, delays and hangs per endpoint.

:class:`~meshes_bridge.testing.doubles.management_api.ManagementAPI` (and the browser
tests' host origin) each hold a :class:`Faults` and delegate their ``fail_next`` /
``delay`` / ``hang_next`` / ``release_hung`` / ``clear_injections`` to it. A double's
handler calls :meth:`Faults.take` first and answers what it returns; what the answers look
like (bodies, the 503 of a released hang, transcript lines) stays with each double.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

#: Statuses whose answers have no body (HTTP forbids one).
BODILESS_STATUSES = (204, 205, 304)


@dataclass(frozen=True)
class Failure:
    """An injected answer: `status`, `body` (JSON text; None means the double's default
    body) and `retry_after` (the ``Retry-After`` header value; None means no header)."""

    status: int
    body: str | None = None
    retry_after: str | None = None

    def answer(self, default_body: Mapping[str, Any]) -> tuple[str | None, dict[str, str]]:
        """The JSON text to answer (`default_body` when no body was given; None: a 204, 205
        or 304 has no body at all) and the headers, for any server to send."""
        headers = {"Retry-After": self.retry_after} if self.retry_after else {}
        if self.status in BODILESS_STATUSES:
            return None, headers
        return (json.dumps(dict(default_body)) if self.body is None else self.body), headers

    def response(self, default_body: Mapping[str, Any]) -> web.Response:
        """This failure as an aiohttp response (see :meth:`answer`)."""
        text, headers = self.answer(default_body)
        if text is None:
            return web.Response(status=self.status, headers=headers)
        return web.Response(
            status=self.status, text=text, content_type="application/json", headers=headers
        )


@dataclass(frozen=True)
class Hung:
    """What :meth:`Faults.take` returns for a hung request that :meth:`Faults.release_hung`
    ended: the double answers it with a 503."""


@dataclass
class _Queued:
    failure: Failure
    left: int


class Faults:
    """Injected failures, delays and hangs for a double's `endpoints` (names).

    Thread-safe: tests arm it from their own thread while the servers' loop consumes it in
    :meth:`take`. Call :meth:`bind_loop` on the aiohttp app's startup, so that
    :meth:`release_hung` can reach the loop the hung requests wait on.
    """

    def __init__(self, endpoints: Iterable[str]) -> None:
        self.endpoints = tuple(endpoints)
        self._lock = threading.Lock()
        self._failures: dict[str, list[_Queued]] = {e: [] for e in self.endpoints}
        self._delays: dict[str, float] = {e: 0.0 for e in self.endpoints}
        self._hangs: dict[str, int] = {e: 0 for e in self.endpoints}
        # Both belong to the servers' loop: only touched there (bind_loop, take,
        # _release_now), so they need no lock.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._release: asyncio.Event | None = None

    def fail_next(
        self,
        endpoint: str,
        status: int,
        count: int = 1,
        body: str | Mapping[str, Any] | None = None,
        retry_after: float | str | None = None,
    ) -> None:
        """Answer the next `count` requests to `endpoint` with `status` instead of handling
        them. `body` is a JSON object or raw text (None: the double's default body);
        `retry_after` becomes a ``Retry-After`` header (seconds, or an HTTP date as a
        string). Queued after earlier injections."""
        self._check(endpoint)
        if not 200 <= status <= 599 or count < 1:
            raise ValueError("status must be 200-599 and count >= 1")
        text = json.dumps(body) if isinstance(body, Mapping) else body
        after = None
        if retry_after is not None:
            after = retry_after if isinstance(retry_after, str) else f"{retry_after:g}"
        with self._lock:
            self._failures[endpoint].append(_Queued(Failure(status, text, after), count))

    def delay(self, endpoint: str, seconds: float) -> None:
        """Wait `seconds` before answering every request to `endpoint` (0 = no delay)."""
        self._check(endpoint)
        with self._lock:
            self._delays[endpoint] = max(0.0, float(seconds))

    def hang_next(self, endpoint: str, count: int = 1) -> None:
        """Never answer the next `count` requests to `endpoint` (until the client gives up,
        or :meth:`release_hung`)."""
        self._check(endpoint)
        if count < 1:
            raise ValueError("count must be >= 1")
        with self._lock:
            self._hangs[endpoint] += count

    def release_hung(self) -> None:
        """End every hung request now (:meth:`take` returns :class:`Hung` to each). Does
        nothing before :meth:`bind_loop` or after the loop closed."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._release_now)

    def clear(self) -> None:
        """Drop pending failures, hangs and delays (requests hung already stay hung)."""
        with self._lock:
            for endpoint in self.endpoints:
                self._failures[endpoint].clear()
                self._delays[endpoint] = 0.0
                self._hangs[endpoint] = 0

    def bind_loop(self) -> None:
        """Adopt the running loop as the one requests are answered on; call it from the
        aiohttp app's startup."""
        self._loop = asyncio.get_running_loop()
        self._release = asyncio.Event()

    async def take(
        self, endpoint: str, on_hang: Callable[[], object] | None = None
    ) -> Failure | Hung | None:
        """Apply the injections to one request to `endpoint`: hang it (calling `on_hang`
        first, then waiting for :meth:`release_hung`) or wait out the delay. Returns None
        (go ahead), :class:`Hung` (released: answer 503) or the :class:`Failure` to answer.
        """
        with self._lock:
            hang = self._hangs[endpoint] > 0
            if hang:
                self._hangs[endpoint] -= 1
            delay = self._delays[endpoint]
        if hang:
            # Before the wait: tests wait for the double's "hangs" line, then release it.
            if on_hang is not None:
                on_hang()
            if self._release is None:
                self._release = asyncio.Event()
            await self._release.wait()
            return Hung()
        if delay:
            await asyncio.sleep(delay)
        with self._lock:
            queue = self._failures[endpoint]
            if not queue:
                return None
            queued = queue[0]
            queued.left -= 1
            if queued.left <= 0:
                queue.pop(0)
            return queued.failure

    def _release_now(self) -> None:
        # Runs on the servers' loop: wake the current waiters; later hangs wait on a new
        # event, so one release does not let every future hang through.
        if self._release is not None:
            self._release.set()
        self._release = asyncio.Event()

    def _check(self, endpoint: str) -> None:
        if endpoint not in self.endpoints:
            raise ValueError(f"endpoint must be one of {self.endpoints}, not {endpoint!r}")
