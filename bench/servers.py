"""The doubles as the benchmark serves them: the same four origins as the tests, plus

* static files as a plain static server sends them: gzip-compressed (``Content-Encoding:
  gzip``; already-compressed formats as they are), with validators (``ETag`` and
  ``Last-Modified``, answered 304 on ``If-None-Match`` / ``If-Modified-Since``) and
  ``Cache-Control: no-cache``: every reuse is revalidated (the worst case for a warm load,
  and the same whatever the files' age), nothing is cached for good;
* the baseline's handler (``bench/baseline``) served the same way at ``/static/baseline/``;
* host pages gzip-compressed too;
* ``BenchEmbed.document_delay``: the embed's document answers that many seconds late (the
  mint delay is the host backend's own ``delay("mint", seconds)``).

The host origin is the tests' own (the product's server half, ``tests.host``); it and the
stub embed are subclassed, each with one middleware, and :func:`start_bench_servers`
assembles them like ``tests.host.servers.start_host_servers`` does.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path

from aiohttp import web
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from meshes_bridge.testing.doubles.stub_embed import StubEmbed
from tests.host.origin import HostOrigin
from tests.host.pages import STATIC_PREFIX, mime_type
from tests.host.servers import HostServers, start_host_servers

#: Host, embed, attacker, API: the embed and the attacker on other loopback addresses than
#: the host page, so they are other *sites*, as in production (embed.meshes.io is not the
#: host's site). Chromium then runs them in their own renderer processes and the host
#: page's main thread carries only the host page's work. (Ports alone do not make another
#: site: 127.0.0.1:A and 127.0.0.1:B would share one process.)
ADDRESSES = ("127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.1")
#: As the tests run them: one address, every origin the same site (one renderer process).
SAME_SITE_ADDRESSES = ("127.0.0.1",) * 4
BASELINE_DIR = Path(__file__).resolve().parent / "baseline"
BASELINE_PREFIX = "/static/baseline/"
#: Already compressed: served as they are, as a static server's gzip filter does.
PRECOMPRESSED = frozenset({".zip", ".whl", ".gz", ".png", ".jpg", ".woff2"})
GZIP_LEVEL = 6
MIN_GZIP_BYTES = 256

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class _Encoded:
    body: bytes
    gzipped: bool
    etag: str
    last_modified: float


class StaticFiles:
    """Files under URL prefixes, each read, compressed and hashed once."""

    def __init__(self, roots: dict[str, Path]) -> None:
        self.roots = {prefix: root.resolve() for prefix, root in roots.items()}
        self._cache: dict[Path, _Encoded] = {}
        self._lock = threading.Lock()

    def find(self, path: str) -> Path | None:
        for prefix, root in self.roots.items():
            if path.startswith(prefix):
                target = (root / path[len(prefix) :]).resolve()
                if target.is_relative_to(root) and target.is_file():
                    return target
                return None
        return None

    def _encoded(self, target: Path) -> _Encoded:
        with self._lock:
            cached = self._cache.get(target)
        if cached is not None:
            return cached
        raw = target.read_bytes()
        gzipped = target.suffix.lower() not in PRECOMPRESSED and len(raw) >= MIN_GZIP_BYTES
        body = gzip.compress(raw, GZIP_LEVEL, mtime=0) if gzipped else raw
        etag = '"' + hashlib.sha256(raw).hexdigest()[:20] + '"'
        encoded = _Encoded(body, gzipped, etag, int(target.stat().st_mtime))
        with self._lock:
            self._cache[target] = encoded
        return encoded

    def response(self, request: Request, target: Path) -> Response:
        encoded = self._encoded(target)
        headers = {
            "ETag": encoded.etag,
            "Last-Modified": formatdate(encoded.last_modified, usegmt=True),
            "Cache-Control": "no-cache",
            "Vary": "Accept-Encoding",
        }
        if _not_modified(request, encoded):
            return Response(status_code=304, headers=headers)
        if encoded.gzipped:
            headers["Content-Encoding"] = "gzip"
        return Response(encoded.body, headers=headers, media_type=mime_type(target.name))


def _not_modified(request: Request, encoded: _Encoded) -> bool:
    match = request.headers.get("If-None-Match")
    if match is not None:
        return encoded.etag in [tag.strip() for tag in match.split(",")]
    since = request.headers.get("If-Modified-Since")
    if since is None:
        return False
    try:
        return parsedate_to_datetime(since).timestamp() >= encoded.last_modified
    except (TypeError, ValueError):
        return False


class BenchHost(HostOrigin):
    """The tests' host origin, its static files served by :class:`StaticFiles` and its
    other answers gzip-compressed."""

    def make_app(self) -> ASGIApp:
        app = GZipMiddleware(super().make_app(), minimum_size=MIN_GZIP_BYTES)
        roots = {BASELINE_PREFIX: BASELINE_DIR}
        if self.static_dir is not None:
            roots[STATIC_PREFIX] = self.static_dir
        files = StaticFiles(roots)

        async def serve(scope: Scope, receive: Receive, send: Send) -> None:
            path = scope.get("path", "")
            if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
                if path.startswith("/static/"):
                    request = Request(scope, receive)
                    target = files.find(path)
                    response = (
                        files.response(request, target)
                        if target is not None
                        else Response("Not Found", status_code=404)
                    )
                    await response(scope, receive, send)
                    return
            await app(scope, receive, send)

        return serve


class BenchEmbed(StubEmbed):
    """The stub embed; its documents (``/workspace/...``) answer `document_delay` s late."""

    document_delay = 0.0

    def make_app(self) -> web.Application:
        app = super().make_app()

        @web.middleware
        async def delay(request: web.Request, handler: Handler) -> web.StreamResponse:
            seconds = self.document_delay
            if seconds > 0 and request.path.startswith("/workspace/"):
                await asyncio.sleep(seconds)
            return await handler(request)

        app.middlewares.append(delay)
        return app


@dataclass
class BenchServers:
    """The running doubles (``servers``) and the embed with its delay knob."""

    servers: HostServers
    embed: BenchEmbed

    def set_profile(self, mint_delay: float, document_delay: float) -> None:
        self.servers.backend.delay("mint", mint_delay)
        self.embed.document_delay = document_delay

    def reset(self) -> None:
        self.servers.reset()
        self.embed.document_delay = 0.0

    def stop(self) -> None:
        self.servers.stop()


def start_bench_servers(static_dir: Path, same_site: bool = False) -> BenchServers:
    """The four origins on free loopback ports, as ``start_host_servers(static_dir)`` starts
    them but with :class:`BenchHost` and :class:`BenchEmbed`, the embed and the attacker
    on other sites than the host unless `same_site`. Call ``stop()``."""
    servers = start_host_servers(
        static_dir,
        addresses=SAME_SITE_ADDRESSES if same_site else ADDRESSES,
        origin_class=BenchHost,
        embed_class=BenchEmbed,
    )
    stub = servers.stub
    assert isinstance(stub, BenchEmbed)
    return BenchServers(servers, stub)
