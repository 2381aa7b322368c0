"""The two endpoints: Django's request in, `EmbedService`'s reply out.

Every rule (login, Origin, Content-Type, body fields, ownership, rate limits, Meshes
errors, no-store) is the service's; these views only translate. They stay under Django's
CSRF protection: `csrf_protect` here as well as the middleware, so a project without the
middleware is still protected (and ``meshes_bridge.E003`` tells it the cookie is missing).
An anonymous user gets the service's 401 JSON, never a login redirect.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.http.request import RawPostDataException
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_POST

from meshes_bridge.django import conf
from meshes_bridge.django.service import get_service
from meshes_bridge.server.service import EndpointReply, EndpointRequest, request_from_headers


def endpoint_request(request: HttpRequest) -> EndpointRequest:
    """The service's view of a Django request."""
    user = getattr(request, "user", None)  # no AuthenticationMiddleware: anonymous
    try:
        body = request.body
    except RawPostDataException:
        # A multipart form already read by the CSRF middleware: the service refuses its
        # Content-Type before it would look at a body.
        body = b""
    return request_from_headers(conf.user_key(user), request.headers, body, user, request)


def django_response(reply: EndpointReply) -> HttpResponse:
    response = HttpResponse(
        reply.json_bytes(), status=reply.status, content_type="application/json"
    )
    for name, value in reply.headers.items():
        response[name] = value
    return response


@csrf_protect
@require_POST
def session(request: HttpRequest) -> HttpResponse:
    """``POST <prefix>session`` -> the minted session for the logged-in user."""
    return django_response(get_service().mint(endpoint_request(request)))


@csrf_protect
@require_POST
def refresh(request: HttpRequest, session_id: str) -> HttpResponse:
    """``POST <prefix>session/<session_id>/refresh`` -> a fresh access token."""
    return django_response(get_service().refresh(endpoint_request(request), session_id))
