"""The test kit's servers answer kept-alive connections without waiting for the client's
delayed ACK: their listening sockets carry TCP_NODELAY, which accepted connections
inherit (asyncio sets it only on sockets it made itself). Without it every request after
the first on a connection took 40 ms more, in every browser test and in the benchmark."""

from __future__ import annotations

import socket

from meshes_bridge.testing.app_server import serve_asgi_app
from meshes_bridge.testing.doubles.servers import bind


def _nodelay(sock: socket.socket) -> int:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_bind_gives_accepted_connections_nodelay() -> None:
    with bind() as listener:
        with socket.create_connection(listener.getsockname()[:2]):
            accepted, _ = listener.accept()
            with accepted:
                assert _nodelay(listener) == 1
                assert _nodelay(accepted) == 1


async def _app(scope: dict, receive: object, send: object) -> None:  # never called
    raise AssertionError("no request is made")


def test_serve_asgi_app_sets_nodelay_on_a_socket_it_is_given() -> None:
    sock = socket.create_server(("127.0.0.1", 0))
    assert _nodelay(sock) == 0
    running = serve_asgi_app(_app, sock)
    try:
        assert _nodelay(sock) == 1
    finally:
        running.stop()
