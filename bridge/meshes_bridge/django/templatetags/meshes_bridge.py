"""``{% load meshes_bridge %}``: the embed's container and script tag, and the page's CSP.

    {% meshes_embed launch_page="connections" runtime="micropython" min_height=600 %}
    <meta http-equiv="Content-Security-Policy" content="{% meshes_csp %}">

`meshes_embed` takes the endpoint URLs from the URLconf (``meshes_bridge:session`` and
``meshes_bridge:refresh``), the loader's URL from staticfiles, the CSRF cookie and header
names from the CSRF settings and the embed origin from MESHES_EMBED_ORIGIN. Render the
template with the request (``render(request, ...)``): the tag asks Django for the CSRF
token, so the response sets the csrftoken cookie the bridge sends back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import template
from django.middleware.csrf import get_token
from django.templatetags.static import static
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from meshes_bridge.django import conf
from meshes_bridge.django.finders import LOADER, PREFIX
from meshes_bridge.django.service import content_security_policy, get_service
from meshes_bridge.server import web
from meshes_bridge.server.render import EmbedOptions, embed_html

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack is 3.11; only for type checkers

register = template.Library()


def refresh_url() -> str:
    """The refresh endpoint's URL with the literal ``{session_id}`` the bridge fills in."""
    return web.refresh_url(
        reverse("meshes_bridge:refresh", kwargs={"session_id": web.SESSION_ID_STAND_IN})
    )


@register.simple_tag(takes_context=True)
def meshes_embed(context: template.Context, **options: Unpack[EmbedOptions]) -> SafeString:
    """The ``<div data-meshes-embed>`` container and (unless ``include_script=False``, for
    a second embed on the page) the loader's ``<script>``, with `EmbedOptions`
    (launch_page, runtime, min_height, ...); every value is escaped."""
    request: Any = getattr(context, "request", None)
    if request is not None:
        get_token(request)  # makes CsrfViewMiddleware set the cookie on this response
    # Template literals: an empty string means "not given".
    given = {k: v for k, v in options.items() if v != ""}
    html = embed_html(
        session_url=reverse("meshes_bridge:session"),
        refresh_url=refresh_url(),
        loader_url=static(f"{PREFIX}/{LOADER}"),
        embed_origin=get_service().settings.embed_origin,
        csrf_cookie=conf.csrf_cookie(),
        csrf_header=conf.csrf_header(),
        **given,  # type: ignore[arg-type]  # the EmbedOptions given, less the "" ones
    )
    return mark_safe(html)  # embed_html escapes every value it writes


@register.simple_tag
def meshes_csp() -> str:
    """The Content-Security-Policy value for a page with the embed (autoescaped)."""
    return content_security_policy()
