"""The doctor's checks, in the report's order; each reads the observation through a
:class:`~meshes_bridge.doctor.checks.context.Context` and fills one section."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from meshes_bridge import __version__
from meshes_bridge.core.wire import State
from meshes_bridge.doctor.checks.assets import check_assets
from meshes_bridge.doctor.checks.containers import check_containers
from meshes_bridge.doctor.checks.context import Context, build_context
from meshes_bridge.doctor.checks.coop import check_coop
from meshes_bridge.doctor.checks.csp import check_csp
from meshes_bridge.doctor.checks.hygiene import check_hygiene
from meshes_bridge.doctor.checks.messages import check_messages
from meshes_bridge.doctor.checks.page import check_page
from meshes_bridge.doctor.checks.requests import check_requests
from meshes_bridge.doctor.observe import Observation
from meshes_bridge.doctor.report import Report

CHECKS = (
    ("page", check_page),
    ("assets", check_assets),
    ("csp", check_csp),
    ("coop", check_coop),
    ("containers", check_containers),
    ("requests", check_requests),
    ("messages", check_messages),
    ("hygiene", check_hygiene),
)


def build_report(
    obs: Observation, runtime: str | None, started_at: datetime | None = None
) -> tuple[Report, Context]:
    ctx = build_context(obs)
    report = Report(
        url=ctx.red.known(_shown_url(obs.url)),
        origin=ctx.origin,
        tool_version=__version__,
        runtime=runtime or _page_runtime(ctx),
        framework="django" if ctx.django else None,
        started_at=(started_at or datetime.now(timezone.utc)).isoformat(timespec="seconds"),
        duration_ms=obs.duration_ms,
        page_ms=obs.page_ms,
        stopped=obs.stopped,
    )
    for key, check in CHECKS:
        check(ctx, report.section(key))
    finals = [
        (c.get("states") or [{}])[-1].get("state") if c.get("states") else None
        for c in obs.containers
    ]
    report.containers_total = len(finals)
    report.containers_authenticated = sum(s == State.AUTHENTICATED for s in finals)
    return report, ctx


def _shown_url(url: str) -> str:
    # The query may hold anything (a token a host put there): only its names are shown.
    base, _, query = url.partition("?")
    if not query:
        return base
    names = [part.split("=", 1)[0] for part in query.split("&") if part]
    return base + "?" + "&".join(f"{name}=…" for name in names)


def _page_runtime(ctx: Context) -> str | None:
    tag = re.search(r"<script\b[^>]*\bdata-runtime=\"([a-z]+)\"", ctx.obs.dom)
    return tag.group(1) if tag else ("micropython" if ctx.loader_url else None)
