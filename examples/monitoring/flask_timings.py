"""Forward the embed's timings to your monitoring, with Flask: put this endpoint's path in
`data-timings-url` on the loader's script tag, and the bridge POSTs each embed's timings
here as JSON, once per authentication. Register it with `app.register_blueprint(timings)`.
"""

import logging

from flask import Blueprint, Response, request

from meshes_bridge.server.timings import describe_timings, read_timings

log = logging.getLogger("myapp.embed_timings")

timings = Blueprint("embed_timings", __name__)


@timings.post("/monitoring/embed-timings")
def embed_timings() -> Response:
    report = request.get_json(silent=True)
    checked = read_timings(report)  # anyone may POST here: only the numbers
    if checked is None:
        return Response(status=400)
    log.info("embed timings %s", describe_timings(checked))
    return Response(status=204)
