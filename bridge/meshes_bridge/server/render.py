"""The HTML a template helper renders: one container and the loader's script tag.

Framework helpers (the Jinja global of Flask and FastAPI, Django's template tag) compute
the URLs their own way and call `embed_html`; every value is escaped here, in one place.
`content_security_policy` is the policy a page with the embed needs (README, "Content
Security Policy"), with the embed origin from MESHES_EMBED_ORIGIN as `frame-src`.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import Any, TypedDict

from meshes_bridge.core.wire import FALLBACK_ATTRIBUTE, State

RUNTIMES = ("micropython", "pyodide")
#: What a container shows until its embed is mounted (the loader then removes it), so a
#: page whose loader.js never runs (a 404, a CSP refusal) is visibly stuck, not blank.
FALLBACK_TEXT = "Loading Meshes\u2026"
FALLBACK = f"<p {FALLBACK_ATTRIBUTE}>{html.escape(FALLBACK_TEXT)}</p>"
LAUNCH_PAGES = ("dashboard", "connections", "rules", "events")


def _attrs(attrs: Mapping[str, Any]) -> str:
    parts = []
    for name, value in attrs.items():
        if value is None or value is False:
            continue
        if value is True:
            parts.append(f" {name}")
        else:
            parts.append(f' {name}="{html.escape(str(value), quote=True)}"')
    return "".join(parts)


class EmbedOptions(TypedDict, total=False):
    """What a page may choose per embed: every template helper (the Jinja global of Flask
    and FastAPI, Django's tag) takes exactly these keyword arguments."""

    launch_page: str | None  # dashboard | connections | rules | events
    runtime: str | None  # micropython (default) | pyodide
    min_height: int | None
    max_height: int | None
    element_id: str | None
    css_class: str | None
    hooks_url: str | None
    timings_url: str | None  # data-timings-url: where the bridge POSTs each embed's timings
    ready_timeout: float | None
    debug: bool
    include_script: bool  # False for a second embed on the same page


def embed_html(
    *,
    session_url: str,
    refresh_url: str,
    loader_url: str,
    embed_origin: str | None = None,
    launch_page: str | None = None,
    runtime: str | None = None,
    min_height: int | None = None,
    max_height: int | None = None,
    csrf_cookie: str | None = None,
    csrf_header: str | None = None,
    hooks_url: str | None = None,
    timings_url: str | None = None,
    ready_timeout: float | None = None,
    element_id: str | None = None,
    css_class: str | None = None,
    debug: bool = False,
    include_script: bool = True,
) -> str:
    """``<div data-meshes-embed data-state="booting" ...>`` holding `FALLBACK` and (unless
    `include_script` is False, for a second embed on the page)
    ``<script type="module" src=loader_url ...>``.

    `refresh_url` must hold the literal ``{session_id}`` placeholder.
    """
    if "{session_id}" not in refresh_url:
        raise ValueError("refresh_url must contain {session_id}")
    if launch_page is not None and launch_page not in LAUNCH_PAGES:
        raise ValueError(f"launch_page must be one of {LAUNCH_PAGES}")
    if runtime is not None and runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {RUNTIMES}")
    if (csrf_cookie is None) != (csrf_header is None):
        raise ValueError("csrf_cookie and csrf_header go together")
    container = {
        "id": element_id,
        "class": css_class,
        "data-meshes-embed": True,
        # The first state, already on the page: a loader that never runs leaves it there.
        "data-state": State.BOOTING,
        "data-session-url": session_url,
        "data-refresh-url": refresh_url,
        "data-session-body": json.dumps({"launch_page": launch_page}) if launch_page else None,
        "data-embed-origin": embed_origin,
        "data-min-height": min_height,
        "data-max-height": max_height,
        "data-csrf-cookie": csrf_cookie,
        "data-csrf-header": csrf_header,
        "data-ready-timeout": ready_timeout,
    }
    out = f"<div{_attrs(container)}>{FALLBACK}</div>"
    if include_script:
        script = {
            "type": "module",
            "src": loader_url,
            "data-runtime": runtime,
            "data-hooks": hooks_url,
            "data-timings-url": timings_url,
            "data-debug": True if debug else None,
        }
        out += f"\n<script{_attrs(script)}></script>"
    return out


def content_security_policy(embed_origin: str, extra: Mapping[str, str] | None = None) -> str:
    """The page's Content-Security-Policy: everything from 'self', the embed framed.

    Strict: no 'unsafe-eval' and no 'unsafe-inline' (scripts or styles). The interpreters
    need 'wasm-unsafe-eval'; the bridge's loader keeps PyScript from calling Function().
    `extra` adds or replaces directives.
    """
    directives = {
        "default-src": "'self'",
        "script-src": "'self' 'wasm-unsafe-eval'",
        "connect-src": "'self'",
        "frame-src": embed_origin,
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'self'",
    }
    directives.update(extra or {})
    return "; ".join(f"{name} {value}" for name, value in directives.items())
