"""A reverse proxy that breaks an example app on purpose, from the outside.

The doctor's tests put it in front of an unmodified example app (its own process, under
its framework's real server) and open the proxy's origin: the page origin the app is
configured for. Each fault changes what the browser gets, the way a misconfigured web
server, middleware or template would: a `loader.js` answering 404, a `.wasm` with the
wrong MIME type, a CSP header replaced, a COOP header added, the CSRF pair stripped from
the container, a hooks module that raises added to the script tag. The Host header is
passed through, so the app (and Django's CSRF origin check) sees the proxy's origin.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from meshes_bridge.testing.doubles.servers import bind

HOOKS_PATH = "/doctor-hooks/raising.py"
RAISING_HOOKS = """\
def on_ready(embed):
    raise ValueError("the host's hook is broken")
"""
# Hop-by-hop headers, and what the proxy recomputes.
_DROPPED = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "content-encoding",
    "upgrade",
}

FAULTS = (
    "loader-404",
    "wasm-mime",
    "csp-no-frame-src",
    "csp-unsafe-eval",
    "coop-same-origin",
    "csrf-missing",
    "hooks-raise",
)
HOOKS = {"hooks-raise": RAISING_HOOKS}


def _csp(policy: str, fault: str) -> str:
    directives = [d.strip() for d in policy.split(";") if d.strip()]
    if fault == "csp-no-frame-src":
        return "; ".join(d for d in directives if not d.startswith("frame-src"))
    if fault == "csp-unsafe-eval":
        return "; ".join(
            d + " 'unsafe-eval'" if d.startswith("script-src") else d for d in directives
        )
    return policy


class FaultyProxy:
    """Forwards to `upstream` (``http://127.0.0.1:PORT``), with `fault` applied (None:
    a plain proxy). Set `fault` between runs."""

    def __init__(self) -> None:
        self.sock = bind()
        self.port = self.sock.getsockname()[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        self.upstream = ""
        self.fault: str | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None

    def start(self, upstream: str) -> FaultyProxy:
        self.upstream = upstream.rstrip("/")
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    async def _start(self) -> None:
        self._client = aiohttp.ClientSession(auto_decompress=True)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.SockSite(self._runner, self.sock).start()

    def stop(self) -> None:
        async def _stop() -> None:
            if self._client is not None:
                await self._client.close()
            if self._runner is not None:
                await self._runner.cleanup()

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(_stop(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        fault = self.fault
        path = request.path
        if fault == "loader-404" and path.endswith("/loader.js"):
            return web.Response(status=404, text="Not Found")
        if fault in HOOKS and path == HOOKS_PATH:
            return web.Response(text=HOOKS[fault], content_type="text/x-python")
        headers = CIMultiDict(
            (k, v) for k, v in request.headers.items() if k.lower() not in _DROPPED
        )
        assert self._client is not None
        async with self._client.request(
            request.method,
            self.upstream + request.path_qs,
            headers=headers,
            data=await request.read(),
            allow_redirects=False,
        ) as answer:
            body = await answer.read()
            out = CIMultiDict(
                (k, v) for k, v in answer.headers.items() if k.lower() not in _DROPPED
            )
            status = answer.status
        content_type = out.get("Content-Type", "")
        if content_type.startswith("text/html"):
            body, out = self._page(body, out, fault)
        if fault == "wasm-mime" and path.endswith(".wasm"):
            out["Content-Type"] = "application/octet-stream"
        return web.Response(status=status, body=body, headers=out)

    def _page(
        self, body: bytes, headers: CIMultiDict[str], fault: str | None
    ) -> tuple[bytes, CIMultiDict[str]]:
        if "Content-Security-Policy" in headers and fault in (
            "csp-no-frame-src",
            "csp-unsafe-eval",
        ):
            headers["Content-Security-Policy"] = _csp(headers["Content-Security-Policy"], fault)
        if fault == "coop-same-origin":
            headers["Cross-Origin-Opener-Policy"] = "same-origin"
        text = body.decode("utf-8")
        if fault == "csrf-missing":
            text = re.sub(r'\s+data-csrf-(cookie|header)="[^"]*"', "", text)
        if fault in HOOKS:
            text = re.sub(
                r'(<script\b[^>]*src="[^"]*loader\.js")', rf'\1 data-hooks="{HOOKS_PATH}"', text
            )
        return text.encode("utf-8"), headers


@contextmanager
def faulty_proxy(upstream: str) -> Iterator[FaultyProxy]:
    proxy = FaultyProxy().start(upstream)
    try:
        yield proxy
    finally:
        proxy.stop()
