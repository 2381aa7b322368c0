"""Each container: its attributes, its states with their times, its errors."""

from __future__ import annotations

from typing import Any

from meshes_bridge.core.wire import ErrorCode, State
from meshes_bridge.doctor.checks.context import Context
from meshes_bridge.doctor.report import OK, PROBLEM, Section
from meshes_bridge.server.timings import read_timings

# The fix for each error code, in the host's terms (docs/troubleshooting.md says more).
FIXES = {
    ErrorCode.BOOT: "The runtime did not start: see the Assets and CSP sections (a file "
    "missing, a wrong MIME type, a CSP without 'wasm-unsafe-eval').",
    ErrorCode.CONFIG: "Fix the container attribute the message names (the template helper "
    "writes them all).",
    ErrorCode.MINT_FAILED: "Your session endpoint failed: its answer is in the Mint and "
    "refresh requests section, with the fix.",
    ErrorCode.MINT_INVALID: "The session endpoint must answer Meshes' session JSON "
    "(session_id, access_token, expires_at, launch_url): the shipped endpoints do.",
    ErrorCode.LAUNCH_URL: "The launch URL must be https (http only on a loopback host): "
    "check MESHES_EMBED_ORIGIN and MESHES_API_URL.",
    ErrorCode.EMBED_ORIGIN: "Set MESHES_EMBED_ORIGIN to the origin Meshes launches on "
    "(locally: the one `meshes-bridge dev` prints).",
    ErrorCode.READY_TIMEOUT: "The embed did not say ready in time: check frame-src in the "
    "CSP and that the launch URL's origin answers.",
    ErrorCode.REMOUNT_LIMIT: "Fresh sessions never authenticated: check frame-src in the "
    "CSP and the embed origin; raise data-ready-timeout if OAuth pages stay long.",
    ErrorCode.REFRESH_FAILED: "A refresh failed: see the refresh requests' answers.",
    ErrorCode.REFRESH_LOOP: "The embed asks for refreshes too often: a token TTL far below "
    "5 minutes causes it (your MintPolicy's ttl_seconds).",
    ErrorCode.HOOKS: "The data-hooks module did not load: fix its URL (same origin as the "
    "page) and its import-time errors.",
    ErrorCode.HOOK: "A hook in your data-hooks module raised: fix that function (the "
    "bridge carried on without it).",
    ErrorCode.INTERNAL: "A bug in the bridge: please report it with this report (it holds "
    "no token).",
}
STUCK = {
    None: "has no data-state: the loader never ran",
    State.BOOTING: "stayed `booting`: the loader or the runtime never started",
    State.MINTING: "stayed `minting`: the mint request got no usable answer",
    State.MOUNTED: "stayed `mounted`: the embed never said meshes:ready",
    State.REFRESHING: "stayed `refreshing`: the refresh request got no answer",
    State.EXPIRED: "stayed `expired`: the token expired and no fresh one came",
}
STUCK_FIX = {
    None: "See the Assets section: loader.js must load (and the script tag be there).",
    State.BOOTING: "See the Assets and CSP sections: loader.js and the runtime must load.",
    State.MINTING: "See the Mint and refresh requests section.",
    State.MOUNTED: "Check frame-src in the CSP (the embed origin) and that the launch "
    "URL's origin answers (the network tab); see the CSP section.",
    State.REFRESHING: "See the Mint and refresh requests section.",
    State.EXPIRED: "See the Mint and refresh requests section.",
}
_SHOWN_ATTRIBUTES = ("id", "class")


def _state_at(container: dict[str, Any], name: str) -> float | None:
    for step in container.get("states") or []:
        if step.get("state") == name:
            return float(step["t"])
    return None


def check_containers(ctx: Context, section: Section) -> None:
    containers = ctx.obs.containers
    if not containers:
        section.add(
            PROBLEM,
            "container-none",
            "no element with data-meshes-embed on the page",
            f"on {ctx.path(ctx.page_url)}",
            "Render the embed with the template helper ({{ meshes_embed() }}, "
            "{% meshes_embed %}). If the URL sent the browser to a login page, log in: "
            "--login-url URL --username U --password P, --storage-state FILE or "
            "--cookie NAME=VALUE.",
        )
        return
    for container in containers:
        _check_one(ctx, section, container)


def _check_one(ctx: Context, section: Section, container: dict[str, Any]) -> None:
    index = int(container.get("index", 0))
    attrs: dict[str, str] = container.get("attributes") or {}
    name = f"container #{index}" + (f" ({attrs['id']})" if attrs.get("id") else "")
    states = container.get("states") or []
    final = states[-1]["state"] if states else None
    errors = [_error(ctx, e) for e in container.get("events") or [] if e.get("name") == "error"]
    item: dict[str, Any] = {
        "index": index,
        "attributes": {
            key: ctx.red.text(str(value), limit=200)
            for key, value in attrs.items()
            if key.startswith("data-") or key in _SHOWN_ATTRIBUTES
        },
        "states": [{"state": s["state"], "t_ms": round(float(s["t"]), 1)} for s in states],
        "final_state": final,
        "errors": errors,
        "events": [
            {"name": e.get("name"), "t_ms": round(float(e.get("t") or 0), 1)}
            for e in container.get("events") or []
        ],
        "timings": read_timings(container.get("timings")),
        "removed": container.get("removed") is not None,
    }
    section.items.append(item)
    for error in errors:
        code = error["code"]
        if code in (ErrorCode.HOOK, ErrorCode.HOOKS):
            where = f" ({ctx.path(ctx.hooks_url)})" if ctx.hooks_url else ""
            section.add(
                PROBLEM,
                "hook-error",
                f"{name}: {error['message'] or code}",
                f"error `{code}` from the data-hooks module{where}",
                FIXES[code],
            )
    if final == State.AUTHENTICATED:
        at = _state_at(container, State.AUTHENTICATED)
        when = f" at {at / 1000:.2f} s" if at is not None else ""
        section.add(OK, "container-authenticated", f"{name} authenticated{when}")
        return
    if final == State.ERROR:
        fatal = next((e for e in reversed(errors) if e["code"] not in (ErrorCode.HOOK,)), None)
        code = fatal["code"] if fatal else "?"
        message = fatal["message"] if fatal else ""
        section.add(
            PROBLEM,
            "container-error",
            f"{name} ended in error `{code}`" + (f": {message}" if message else ""),
            "",
            FIXES.get(code, "See docs/troubleshooting.md for this code."),
        )
        return
    section.add(
        PROBLEM,
        "container-stuck",
        f"{name} {STUCK.get(final, f'stayed `{final}`')}",
        f"the doctor stopped: {ctx.obs.stopped}",
        STUCK_FIX.get(final, "See the sections above."),
    )


def _error(ctx: Context, event: dict[str, Any]) -> dict[str, Any]:
    found = event.get("detail")
    detail: dict[str, Any] = found if isinstance(found, dict) else {}
    return {
        "code": ctx.red.text(str(detail.get("code") or "?"), limit=40),
        "message": ctx.red.text(str(detail.get("message") or "")),
        "t_ms": round(float(event.get("t") or 0), 1),
    }
