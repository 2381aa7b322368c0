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

from meshes_bridge.server.timings import describe_timings, read_timings

log = logging.getLogger("myapp.embed_timings")


@require_POST
def embed_timings(request: HttpRequest) -> HttpResponse:
    try:
        report = json.loads(request.body)
    except ValueError:
        report = None
    checked = read_timings(report)  # anyone may POST here: only the numbers
    if checked is None:
        return HttpResponse(status=400)
    log.info("embed timings %s", describe_timings(checked))
    return HttpResponse(status=204)
