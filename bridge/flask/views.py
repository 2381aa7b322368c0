"""Flask request -> `EndpointRequest`, `EndpointReply` -> Flask response. Nothing else:
every rule (401/403/415/400/404/429/502/500, no-store) lives in
`meshes_bridge.server.service.EmbedService`."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request

from meshes_bridge.server.service import MAX_BODY_BYTES, EndpointReply, EndpointRequest


def read_body() -> bytes:
    """The raw body, never more than the service accepts plus one byte: enough for it to
    answer 400, without buffering whatever size a client chooses to send."""
    length = request.content_length
    if length is None or length <= MAX_BODY_BYTES:
        return request.get_data(cache=False)
    chunks: list[bytes] = []
    size = 0
    while size <= MAX_BODY_BYTES:  # a stream read may return fewer bytes than asked
        chunk = request.stream.read(MAX_BODY_BYTES + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def endpoint_request(user_key: str | None, user: Any) -> EndpointRequest:
    """This Flask request as the service sees it (`native` is the request object, for a
    policy callback)."""
    return EndpointRequest(
        user_key=user_key,
        origin=request.headers.get("Origin"),
        content_type=request.headers.get("Content-Type"),
        body=read_body(),
        user=user,
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
