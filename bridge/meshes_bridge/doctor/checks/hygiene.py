"""Token hygiene: no token, launch URL or JWT in the DOM, storage, cookies, the URLs or
the console. The containers' iframes' src is left out: the launch URL is the iframe's
first document request by the embed contract."""

from __future__ import annotations

import re

from meshes_bridge.doctor.checks.context import Context, origin_of
from meshes_bridge.doctor.observe import SeenRequest
from meshes_bridge.doctor.report import OK, PROBLEM, Section

_JWT = re.compile(r"eyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*")
_LAUNCH_PARAM = re.compile(r"[?&]launch=[^&#\s\"']{8,}")


def _kinds(ctx: Context, text: str, jwt: bool = True) -> list[str]:
    found: list[str] = []
    secrets = ctx.red.secrets - ctx.red.launch_urls
    if any(url in text for url in ctx.red.launch_urls) or _LAUNCH_PARAM.search(text):
        found.append("launch URL")
    if any(secret in text for secret in secrets if len(secret) >= 8):
        found.append("token")
    if jwt and _JWT.search(text):
        found.append("JWT")
    return found


def _embed_document(ctx: Context, request: SeenRequest) -> bool:
    """A document request of a frame on the embed origin (the containers' iframes)."""
    return (
        request.resource_type == "document"
        and not request.main_frame
        and origin_of(request.url) in ctx.embed_origins
    )


def check_hygiene(ctx: Context, section: Section) -> None:
    obs = ctx.obs
    places: list[tuple[str, str, bool]] = [("the DOM", obs.dom, True)]
    for area, values in sorted(obs.storage.items()):
        for key, value in values.items():
            places.append((f"{area}Storage", f"{key}={value}", True))
    for cookie in obs.cookies:
        # JWT-shaped session cookies are the app's own business; the bridge's tokens not.
        places.append(("a cookie", f"{cookie.get('name')}={cookie.get('value')}", False))
    places.append(("the page's URL", obs.final_url or obs.url, True))
    navigations = ctx.red.launch_urls
    for request in obs.requests:
        if request.url in navigations or _embed_document(ctx, request):
            continue  # the iframe's first document request: where the launch URL belongs
        places.append(("a request URL", request.url, True))
    for line in obs.console:
        places.append(("the console", line.text, True))
    leaks: dict[tuple[str, str], int] = {}
    for place, text, jwt in places:
        for kind in _kinds(ctx, text, jwt):
            leaks[(kind, place)] = leaks.get((kind, place), 0) + 1
    scanned = sorted({place for place, _, _ in places})
    section.items.append(
        {
            "scanned": scanned,
            "known_secrets": len(ctx.red.secrets),
            "leaks": [{"kind": k, "place": p, "count": n} for (k, p), n in leaks.items()],
        }
    )
    for (kind, place), count in leaks.items():
        section.add(
            PROBLEM,
            "hygiene-leak",
            f"a {kind} in {place}" + (f" ({count} times)" if count > 1 else ""),
            "The doctor does not show it. The bridge never writes one there: another "
            "script on the page, or a server template, does.",
            "Find what writes it (search your templates and scripts for the endpoint's "
            "answer); a token must live only in the bridge's memory.",
        )
    if not leaks:
        what = (
            "the tokens and launch URLs minted in this run, and JWTs"
            if ctx.red.secrets
            else "JWTs (no token was minted in this run)"
        )
        section.add(
            OK,
            "hygiene-ok",
            "no token, launch URL or JWT in the DOM, storage, cookies, URLs or the console",
            f"looked for {what}",
        )
