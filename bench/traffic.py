"""Bytes the host origin sends a page, as transferred: each response's encoded length
(compressed body plus headers) from the DevTools protocol's ``Network.loadingFinished``.
Answers from the browser's cache cost nothing; a 304 costs its headers."""

from __future__ import annotations

import time
from typing import Any

from playwright.sync_api import CDPSession, Page

QUIET_S = 0.3
QUIET_TIMEOUT_S = 10.0


class HostTraffic:
    """Counts requests to `host_url` and the bytes answered, from :meth:`reset` on."""

    def __init__(self, page: Page, cdp: CDPSession, host_url: str) -> None:
        self.page = page
        self.host_prefix = host_url.rstrip("/") + "/"
        self._urls: dict[str, str] = {}
        self._inflight: set[str] = set()
        self.bytes = 0
        self.requests = 0
        self._last = time.monotonic()
        cdp.on("Network.requestWillBeSent", self._sent)
        cdp.on("Network.loadingFinished", self._finished)
        cdp.on("Network.loadingFailed", self._failed)
        cdp.send("Network.enable")

    def reset(self) -> None:
        self.bytes = 0
        self.requests = 0
        self._last = time.monotonic()

    def _sent(self, params: dict[str, Any]) -> None:
        url = params.get("request", {}).get("url", "")
        if url.startswith(self.host_prefix):
            request_id = params["requestId"]
            self._urls[request_id] = url
            self._inflight.add(request_id)
            self._last = time.monotonic()

    def _finished(self, params: dict[str, Any]) -> None:
        request_id = params["requestId"]
        if request_id in self._inflight:
            self._inflight.discard(request_id)
            length = int(params.get("encodedDataLength") or 0)
            if length > 0:
                self.bytes += length
                self.requests += 1
            self._last = time.monotonic()

    def _failed(self, params: dict[str, Any]) -> None:
        self._inflight.discard(params["requestId"])
        self._last = time.monotonic()

    def wait_quiet(self, quiet: float = QUIET_S, timeout: float = QUIET_TIMEOUT_S) -> None:
        """Until no request to the host origin is pending and none was seen for `quiet` s
        (events are delivered while Playwright waits)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._inflight and time.monotonic() - self._last >= quiet:
                return
            self.page.wait_for_timeout(50)
