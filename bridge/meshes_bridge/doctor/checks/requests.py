"""The mint and refresh requests: status, duration, error code, the CSRF pair,
`Cache-Control: no-store`, and the body with every credential redacted."""

from __future__ import annotations

import json
from typing import Any

from meshes_bridge.doctor.checks.context import Context, Endpoint
from meshes_bridge.doctor.report import OK, PROBLEM, Section

LOG = "the app's log names the cause"
LOG_IN = (
    "The doctor was not logged in: pass --login-url URL --username U --password P, "
    "--storage-state FILE (Playwright's) or --cookie NAME=VALUE (your session cookie)."
)


def _fix(ctx: Context, endpoint: Endpoint, status: int, code: str | None) -> str:
    kind = endpoint.kind
    if code == "origin-not-allowed":
        return (
            f"Add the page's origin {ctx.origin} to MESHES_ALLOWED_ORIGINS (exactly: "
            "scheme, host and port, no path, no trailing slash), then restart the app."
        )
    if code == "csrf-failed" or (ctx.django and status == 403 and code is None):
        return (
            'Send Django\'s CSRF pair: the container needs data-csrf-cookie="csrftoken" '
            'data-csrf-header="X-CSRFToken" (the {% meshes_embed %} tag writes them); '
            "also check meshes_bridge.W002 (CSRF_COOKIE_HTTPONLY, CSRF_USE_SESSIONS) and "
            "CSRF_TRUSTED_ORIGINS behind a proxy."
        )
    if status == 429 or code == "rate-limited":
        setting = "MESHES_BRIDGE_MINT_LIMIT" if kind == "mint" else "MESHES_BRIDGE_REFRESH_LIMIT"
        default = "10" if kind == "mint" else "30"
        return (
            f"The user went over {setting} (per user, a minute; default {default}): an "
            "earlier run or test may have spent it. Wait for Retry-After, or raise "
            f"{setting} if your pages need more."
        )
    if code == "meshes-credentials":
        return (
            "Meshes refused the app's machine credentials: check MESHES_ORG_ID, "
            "MESHES_ACCESS_KEY and MESHES_SECRET_KEY (the same machine key, of that "
            f"organization) and the server's clock; {LOG}."
        )
    if code == "meshes-unavailable":
        return f"Meshes was unreachable: check MESHES_API_URL and the network; {LOG}."
    if code == "meshes-rejected":
        return f"Meshes refused the mint: check MESHES_WORKSPACE_ID and your MintPolicy; {LOG}."
    if code == "login-required" or status == 401:
        return LOG_IN
    if code in ("field-not-allowed", "bad-value"):
        return (
            "Fix data-session-body (the template helper's launch_page): it may hold only "
            "launch_page (and resource + resource_id when your MintPolicy allows)."
        )
    if code == "unsupported-media-type" or status == 415:
        return "The request must be Content-Type: application/json (the bridge sends it)."
    if code in ("not-found", "session-gone") and kind == "refresh":
        return (
            "None needed after a logout or a restart (the bridge mints afresh); with "
            "several app processes, keep the bindings in a shared store (Redis, Django's "
            "cache)."
        )
    if status == 404:
        return (
            'Nothing answers at this URL: mount the endpoints (Django: path("meshes/", '
            'include("meshes_bridge.django.urls")); Flask: bridge.init_app(app); FastAPI: '
            "app.include_router(bridge.router)) or fix data-session-url / data-refresh-url."
        )
    if code == "internal":
        return f"Your policy callback or store raised, or the user has no usable key; {LOG}."
    return f"See the endpoint's answer above and docs/troubleshooting.md; {LOG}."


def _code(body: str | None) -> str | None:
    try:
        data = json.loads(body or "")
    except ValueError:
        return None
    value = data.get("error") if isinstance(data, dict) else None
    return value if isinstance(value, str) and len(value) <= 40 else None


def check_requests(ctx: Context, section: Section) -> None:
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for endpoint in ctx.endpoints:
        item = _item(ctx, endpoint)
        section.items.append(item)
        key = (endpoint.kind, item["status"], item["error"], item["failure"] is not None)
        groups.setdefault(key, []).append(item)
        if item["status"] == 200 and item["no_store"] is False:
            section.add(
                PROBLEM,
                "endpoint-no-store",
                f"{item['method']} {item['url']} answered a token without Cache-Control: no-store",
                "A cache (the browser's, a proxy's) may keep the token.",
                "Send Cache-Control: no-store with every answer holding a token (the "
                "shipped endpoints do: is a middleware replacing it?).",
            )
    for (_kind, status, code, failed), items in groups.items():
        first = items[0]
        count = f" ({len(items)} times)" if len(items) > 1 else ""
        endpoint = next(e for e in ctx.endpoints if _same(e, first))
        if failed:
            section.add(
                PROBLEM,
                "endpoint-failed",
                f"{first['method']} {first['url']} got no answer ({first['failure']}){count}",
                "",
                "Check that the app is up and that connect-src allows 'self'.",
            )
            continue
        if status is None or status < 400:
            continue
        label = f" {code}" if code else ""
        detail = ""
        if first["csrf_sent"] is False:
            detail = "the CSRF pair was not sent"
        retry = first.get("retry_after")
        if retry:
            detail = (detail + "; " if detail else "") + f"Retry-After: {retry}"
        section.add(
            PROBLEM,
            f"endpoint-{code or status}",
            f"{first['method']} {first['url']} answered {status}{label}{count}",
            detail,
            _fix(ctx, endpoint, status, code),
        )
    if ctx.endpoints and not any(f.verdict != OK for f in section.findings):
        mints = sum(e.kind == "mint" for e in ctx.endpoints)
        refreshes = len(ctx.endpoints) - mints
        section.add(
            OK,
            "endpoints-ok",
            f"{mints} mint and {refreshes} refresh request{'' if refreshes == 1 else 's'}: "
            "answered well",
        )
    elif not ctx.endpoints and ctx.obs.containers:
        section.add(
            OK,
            "endpoints-none",
            "no mint request was made",
            "the bridge never got as far as minting (see the sections above)",
        )
    for item in section.items:
        item.pop("_id", None)


def _same(endpoint: Endpoint, item: dict[str, Any]) -> bool:
    return id(endpoint.request) == int(item["_id"])


def _item(ctx: Context, endpoint: Endpoint) -> dict[str, Any]:
    request = endpoint.request
    attrs: dict[str, str] = {}
    for container in ctx.obs.containers:
        if endpoint.container is None or container.get("index") == endpoint.container:
            attrs = container.get("attributes") or {}
            break
    header = (attrs.get("data-csrf-header") or "").lower()
    csrf_sent: bool | None
    if header:
        csrf_sent = bool(request.request_headers.get(header))
    elif ctx.django:
        csrf_sent = "x-csrftoken" in request.request_headers
    else:
        csrf_sent = None  # not asked for: no CSRF pair on this page
    cache = request.response_headers.get("cache-control")
    return {
        "_id": id(request),
        "kind": endpoint.kind,
        "container": endpoint.container,
        "method": request.method,
        "url": ctx.path(request.url),
        "status": request.status,
        "failure": ctx.red.known(request.failure) if request.failure else None,
        "error": _code(request.body),
        "start_ms": request.start_ms,
        "duration_ms": request.duration_ms,
        "csrf_sent": csrf_sent,
        "no_store": None
        if cache is None and request.status != 200
        else "no-store" in (cache or ""),
        "retry_after": request.response_headers.get("retry-after"),
        "body": ctx.red.body(request.body),
    }
