"""Flask request -> `EndpointRequest`, `EndpointReply` -> Flask response. Nothing else:
every rule (401/403/415/400/404/429/502/500, no-store) lives in
`meshes_bridge.server.service.EmbedService`."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, request

from meshes_bridge.server.service import EndpointReply, EndpointRequest, read_bounded


def read_body() -> bytes:
    """The raw body, never more than the service accepts plus one byte, with or without a
    Content-Length (a chunked body is a stream too): enough for it to answer 400, without
    buffering whatever size a client chooses to send."""
    return read_bounded(request.stream.read)


def app_object() -> Flask:
    """The app behind `current_app` (a signal's sender, a stable key), not the proxy."""
    # Flask types `current_app` as the Flask app it stands for; it is werkzeug's LocalProxy.
    return current_app._get_current_object()  # type: ignore[attr-defined, no-any-return]


def endpoint_request(user_key: str | None, user: Any) -> EndpointRequest:
    """This Flask request as the service sees it (`native` is the request object, for a
    policy callback)."""
    return EndpointRequest(
        user_key=user_key,
        origin=request.headers.get("Origin"),
        content_type=request.headers.get("Content-Type"),
        body=read_body(),
        user=user,
        # Flask types `request` as the Request it stands for; it is werkzeug's LocalProxy.
        native=request._get_current_object(),  # type: ignore[attr-defined]
    )


def to_response(reply: EndpointReply) -> Response:
    """The service's reply with its status, JSON body and every header (no-store,
    Retry-After)."""
    response = current_app.response_class(
        reply.json_bytes(), status=reply.status, mimetype="application/json"
    )
    for name, value in reply.headers.items():
        response.headers[name] = value
    return response


__all__ = ["endpoint_request", "read_body", "to_response"]
