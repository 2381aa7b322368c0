"""The POST of a mount's timings to the script tag's `data-timings-url` (host interface
6): once, as JSON, with the container's CSRF pair. A report, not part of the embed: it is
never retried, nothing waits for it, and a failure is one console line that changes
nothing (no URL in it, nor anything the host's endpoint answered)."""

import js

from meshes_bridge.browser.ffi import to_plain
from meshes_bridge.browser.http import post_init
from meshes_bridge.browser.log import Console

# A host endpoint that hangs must not keep the request (and its task) forever.
TIMEOUT_MS = 10000


async def post_timings(
    url: str,
    timings: "dict[str, object]",
    csrf_cookie: "str | None",
    csrf_header: "str | None",
    controller: "js.AbortController",
    console: Console,
) -> None:
    # The same JSON POST as the bridge's own (same-origin credentials, no cache, the
    # CSRF pair), but a fetch of this task's own: the relay's answer goes to the core.
    init = js.JSON.parse(post_init(timings, csrf_cookie, csrf_header))
    init.signal = js.AbortSignal.any(
        to_plain([]).concat(controller.signal, js.AbortSignal.timeout(TIMEOUT_MS))
    )
    try:
        response = await js.fetch(url, init)
        status = int(response.status)
    except Exception:
        if not bool(controller.signal.aborted):  # torn down: not news
            console.write("warn", "timings not posted to data-timings-url: network error")
        return
    if not 200 <= status < 300:
        console.write("warn", "timings not posted to data-timings-url: HTTP " + str(status))
