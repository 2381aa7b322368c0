"""Host pages written the way a host team writes them, and the paths they use."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from meshes_bridge.server.static_files import mime_type as asset_mime_type

SESSION_PATH = "/meshes/session"
REFRESH_PATH = "/meshes/session/{session_id}/refresh"
STATIC_PREFIX = "/static/meshes-bridge/"
#: The test host's collector for `data-timings-url` (HostOrigin.timings_posts).
TIMINGS_PATH = "/monitoring/timings"
LOADER_URL = STATIC_PREFIX + "loader.js"

#: Types for test files the asset tree never holds (the tree's own: the product's map).
OTHER_TYPES: Mapping[str, str] = {
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".map": "application/json",
}


def mime_type(path: str) -> str:
    """The Content-Type a file is served with: the product's own for the asset tree's
    kinds of file, so the browser tests see what a host's server sends."""
    return OTHER_TYPES.get(Path(path).suffix.lower()) or asset_mime_type(path)


def _attr(name: str, value: Any) -> str:
    if value is True:
        return f" {name}"
    if isinstance(value, dict | list):
        value = json.dumps(value)
    return f' {name}="{html.escape(str(value), quote=True)}"'


def render_attrs(attrs: Mapping[str, Any]) -> str:
    """HTML attributes, values escaped; True = a bare attribute, None/False = left out,
    a dict or list = its JSON (e.g. ``data-session-body``)."""
    return "".join(_attr(k, v) for k, v in attrs.items() if v is not None and v is not False)


def page_html(
    runtime: str = "micropython",
    container_attrs: Mapping[str, Any] | None = None,
    extra_body: str = "",
    script_attrs: Mapping[str, Any] | None = None,
    containers: int = 1,
    title: str = "meshes-bridge test page",
    head: str = "",
) -> str:
    """A host page: `containers` copies of

    ``<div data-meshes-embed data-session-url="/meshes/session"
    data-refresh-url="/meshes/session/{session_id}/refresh"></div>``

    then `extra_body` (raw HTML), then
    ``<script type="module" src="/static/meshes-bridge/loader.js" data-runtime="...">``.
    `container_attrs` / `script_attrs` add or override attributes (None removes one);
    containers get ``id="embed-1"``, ``embed-2``, ... unless an id is given.
    """
    base: dict[str, Any] = {
        "data-meshes-embed": True,
        "data-session-url": SESSION_PATH,
        "data-refresh-url": REFRESH_PATH,
    }
    base.update(container_attrs or {})
    divs = []
    for number in range(1, containers + 1):
        attrs = dict(base)
        attrs.setdefault("id", f"embed-{number}")
        divs.append(f"<div{render_attrs(attrs)}></div>")
    script: dict[str, Any] = {"type": "module", "src": LOADER_URL, "data-runtime": runtime}
    script.update(script_attrs or {})
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n{head}</head>\n<body>\n"
        + "\n".join(divs)
        + f"\n{extra_body}\n<script{render_attrs(script)}></script>\n</body>\n</html>\n"
    )
