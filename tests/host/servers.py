"""Start the HOST origin (the product's server half, under uvicorn) with the fake Meshes
(EMBED, HOSTILE, API) behind it.

    with start_host_servers(static_dir) as servers:
        servers.backend.add_page("/", page_html())
        page.goto(servers.url("/"))
        servers.transcript.wait_for("token #1 valid")
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from meshes_bridge.testing.app_server import RunningApp, serve_asgi_app
from meshes_bridge.testing.doubles.hostile import Hostile
from meshes_bridge.testing.doubles.servers import LOOPBACK, Servers, bind, serve_doubles
from meshes_bridge.testing.doubles.stub_embed import StubEmbed
from tests.host.origin import HostOrigin

#: Host, embed, attacker, API: one address, every origin the same site.
SAME_SITE = (LOOPBACK,) * 4


class HostServers:
    """The running origins: ``host_url``, ``embed_url``, ``hostile_url``, ``api_url``;
    ``backend`` (the :class:`HostOrigin`), and the fake Meshes' ``fake``, ``transcript``,
    ``hostile``, ``stub`` and ``api`` (``meshes`` is the fake Meshes as a whole)."""

    def __init__(self, meshes: Servers, backend: HostOrigin, app: RunningApp) -> None:
        self.meshes = meshes
        self.backend = backend
        self._app = app
        self.host_url = backend.host_url
        self.embed_url = meshes.embed_url
        self.hostile_url = meshes.hostile_url
        self.api_url = meshes.api_url
        self.fake = meshes.fake
        self.transcript = meshes.transcript
        self.hostile = meshes.hostile
        self.stub = meshes.stub
        self.api = meshes.api

    def url(self, path: str = "/") -> str:
        """An absolute URL on the host origin."""
        return self.host_url + path

    def attack_url(self, target: str | None = None) -> str:
        """The hostile ``/attack`` page, aiming at `target` (default: the host origin)."""
        return self.meshes.attack_url(target or self.host_url)

    def other_frame_url(self) -> str:
        """The embed-origin page that is not the bridge's iframe."""
        return self.meshes.other_frame_url(self.host_url)

    def meshes_env(self) -> dict[str, str]:
        """The ``MESHES_*`` variables of an app on the host origin."""
        return self.meshes.meshes_env(self.host_url)

    def reset(self) -> None:
        """Between tests: the host origin's and the fake Meshes' defaults (pages and files
        registered on the host stay)."""
        self.backend.reset()
        self.meshes.reset()

    def stop(self) -> None:
        """Stop every origin (idempotent)."""
        self.backend.release_hung()
        self._app.stop()
        self.meshes.stop()

    def __enter__(self) -> HostServers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return (
            f"HostServers(host={self.host_url}, embed={self.embed_url}, "
            f"hostile={self.hostile_url}, api={self.api_url})"
        )


def start_host_servers(
    static_dir: Path | None,
    ports: Sequence[int] = (0, 0, 0, 0),
    *,
    addresses: Sequence[str] = SAME_SITE,
    clock: Callable[[], float] = time.time,
    origin_class: type[HostOrigin] = HostOrigin,
    embed_class: type[StubEmbed] = StubEmbed,
    hostile_class: type[Hostile] = Hostile,
) -> HostServers:
    """Start HOST, EMBED, HOSTILE and API (`ports` and `addresses` in that order; port 0
    picks a free one) and return them running. `static_dir` is the tree from
    ``meshes-bridge static DIR``, served at ``/static/meshes-bridge/``. `clock` is the fake
    Meshes' clock. Use the result as a context manager, or call ``stop()``."""
    sockets = []
    try:
        for port, address in zip(ports, addresses, strict=True):
            sockets.append(bind(port, address))
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    host_url = "http://{}:{}".format(*sockets[0].getsockname()[:2])
    try:
        meshes = serve_doubles(
            sockets[1:],
            host_origin=host_url,
            clock=clock,
            embed_class=embed_class,
            hostile_class=hostile_class,
        )
    except BaseException:
        sockets[0].close()
        raise
    try:
        backend = origin_class(
            meshes.fake, meshes.transcript, host_url, static_dir, meshes.meshes_env(host_url)
        )
        app = serve_asgi_app(backend.make_app(), sockets[0])
    except BaseException:
        sockets[0].close()
        meshes.stop()
        raise
    return HostServers(meshes, backend, app)
