"""The POSTs the bridge makes (mint, refresh, timings report), to the host's own origin:
sent by the loader's relay (core/wire.py, "Requests"), which answers the container's
callable."""

import json

import js

from meshes_bridge.browser import ffi


def read_cookie(name: str) -> "str | None":
    for part in str(js.document.cookie).split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def post_init(
    body: "dict[str, object]", csrf_cookie: "str | None", csrf_header: "str | None"
) -> str:
    """The fetch options of a JSON POST, as JSON text: same-origin credentials, no cache;
    the CSRF cookie's current value in its header when the container names the pair."""
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if csrf_cookie and csrf_header:
        value = read_cookie(csrf_cookie)
        if value is not None:
            headers[csrf_header] = value
    return json.dumps(
        {
            "method": "POST",
            "headers": headers,
            "body": json.dumps(body),
            "credentials": "same-origin",
            "cache": "no-store",
        }
    )


def post_json(
    answer: object,
    request_id: int,
    url: str,
    body: "dict[str, object]",
    csrf_cookie: "str | None",
    csrf_header: "str | None",
) -> int:
    """Send the POST; `answer` (a proxy) gets (request_id, status, text) once, unless
    aborted. The ticket for ffi.abort."""
    return ffi.request(answer, request_id, url, post_init(body, csrf_cookie, csrf_header))
