"""Forward the embed's timings to your monitoring, with FastAPI: put this endpoint's path
in `data-timings-url` on the loader's script tag, and the bridge POSTs each embed's
timings here as JSON, once per authentication. Add it with `app.include_router(timings)`.
"""

import logging

from fastapi import APIRouter, Request, Response

log = logging.getLogger("myapp.embed_timings")
STEPS = (
    "loader",
    "runtime_ready",
    "mint_sent",
    "mint_answered",
    "iframe_created",
    "iframe_loaded",
    "ready",
    "auth",
)

timings = APIRouter()


@timings.post("/monitoring/embed-timings")
async def embed_timings(request: Request) -> Response:
    try:
        report = await request.json()
    except ValueError:
        report = None
    if not isinstance(report, dict) or not isinstance(report.get("auth"), int | float):
        return Response(status_code=400)
    # Anyone may POST here: log the numbers (ms since navigation start), not the raw body.
    steps = {s: report[s] for s in STEPS if isinstance(report.get(s), int | float)}
    runtime = report.get("runtime") if report.get("runtime") in ("micropython", "pyodide") else "?"
    log.info(
        "embed timings runtime=%s %s", runtime, " ".join(f"{k}={v:.0f}" for k, v in steps.items())
    )
    return Response(status_code=204)
