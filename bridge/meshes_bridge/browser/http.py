"""The two POSTs the bridge makes, to the host's own origin: always async fetch."""

import json

import js

from meshes_bridge.browser.ffi import to_plain


def read_cookie(name: str) -> "str | None":
    for part in str(js.document.cookie).split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def _init(
    body: "dict[str, object]",
    csrf_cookie: "str | None",
    csrf_header: "str | None",
    signal: "js.AbortSignal",
) -> "js.Object":
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if csrf_cookie and csrf_header:
        value = read_cookie(csrf_cookie)
        if value is not None:
            headers[csrf_header] = value
    init = to_plain(
        {
            "method": "POST",
            "headers": headers,
            "body": json.dumps(body),
            "credentials": "same-origin",
            "cache": "no-store",
        }
    )
    init.signal = signal
    return init


async def post_json(
    url: str,
    body: "dict[str, object]",
    csrf_cookie: "str | None",
    csrf_header: "str | None",
    signal: "js.AbortSignal",
) -> "tuple[int, str]":
    """(status, body text). Raises on network errors and aborts."""
    response = await js.fetch(url, _init(body, csrf_cookie, csrf_header, signal))
    text = await response.text()
    return int(response.status), str(text)
