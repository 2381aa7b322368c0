"""Forward the embed's timings to your monitoring, with Flask: put this endpoint's path in
`data-timings-url` on the loader's script tag, and the bridge POSTs each embed's timings
here as JSON, once per authentication. Register it with `app.register_blueprint(timings)`.
"""

import logging

from flask import Blueprint, Response, request

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

timings = Blueprint("embed_timings", __name__)


@timings.post("/monitoring/embed-timings")
def embed_timings() -> Response:
    report = request.get_json(silent=True)
    if not isinstance(report, dict) or not isinstance(report.get("auth"), int | float):
        return Response(status=400)
    # Anyone may POST here: log the numbers (ms since navigation start), not the raw body.
    steps = {s: report[s] for s in STEPS if isinstance(report.get(s), int | float)}
    runtime = report.get("runtime") if report.get("runtime") in ("micropython", "pyodide") else "?"
    log.info(
        "embed timings runtime=%s %s", runtime, " ".join(f"{k}={v:.0f}" for k, v in steps.items())
    )
    return Response(status=204)
