"""Start the four loopback origins (HOST, EMBED, HOSTILE, API) on one asyncio loop in a thread.

    with start_servers(static_dir) as servers:
        servers.backend.add_page("/", page_html())
        page.goto(servers.host_url + "/")
        servers.transcript.wait_for("token #1 valid")

Each origin is an aiohttp site on 127.0.0.1 with its own port (0 = any free port). aiohttp
sets TCP_NODELAY on every accepted connection (``GET /_doubles/socket`` reports it), and no
access log is written.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from aiohttp import web

from meshes_bridge.testing.doubles.fake_meshes import DEFAULT_WORKSPACE_ID, FakeMeshes
from meshes_bridge.testing.doubles.host_backend import ApiAccess, HostBackend
from meshes_bridge.testing.doubles.hostile import Hostile
from meshes_bridge.testing.doubles.management_api import TEST_KEY, ManagementAPI
from meshes_bridge.testing.doubles.stub_embed import StubEmbed
from meshes_bridge.testing.doubles.transcript import Transcript

LOOPBACK = "127.0.0.1"
SHUTDOWN_TIMEOUT = 2.0
START_TIMEOUT = 15.0


class Servers:
    """The running origins and the doubles behind them.

    * ``host_url``, ``embed_url``, ``hostile_url``, ``api_url``: e.g. ``http://127.0.0.1:41234``
    * ``fake``: the :class:`FakeMeshes` session store
    * ``backend``: the :class:`HostBackend` (pages, failure
      injection, recorded requests)
    * ``transcript``: the shared, redacted :class:`Transcript`
    * ``hostile``: the :class:`Hostile` attackers' record
    * ``stub``: the :class:`StubEmbed` server side
    * ``api``: the :class:`ManagementAPI` (the fake Meshes
      management API: machine keys, fault injection, recorded calls)
    """

    def __init__(
        self,
        host_url: str,
        embed_url: str,
        hostile_url: str,
        fake: FakeMeshes,
        backend: HostBackend,
        transcript: Transcript,
        hostile: Hostile,
        stub: StubEmbed,
        api_url: str,
        api: ManagementAPI,
        loop: asyncio.AbstractEventLoop,
        thread: threading.Thread,
        runners: list[web.AppRunner],
    ) -> None:
        self.host_url = host_url
        self.embed_url = embed_url
        self.hostile_url = hostile_url
        self.fake = fake
        self.backend = backend
        self.transcript = transcript
        self.hostile = hostile
        self.stub = stub
        self.api_url = api_url
        self.api = api
        self._loop = loop
        self._thread = thread
        self._runners = runners
        self._stopped = False
        self._stop_lock = threading.Lock()

    def url(self, path: str = "/") -> str:
        """An absolute URL on the host origin."""
        return self.host_url + path

    def attack_url(self, target: str | None = None) -> str:
        """The hostile ``/attack`` page, aiming at `target` (default: the host origin)."""
        return f"{self.hostile_url}/attack?target={target or self.host_url}"

    def other_frame_url(self) -> str:
        """The embed-origin page that is not the bridge's iframe."""
        return f"{self.embed_url}/other-frame?target={self.host_url}"

    def meshes_env(self) -> dict[str, str]:
        """The environment an app needs to mint through the fake API with the test key
        (``MESHES_*`` as in server-interface.md)."""
        key = TEST_KEY
        return {
            "MESHES_ORG_ID": key.org_id,
            "MESHES_ACCESS_KEY": key.access_key,
            "MESHES_SECRET_KEY": key.secret_key,
            "MESHES_WORKSPACE_ID": DEFAULT_WORKSPACE_ID,
            "MESHES_API_URL": self.api_url,
            "MESHES_EMBED_ORIGIN": self.embed_url,
            "MESHES_ALLOWED_ORIGINS": self.host_url,
        }

    def reset(self) -> None:
        """Between tests: backend and API defaults (no injections, no calls, CSRF off, only
        the test machine key), fake knobs back to defaults and no sessions, an empty
        transcript and hostile record. Pages and files registered on the backend stay."""
        self.backend.reset()
        self.api.reset()
        self.fake.reset_knobs()
        self.fake.reset()
        self.transcript.clear()
        self.hostile.clear()

    def stop(self) -> None:
        """Stop the four sites and the loop's thread (idempotent)."""
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
        self.backend.release_hung()
        self.api.release_hung()
        if self._loop.is_running():
            future = asyncio.run_coroutine_threadsafe(_cleanup(self._runners), self._loop)
            try:
                future.result(timeout=SHUTDOWN_TIMEOUT * 3 + 5)
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self._loop.close()

    def __enter__(self) -> Servers:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return (
            f"Servers(host={self.host_url}, embed={self.embed_url}, "
            f"hostile={self.hostile_url}, api={self.api_url})"
        )


def _bind(port: int) -> socket.socket:
    try:
        return socket.create_server((LOOPBACK, port))
    except OSError as error:
        raise OSError(
            error.errno, f"cannot listen on {LOOPBACK}:{port}: {error.strerror}"
        ) from error


async def _start(apps: list[tuple[web.Application, socket.socket]]) -> list[web.AppRunner]:
    runners: list[web.AppRunner] = []
    for app, sock in apps:
        runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=SHUTDOWN_TIMEOUT
        )
        await runner.setup()
        runners.append(runner)
        await web.SockSite(runner, sock).start()
    return runners


async def _cleanup(runners: list[web.AppRunner]) -> None:
    for runner in runners:
        await runner.cleanup()


def start_servers(
    static_dir: Path | None,
    host_port: int = 0,
    embed_port: int = 0,
    hostile_port: int = 0,
    api_port: int = 0,
    *,
    clock: Callable[[], float] = time.time,
) -> Servers:
    """Start the HOST, EMBED, HOSTILE and API origins on 127.0.0.1 and return them running.

    `static_dir` is the tree from ``python -m meshes_bridge static DIR``, served at
    ``/static/meshes-bridge/`` (None: nothing there). Ports 0 pick free ports. `clock`
    is the fake Meshes' clock (e.g. a :class:`ManualClock`).
    Use the result as a context manager, or call ``stop()``.
    """
    sockets: list[socket.socket] = []
    try:
        for port in (host_port, embed_port, hostile_port, api_port):
            sockets.append(_bind(port))
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return serve_doubles(sockets, static_dir, clock=clock)


def serve_doubles(
    sockets: list[socket.socket],
    static_dir: Path | None,
    *,
    clock: Callable[[], float] = time.time,
    backend_class: type[HostBackend] = HostBackend,
    embed_class: type[StubEmbed] = StubEmbed,
    thread_name: str = "meshes-doubles",
) -> Servers:
    """Serve HOST, EMBED, HOSTILE and API on these four bound sockets, in that order (each
    URL is its socket's address), with these backend and embed classes; if the servers
    cannot start, the sockets are closed. What start_servers does once it has bound its ports."""
    host_url, embed_url, hostile_url, api_url = (
        "http://{}:{}".format(*sock.getsockname()[:2]) for sock in sockets
    )
    transcript = Transcript()
    fake = FakeMeshes(embed_url, now=clock)
    key = TEST_KEY
    backend = backend_class(
        fake,
        transcript,
        host_url,
        static_dir,
        api=ApiAccess(api_url, key.org_id, key.access_key, key.secret_key),
    )
    stub = embed_class(fake, transcript)
    hostile = Hostile(transcript, host_url)
    api = ManagementAPI(fake, transcript, default_host_origin=host_url)
    embed_app = stub.make_app()
    hostile.add_other_frame(embed_app)
    apps = [
        (backend.make_app(), sockets[0]),
        (embed_app, sockets[1]),
        (hostile.make_app(), sockets[2]),
        (api.make_app(), sockets[3]),
    ]

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name=thread_name, daemon=True)
    thread.start()
    try:
        runners = asyncio.run_coroutine_threadsafe(_start(apps), loop).result(START_TIMEOUT)
    except BaseException:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        for sock in sockets:
            sock.close()
        raise
    return Servers(
        host_url=host_url,
        embed_url=embed_url,
        hostile_url=hostile_url,
        fake=fake,
        backend=backend,
        transcript=transcript,
        hostile=hostile,
        stub=stub,
        api_url=api_url,
        api=api,
        loop=loop,
        thread=thread,
        runners=runners,
    )
