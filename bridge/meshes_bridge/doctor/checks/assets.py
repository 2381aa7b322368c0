"""The asset tree: loader.js and every file it loads (status, MIME type, cache headers,
size, origin)."""

from __future__ import annotations

from urllib.parse import urlsplit

from meshes_bridge.doctor.checks.context import Context, origin_of
from meshes_bridge.doctor.observe import SeenRequest
from meshes_bridge.doctor.report import OK, PROBLEM, WARNING, Section

JAVASCRIPT = ("text/javascript", "application/javascript", "application/x-javascript")
EXPECTED_TYPES = {
    ".js": JAVASCRIPT,
    ".mjs": JAVASCRIPT,
    ".wasm": ("application/wasm",),
    ".css": ("text/css",),
    ".json": ("application/json",),
}
LONG_CACHE = 86400  # a loader.js cached longer than a day outlives an upgrade

FIX_MISSING = (
    "Serve the asset tree at that URL. The usual causes: the static files are not served "
    "(Django with DEBUG=False: run `python manage.py collectstatic` and serve STATIC_ROOT "
    "with your web server or WhiteNoise, or `runserver --insecure` locally; FastAPI: "
    "`bridge.mount_static(app)`; Flask: `bridge.init_app(app)` serves them); "
    "`collectstatic` (or `meshes-bridge static DIR`) not run again after upgrading "
    "meshes-bridge (the tree's folder names change with each release: copy the whole "
    "tree); a prefix mismatch (the script tag's src and the URL the tree is served under "
    "differ, e.g. STATIC_URL or a proxy's path prefix)."
)
FIX_MIME = (
    "Serve .wasm as application/wasm and .js/.mjs as text/javascript. The framework "
    "helpers do (Flask `init_app`, FastAPI `mount_static`, Django's staticfiles); in front "
    "of them, a web server needs the types too (nginx: `types { application/wasm wasm; "
    "text/javascript mjs; }` or an up-to-date mime.types)."
)
FIX_LOADER_CACHE = (
    "Serve loader.js with `Cache-Control: no-cache` (every other file of the tree is "
    "content-named and may be cached for a year): a long-cached loader.js keeps loading "
    "the previous release's files after an upgrade."
)


def _mime(request: SeenRequest) -> str:
    return request.response_headers.get("content-type", "").split(";")[0].strip().lower()


def _max_age(cache_control: str) -> int | None:
    for part in cache_control.split(","):
        name, _, value = part.strip().partition("=")
        if name.lower() == "max-age" and value.strip().isdigit():
            return int(value)
    return None


def check_assets(ctx: Context, section: Section) -> None:
    if ctx.loader_url is None:
        if ctx.obs.containers:
            section.add(
                PROBLEM,
                "loader-missing",
                'no <script src=".../loader.js"> on the page',
                "The containers are there, but nothing loads the bridge.",
                "Render the containers with the template helper ({{ meshes_embed() }}, "
                "{% meshes_embed %}): it writes the script tag; or add "
                '<script type="module" src="/static/meshes-bridge/loader.js"></script>.',
            )
        return
    base = ctx.asset_base or ""
    tree = [r for r in ctx.obs.requests if r.url.startswith(base) and r is not ctx.loader]
    files = ([ctx.loader] if ctx.loader is not None else []) + tree
    loader_origin = origin_of(ctx.loader_url)
    if ctx.loader is None:
        section.add(
            PROBLEM,
            "loader-not-requested",
            f"{ctx.path(ctx.loader_url)} was never requested",
            "The script tag is on the page, but the browser did not fetch it (a CSP "
            "refusal is in the CSP section).",
            'Check the script tag\'s src and type="module", and script-src in the CSP.',
        )
    bad = 0
    for request in files:
        verdict = _check_file(ctx, section, request, request is ctx.loader, loader_origin)
        bad += verdict != OK
        section.items.append(_item(ctx, request, verdict))
    if not bad and files:
        others = len(files) - 1
        section.add(
            OK,
            "assets-ok",
            f"loader.js and the {others} file{'' if others == 1 else 's'} it loaded: all served",
            f"from {loader_origin or ctx.origin}, under {ctx.path(base)}",
        )


def _check_file(
    ctx: Context, section: Section, request: SeenRequest, is_loader: bool, loader_origin: str
) -> str:
    shown = ctx.path(request.url)
    if request.status is None:
        why = ctx.red.known(request.failure or "no answer")
        blocked = "csp" in why.lower()
        section.add(
            PROBLEM,
            "asset-failed",
            f"{shown} did not load ({why})",
            "Nothing that needs it can run.",
            "See the CSP section: a directive refused it."
            if blocked
            else "The server did not answer it: " + FIX_MISSING,
        )
        return PROBLEM
    if request.status >= 400:
        what = "loader.js" if is_loader else "a file loader.js loads"
        consequence = (
            "The bridge never starts: the containers stay in their first state, with no "
            "console line and no event."
            if is_loader
            else "The runtime cannot start: the containers end in error `boot`."
        )
        section.add(
            PROBLEM,
            "loader-missing" if is_loader else "asset-missing",
            f"{shown} answered HTTP {request.status} ({what})",
            consequence,
            FIX_MISSING,
        )
        return PROBLEM
    verdict = OK
    suffix = "." + urlsplit(request.url).path.rsplit(".", 1)[-1].lower()
    expected = EXPECTED_TYPES.get(suffix)
    mime = _mime(request)
    if expected is not None and request.status != 304 and mime not in expected:
        section.add(
            PROBLEM,
            "asset-mime",
            f"{shown} is served as {mime or 'no Content-Type'}, not {expected[0]}",
            "Browsers refuse a module script of another type, and compile a .wasm of "
            "another type only through a slower fallback.",
            FIX_MIME,
        )
        verdict = PROBLEM
    cache = request.response_headers.get("cache-control", "")
    age = _max_age(cache)
    if is_loader and ("immutable" in cache.lower() or (age is not None and age > LONG_CACHE)):
        section.add(
            WARNING,
            "asset-cache",
            f"{shown} is cached for long ({cache})",
            "",
            FIX_LOADER_CACHE,
        )
        verdict = WARNING if verdict == OK else verdict
    if loader_origin and origin_of(request.url) != loader_origin:
        section.add(
            WARNING,
            "asset-origin",
            f"{shown} comes from another origin than loader.js",
            "The tree loads nothing from any other origin; something rewrote its URLs.",
            "Serve the whole tree from one place (`meshes-bridge static DIR` writes it).",
        )
        verdict = WARNING if verdict == OK else verdict
    return verdict


def _item(ctx: Context, request: SeenRequest, verdict: str) -> dict[str, object]:
    return {
        "url": ctx.path(request.url),
        "origin": origin_of(request.url),
        "status": request.status,
        "failure": ctx.red.known(request.failure) if request.failure else None,
        "mime": _mime(request) or None,
        "cache_control": request.response_headers.get("cache-control"),
        "size": request.size,
        "start_ms": request.start_ms,
        "duration_ms": request.duration_ms,
        "verdict": verdict,
    }
