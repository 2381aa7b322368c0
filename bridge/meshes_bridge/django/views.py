"""The two endpoints: Django's request in, `EmbedService`'s reply out.

Every rule (login, Origin, Content-Type, body fields, ownership, rate limits, Meshes
errors, no-store) is the service's, and what the adapters share is
`meshes_bridge.server.web`'s; these views only translate, and every answer on the
endpoint paths is JSON with ``Cache-Control: no-store``:

* a method other than POST -> 405 ``method-not-allowed`` with ``Allow: POST``;
* a path below ``<prefix>session/`` that names no endpoint -> 404 ``not-found``;
* a failed CSRF check -> 403 ``csrf-failed`` (Django's CSRF check, run by the views
  themselves: the global middleware's HTML failure page never answers here, and a project
  without the middleware is still protected; ``meshes_bridge.E003`` tells it the cookie is
  missing);
* an anonymous user -> the service's 401, never a login redirect;
* a MESHES_BRIDGE_USER_KEY that gives no usable id -> 500 ``internal``, logged naming it.

The body is read through the request's stream, never more than the service accepts plus
one byte, with or without a Content-Length (see `read_body`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.decorators import decorator_from_middleware
from django.utils.log import log_response
from django.views.decorators.csrf import csrf_exempt

from meshes_bridge.django import service
from meshes_bridge.server import web
from meshes_bridge.server.service import MAX_BODY_BYTES, EndpointReply, error_reply

log = logging.getLogger("meshes_bridge.django")
csrf_log = logging.getLogger("django.security.csrf")

View = Callable[..., HttpResponseBase]

#: What the service is given for a body it could not read in full: longer than it accepts,
#: so it answers 400 bad-value "body" after its other rules (login, Origin, limits).
UNREADABLE = bytes(MAX_BODY_BYTES + 1)


def read_body(request: HttpRequest) -> bytes:
    """The raw body, at most MAX_BODY_BYTES + 1 bytes (enough for the service to refuse a
    larger one), never buffering more, chunked or not.

    Under WSGI, Django cuts its stream at Content-Length, which a chunked body lacks: such
    a body is read from ``wsgi.input`` when the server de-chunks it and ends the stream
    (``wsgi.input_terminated``: gunicorn, Werkzeug); under a server that does not
    (runserver, wsgiref) it cannot be read safely and is `UNREADABLE`. Under ASGI Django
    has read the whole body into a temporary file before the view: the stream is all of it.
    """
    meta = request.META
    try:
        if meta.get("HTTP_TRANSFER_ENCODING") and "wsgi.input" in meta:
            if not meta.get("wsgi.input_terminated"):
                log.warning(
                    "meshes-bridge cannot read a Transfer-Encoding body under this WSGI "
                    "server (it does not de-chunk it: wsgi.input_terminated is unset, as "
                    "under runserver): answered 400; send a Content-Length, or serve with "
                    "gunicorn or uvicorn"
                )
                return UNREADABLE
            return web.read_bounded(meta["wsgi.input"].read)
        return web.read_bounded(request.read)
    except OSError as exc:  # the client went away mid-body (UnreadablePostError included)
        log.info("meshes-bridge could not read a request body (%s)", type(exc).__name__)
        return UNREADABLE


def answer(request: HttpRequest, session_id: str | None) -> HttpResponse:
    """This Django request answered by the app's service (a mint when `session_id` is
    None); a MESHES_BRIDGE_USER_KEY giving no usable id is the service's logged 500."""
    body = read_body(request)
    user = getattr(request, "user", None)  # no AuthenticationMiddleware: anonymous
    reply = web.reply_to(
        service.get_service(),
        session_id=session_id,
        identify=lambda: (service.user_key(user), user),
        origin=request.headers.get("Origin"),
        content_type=request.headers.get("Content-Type"),
        body=body,
        native=request,
    )
    return django_response(reply)


def django_response(reply: EndpointReply) -> HttpResponse:
    response = HttpResponse(
        reply.json_bytes(), status=reply.status, content_type="application/json"
    )
    for name, value in reply.headers.items():
        response[name] = value
    return response


class JsonCsrfMiddleware(CsrfViewMiddleware):
    """Django's CSRF check, unchanged, answering a failure with the endpoints' JSON 403
    (logged as Django logs it) instead of CSRF_FAILURE_VIEW's HTML page."""

    def _reject(self, request: HttpRequest, reason: str) -> HttpResponse:
        response = django_response(error_reply(403, "csrf-failed"))
        log_response(
            "Forbidden (%s): %s",
            reason,
            request.path,
            response=response,
            request=request,
            logger=csrf_log,
        )
        return response


_csrf_protect = decorator_from_middleware(JsonCsrfMiddleware)


def _endpoint(view: View) -> View:
    """`view` for POST only and under `JsonCsrfMiddleware`; exempt from the global
    CsrfViewMiddleware, whose check this one replaces (same settings, same token)."""
    protected = _csrf_protect(view)

    @wraps(view)
    def endpoint(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method != "POST":
            return django_response(web.method_not_allowed())
        return protected(request, *args, **kwargs)

    exempt: View = csrf_exempt(endpoint)
    return exempt


@_endpoint
def session(request: HttpRequest) -> HttpResponse:
    """``POST <prefix>session`` -> the minted session for the logged-in user."""
    return answer(request, None)


@_endpoint
def refresh(request: HttpRequest, session_id: str) -> HttpResponse:
    """``POST <prefix>session/<session_id>/refresh`` -> a fresh access token."""
    return answer(request, session_id)


@csrf_exempt  # it changes nothing, whatever the method: no token to check
def unknown(request: HttpRequest) -> HttpResponse:
    """Any other path below ``<prefix>session/`` (``session//refresh``, ...): the
    endpoints' JSON 404 rather than Django's page."""
    return django_response(web.not_found())
