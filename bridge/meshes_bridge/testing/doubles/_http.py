"""Small pieces shared by the three origins' applications."""

from __future__ import annotations

import socket

from aiohttp import web

DIAGNOSTICS_PATH = "/_doubles/socket"


async def _socket_info(request: web.Request) -> web.Response:
    """``{"tcp_nodelay": bool}`` for the connection this request came on."""
    transport = request.transport
    sock = transport.get_extra_info("socket") if transport is not None else None
    nodelay = bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)) if sock else False
    return web.json_response({"tcp_nodelay": nodelay})


async def _no_favicon(_request: web.Request) -> web.Response:
    return web.Response(status=204, headers={"Cache-Control": "max-age=3600"})


def add_diagnostics(app: web.Application) -> None:
    """Add ``GET /_doubles/socket``, and an empty ``/favicon.ico`` so browsers log no 404
    (register them before any catch-all route)."""
    app.router.add_get(DIAGNOSTICS_PATH, _socket_info)
    app.router.add_get("/favicon.ico", _no_favicon)
