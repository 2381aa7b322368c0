"""Start the fake Meshes (EMBED, HOSTILE, API) on one asyncio loop in a thread.

    with start_servers() as meshes:
        env = meshes.meshes_env(allowed_origins="http://127.0.0.1:8000")  # your app's origin
        ...                                     # start your app with env, open its page
        meshes.transcript.wait_for("token #1 valid")

Each origin is an aiohttp site on 127.0.0.1 with its own port (0 = any free port). aiohttp
sets TCP_NODELAY on every accepted connection (``GET /_doubles/socket`` reports it), and no
access log is written. The host origin is the host team's own app: the kit does not play it.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Sequence

from aiohttp import web

from meshes_bridge.testing.doubles.fake_meshes import DEFAULT_WORKSPACE_ID, FakeMeshes
from meshes_bridge.testing.doubles.hostile import Hostile
from meshes_bridge.testing.doubles.management_api import TEST_KEY, ManagementAPI
from meshes_bridge.testing.doubles.stub_embed import StubEmbed
from meshes_bridge.testing.doubles.transcript import Transcript

LOOPBACK = "127.0.0.1"
SHUTDOWN_TIMEOUT = 2.0
START_TIMEOUT = 15.0


class Servers:
    """The running fake Meshes and the doubles behind it.

    * ``embed_url``, ``hostile_url``, ``api_url``: e.g. ``http://127.0.0.1:41234``
    * ``fake``: the :class:`FakeMeshes` session store
    * ``transcript``: the shared, redacted :class:`Transcript`
    * ``hostile``: the :class:`Hostile` attacker's page and record
    * ``stub``: the :class:`StubEmbed` server side
    * ``api``: the :class:`ManagementAPI` (the fake Meshes management API: machine keys,
      fault injection, recorded calls)
    * ``host_origin``: the host page's origin when it was given at start, else None
    """

    def __init__(
        self,
        *,
        embed_url: str,
        hostile_url: str,
        api_url: str,
        fake: FakeMeshes,
        transcript: Transcript,
        hostile: Hostile,
        stub: StubEmbed,
        api: ManagementAPI,
        host_origin: str | None,
        loop: asyncio.AbstractEventLoop,
        thread: threading.Thread,
        runners: list[web.AppRunner],
    ) -> None:
        self.embed_url = embed_url
        self.hostile_url = hostile_url
        self.api_url = api_url
        self.fake = fake
        self.transcript = transcript
        self.hostile = hostile
        self.stub = stub
        self.api = api
        self.host_origin = host_origin
        self._loop = loop
        self._thread = thread
        self._runners = runners
        self._stopped = False
        self._stop_lock = threading.Lock()

    def attack_url(self, target: str | None = None) -> str:
        """The hostile ``/attack`` page, aiming at `target` (default: the host origin)."""
        aim = target or self.host_origin
        if not aim:
            raise ValueError("attack_url needs the target origin (no host origin was given)")
        return f"{self.hostile_url}/attack?target={aim}"

    def other_frame_url(self, target: str | None = None) -> str:
        """The embed-origin page that is not the bridge's iframe, aiming at `target`."""
        aim = target or self.host_origin
        if not aim:
            raise ValueError("other_frame_url needs the target origin (no host origin was given)")
        return f"{self.embed_url}/other-frame?target={aim}"

    def meshes_env(self, allowed_origins: str | Sequence[str] | None = None) -> dict[str, str]:
        """The ``MESHES_*`` variables (server-interface.md) an app needs to mint through the
        fake API with the test key; with `allowed_origins` (the app's own origin, or
        several), ``MESHES_ALLOWED_ORIGINS`` too."""
        key = TEST_KEY
        env = {
            "MESHES_ORG_ID": key.org_id,
            "MESHES_ACCESS_KEY": key.access_key,
            "MESHES_SECRET_KEY": key.secret_key,
            "MESHES_WORKSPACE_ID": DEFAULT_WORKSPACE_ID,
            "MESHES_API_URL": self.api_url,
            "MESHES_EMBED_ORIGIN": self.embed_url,
        }
        if allowed_origins:
            origins = [allowed_origins] if isinstance(allowed_origins, str) else allowed_origins
            env["MESHES_ALLOWED_ORIGINS"] = ",".join(origins)
        return env

    def reset(self) -> None:
        """Between tests: API defaults (no injections, no calls, only the test machine
        key), fake knobs back to defaults and no sessions, an empty transcript and
        attacker record."""
        self.api.reset()
        self.fake.reset_knobs()
        self.fake.reset()
        self.transcript.clear()
        self.hostile.clear()

    def stop(self) -> None:
        """Stop the sites and the loop's thread (idempotent)."""
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
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

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Servers(embed={self.embed_url}, hostile={self.hostile_url}, api={self.api_url})"


def bind(port: int = 0, address: str = LOOPBACK) -> socket.socket:
    """A listening socket on `address`:`port` (0: a free port), with an error naming it.

    TCP_NODELAY is set here, and accepted connections inherit it: asyncio sets it only on
    sockets it made itself (``create_server`` gives ``proto`` 0, which it skips), and a
    server that sends a response's head and body as two writes on a kept-alive connection
    would otherwise wait for the client's delayed ACK: 40 ms a request on Linux.
    """
    try:
        sock = socket.create_server((address, port))
    except OSError as error:
        raise OSError(
            error.errno, f"cannot listen on {address}:{port}: {error.strerror}"
        ) from error
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


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
    embed_port: int = 0,
    hostile_port: int = 0,
    api_port: int = 0,
    *,
    host_origin: str | None = None,
    clock: Callable[[], float] = time.time,
) -> Servers:
    """Start the EMBED, HOSTILE and API origins on 127.0.0.1 and return them running.

    Ports 0 pick free ports. `host_origin` (the app's origin, when known) is where the
    attacker pages aim by default. `clock` is the fake Meshes' clock (e.g. a
    :class:`ManualClock`). Use the result as a context manager, or call ``stop()``.
    """
    sockets: list[socket.socket] = []
    try:
        for port in (embed_port, hostile_port, api_port):
            sockets.append(bind(port))
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return serve_doubles(sockets, host_origin=host_origin, clock=clock)


def serve_doubles(
    sockets: Sequence[socket.socket],
    *,
    host_origin: str | None = None,
    clock: Callable[[], float] = time.time,
    embed_class: type[StubEmbed] = StubEmbed,
    hostile_class: type[Hostile] = Hostile,
    thread_name: str = "meshes-doubles",
) -> Servers:
    """Serve EMBED, HOSTILE and API on these three bound sockets, in that order (each URL
    is its socket's address), with these embed and attacker classes; if the servers cannot
    start, the sockets are closed. What start_servers does once it has bound its ports."""
    embed_url, hostile_url, api_url = (
        "http://{}:{}".format(*sock.getsockname()[:2]) for sock in sockets
    )
    transcript = Transcript()
    fake = FakeMeshes(embed_url, now=clock)
    stub = embed_class(fake, transcript)
    hostile = hostile_class(transcript, host_origin or "")
    api = ManagementAPI(fake, transcript, default_host_origin=host_origin)
    embed_app = stub.make_app()
    hostile.add_other_frame(embed_app)
    apps = [
        (embed_app, sockets[0]),
        (hostile.make_app(), sockets[1]),
        (api.make_app(), sockets[2]),
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
        embed_url=embed_url,
        hostile_url=hostile_url,
        api_url=api_url,
        fake=fake,
        transcript=transcript,
        hostile=hostile,
        stub=stub,
        api=api,
        host_origin=host_origin,
        loop=loop,
        thread=thread,
        runners=runners,
    )
