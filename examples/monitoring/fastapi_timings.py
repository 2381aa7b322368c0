"""Forward the embed's timings to your monitoring, with FastAPI: put this endpoint's path
in `data-timings-url` on the loader's script tag, and the bridge POSTs each embed's
timings here as JSON, once per authentication. Add it with `app.include_router(timings)`.
"""

import logging

from fastapi import APIRouter, Request, Response

from meshes_bridge.server.timings import describe_timings, read_timings

log = logging.getLogger("myapp.embed_timings")

timings = APIRouter()


@timings.post("/monitoring/embed-timings")
async def embed_timings(request: Request) -> Response:
    try:
        report = await request.json()
    except ValueError:
        report = None
    checked = read_timings(report)  # anyone may POST here: only the numbers
    if checked is None:
        return Response(status_code=400)
    log.info("embed timings %s", describe_timings(checked))
    return Response(status_code=204)
