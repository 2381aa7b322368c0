"""What every check needs to know about the page, worked out once from the observation."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import quote, urljoin, urlsplit

from meshes_bridge.doctor.observe import Observation, SeenRequest
from meshes_bridge.doctor.redaction import Redactor

_LOADER_TAG = re.compile(r"<script\b[^>]*\bsrc=\"([^\"]*loader\.js[^\"]*)\"[^>]*>", re.I)
_HOOKS = re.compile(r"\bdata-hooks=\"([^\"]*)\"", re.I)
SESSION_ID = "{session_id}"


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


@dataclass
class Endpoint:
    """A POST to a container's mint or refresh URL."""

    kind: str  # "mint" or "refresh"
    container: int | None
    request: SeenRequest


@dataclass
class Context:
    obs: Observation
    red: Redactor
    page_url: str
    origin: str
    loader: SeenRequest | None = None
    loader_url: str | None = None  # from the script tag when it was never requested
    asset_base: str | None = None
    hooks_url: str | None = None
    embed_origins: list[str] = field(default_factory=list)
    endpoints: list[Endpoint] = field(default_factory=list)
    django: bool = False

    def path(self, url: str) -> str:
        """A URL as shown: its path on the page's own origin, else whole; redacted."""
        parts = urlsplit(url)
        shown = parts.path if origin_of(url) == self.origin else f"{origin_of(url)}{parts.path}"
        return self.red.known(shown or url)


def build_context(obs: Observation) -> Context:
    red = Redactor()
    page_url = obs.final_url or obs.url
    ctx = Context(obs=obs, red=red, page_url=page_url, origin=origin_of(page_url))
    loaders = [r for r in obs.requests if urlsplit(r.url).path.endswith("/loader.js")]
    tag = _LOADER_TAG.search(obs.dom)
    if loaders:
        ctx.loader = loaders[0]
        ctx.loader_url = loaders[0].url
    elif tag:
        ctx.loader_url = urljoin(page_url, tag.group(1).replace("&amp;", "&"))
    if ctx.loader_url:
        ctx.asset_base = ctx.loader_url.split("?")[0].rsplit("/", 1)[0] + "/"
    hooks = _HOOKS.search(obs.dom)
    if hooks:
        ctx.hooks_url = urljoin(page_url, hooks.group(1).replace("&amp;", "&"))
    _match_endpoints(ctx)
    for endpoint in ctx.endpoints:
        red.learn(endpoint.request.body)
    for container in obs.containers:
        attrs = container.get("attributes") or {}
        declared = attrs.get("data-embed-origin")
        if declared and declared not in ctx.embed_origins:
            ctx.embed_origins.append(origin_of(declared) or declared)
    for launch in red.launch_urls:
        if origin_of(launch) and origin_of(launch) not in ctx.embed_origins:
            ctx.embed_origins.append(origin_of(launch))
    names = {c.get("name") for c in obs.cookies}
    csrf_cookies = {(c.get("attributes") or {}).get("data-csrf-cookie") for c in obs.containers}
    ctx.django = (
        "csrftoken" in names or "csrftoken" in csrf_cookies or ("csrfmiddlewaretoken" in obs.dom)
    )
    return ctx


def _match_endpoints(ctx: Context) -> None:
    patterns: list[tuple[str, int, re.Pattern[str]]] = []
    for container in ctx.obs.containers:
        attrs = container.get("attributes") or {}
        index = int(container.get("index", 0))
        session = attrs.get("data-session-url")
        if session:
            url = urljoin(ctx.page_url, session)
            patterns.append(("mint", index, re.compile(re.escape(url) + r"$")))
        refresh = attrs.get("data-refresh-url")
        if refresh and SESSION_ID in refresh:
            url = urljoin(ctx.page_url, refresh.replace(SESSION_ID, "SESSIONID"))
            pattern = re.escape(url).replace("SESSIONID", r"[^/?#]+") + r"$"
            patterns.append(("refresh", index, re.compile(pattern)))
        elif refresh:
            url = urljoin(ctx.page_url, quote(refresh, safe="/:?&=%"))
            patterns.append(("refresh", index, re.compile(re.escape(url) + r"$")))
    seen: set[int] = set()
    for request in ctx.obs.requests:
        if request.method != "POST" or id(request) in seen:
            continue
        for kind, index, pattern in patterns:
            if pattern.match(request.url):
                seen.add(id(request))
                # Several containers may share an endpoint: the request belongs to all.
                owner = (
                    index
                    if sum(p.match(request.url) is not None for _, _, p in patterns) == 1
                    else None
                )
                ctx.endpoints.append(Endpoint(kind, owner, request))
                break
