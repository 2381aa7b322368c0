"""Flask request -> the service's pieces, `EndpointReply` -> Flask response. Nothing else:
every rule (401/403/415/400/404/429/502/500, no-store) lives in
`meshes_bridge.server.service.EmbedService`, and what the adapters share in
`meshes_bridge.server.web`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, Response, current_app, request

from meshes_bridge.server import web
from meshes_bridge.server.service import EmbedService, EndpointReply


def read_body() -> bytes:
    """The raw body, never more than the service accepts plus one byte, with or without a
    Content-Length (a chunked body is a stream too)."""
    return web.read_bounded(request.stream.read)


def app_object() -> Flask:
    """The app behind `current_app` (a signal's sender, a stable key), not the proxy."""
    # Flask types `current_app` as the Flask app it stands for; it is werkzeug's LocalProxy.
    return current_app._get_current_object()  # type: ignore[attr-defined, no-any-return]


def answer(
    service: EmbedService, session_id: str | None, identify: Callable[[], tuple[object, Any]]
) -> Response:
    """This Flask request answered by `service` (a mint when `session_id` is None);
    `native`, for a policy callback, is Flask's request object."""
    reply = web.reply_to(
        service,
        session_id=session_id,
        identify=identify,
        origin=request.headers.get("Origin"),
        content_type=request.headers.get("Content-Type"),
        body=read_body(),
        # Flask types `request` as the Request it stands for; it is werkzeug's LocalProxy.
        native=request._get_current_object(),  # type: ignore[attr-defined]
    )
    return to_response(reply)


def to_response(reply: EndpointReply) -> Response:
    """The service's reply with its status, JSON body and every header (no-store,
    Retry-After)."""
    response = current_app.response_class(
        reply.json_bytes(), status=reply.status, mimetype="application/json"
    )
    for name, value in reply.headers.items():
        response.headers[name] = value
    return response


__all__ = ["answer", "read_body", "to_response"]
