"""Forward the embed's timings to your monitoring, with Django: put this view's URL in
`data-timings-url` on the loader's script tag (the template helpers' `timings_url=`), and
the bridge POSTs each embed's timings here as JSON, once per authentication. In urls.py:
`path("monitoring/embed-timings", embed_timings)`. The container's CSRF pair
(`data-csrf-cookie="csrftoken"`, `data-csrf-header="X-CSRFToken"`) goes with the POST, so
Django's CSRF middleware stays on for it.
"""

import json
import logging

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_POST

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


@require_POST
def embed_timings(request: HttpRequest) -> HttpResponse:
    try:
        report = json.loads(request.body)
    except ValueError:
        report = None
    if not isinstance(report, dict) or not isinstance(report.get("auth"), int | float):
        return HttpResponse(status=400)
    # Anyone may POST here: log the numbers (ms since navigation start), not the raw body.
    steps = {s: report[s] for s in STEPS if isinstance(report.get(s), int | float)}
    runtime = report.get("runtime") if report.get("runtime") in ("micropython", "pyodide") else "?"
    log.info(
        "embed timings runtime=%s %s", runtime, " ".join(f"{k}={v:.0f}" for k, v in steps.items())
    )
    return HttpResponse(status=204)
