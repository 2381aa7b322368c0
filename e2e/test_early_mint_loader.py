"""The loader's half of the early mint: at page load it sends each
container's mint request exactly as the bridge's Python would, and keeps the answer for
Python alone, behind a one-shot accessor. What Python then does with it is not tested
here: these pages load a tree whose runtime never starts, so nothing but the loader runs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.harness import HostPage
from meshes_bridge import assets
from tests.host.origin import RecordedRequest
from tests.host.pages import SESSION_PATH, render_attrs
from tests.host.servers import HostServers

STALLED = "/stalled-runtime/"
# The runtime's entry points replaced by a module that never finishes evaluating.
NEVER = b"await new Promise(() => {});\n"

TAKE = """async (el) => {
  const r = globalThis[Symbol.for("meshes-bridge.early")](el);
  if (r === null) return null;
  const { response, abort, ...fields } = r;
  return { ...fields, keys: Object.keys(r).sort(), abortable: typeof abort === "function",
           answer: await response };
}"""


# The module the loader imports first, after its mints: PyScript's (the chunk core.js
# re-exports), or, on MicroPython without a hooks module, the interpreter's own.
FIRST_IMPORTS = (assets.tree_manifest()["core"], "micropython.mjs")


@pytest.fixture(scope="module")
def stalled_loader(session_servers: HostServers, static_dir: Path) -> Iterator[str]:
    """The tree under STALLED, with PyScript's core module and the interpreter's module
    never done: the loader runs, Python never does."""
    paths = []
    for path in sorted(static_dir.rglob("*")):
        if path.is_file():
            url_path = STALLED + path.relative_to(static_dir).as_posix()
            stalled = path.name in FIRST_IMPORTS
            session_servers.backend.add_file(url_path, NEVER if stalled else path.read_bytes())
            paths.append(url_path)
    yield STALLED + "loader.js"
    for url_path in paths:
        session_servers.backend.remove(url_path)


@pytest.fixture(params=["micropython"])
def runtime(request: pytest.FixtureRequest) -> str:
    """The loader's JavaScript is the same for both: one interpreter is enough."""
    return str(request.param)


def open_page(host: HostPage, loader: str, containers: list[dict[str, Any]], **script: Any) -> None:
    divs = [
        f"<div{render_attrs({'data-meshes-embed': True, 'id': f'embed-{n}', **attrs})}></div>"
        for n, attrs in enumerate(containers, start=1)
    ]
    tag = render_attrs({"type": "module", "src": loader, "data-runtime": "micropython", **script})
    html = (
        "<!doctype html><html><head><title>early mint</title></head><body>"
        + "".join(divs)
        + f"<script{tag}></script></body></html>"
    )
    host.open_html(html)
    for number in range(1, len(containers) + 1):
        host.wait_state("booting", index=number, timeout=10_000)


def mint_calls(host: HostPage, count: int, timeout: float = 10.0) -> list[RecordedRequest]:
    """The mint requests, once `count` have arrived and every POST the page sent has too.

    The loader sends its early mints in one synchronous loop and only then asks for its
    first module: once the page has asked for that, it has sent every mint it ever will,
    so "nothing more" is a condition, not a pause."""
    backend = host.servers.backend
    deadline = time.monotonic() + timeout
    while True:
        seen = host.requests
        past_loop = any(r.url.split("?")[0].rsplit("/", 1)[-1] in FIRST_IMPORTS for r in seen)
        sent = len([r for r in seen if r.method == "POST"])
        arrived = backend.calls("mint")
        if past_loop and len(arrived) >= max(count, sent):
            return arrived
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(arrived)} of {max(count, sent)} mint requests arrived")
        host.page.wait_for_timeout(20)  # lets Playwright deliver the page's request events


def take(host: HostPage, index: int) -> Any:
    return host.container(index).evaluate(TAKE)


def header(call: RecordedRequest, name: str) -> str | None:
    found = [v for k, v in call.headers.items() if k.lower() == name.lower()]
    return found[0] if found else None


def test_the_request_is_the_one_the_bridge_would_send(
    host: HostPage, servers: HostServers, stalled_loader: str
) -> None:
    body = '{"launch_page": "connections"}'
    open_page(host, stalled_loader, [{"data-session-url": SESSION_PATH, "data-session-body": body}])
    (call,) = mint_calls(host, 1)
    assert call.method == "POST" and call.path == SESSION_PATH
    assert header(call, "Content-Type") == "application/json"
    assert header(call, "Accept") == "application/json"
    assert header(call, "X-CSRFToken") is None
    assert call.body == '{"launch_page":"connections"}'  # JSON.stringify of the attribute
    record = take(host, 1)
    assert record["keys"] == sorted(
        ["url", "href", "body", "bodyText", "csrfCookie", "csrfHeader", "csrfValue"]
        + ["response", "abort"]
    )
    assert record["url"] == SESSION_PATH and record["body"] == body
    # What it was sent to and with, for Python to compare with what it would send.
    assert record["href"] == servers.url(SESSION_PATH) and record["bodyText"] == call.body
    assert record["csrfCookie"] is None and record["csrfHeader"] is None
    assert record["csrfValue"] is None and record["abortable"]
    answer = record["answer"]
    assert answer["status"] == 200 and set(answer) == {"status", "text"}
    assert json.loads(answer["text"])["session_id"]
    # Taken once: Python owns it from then on.
    assert take(host, 1) is None


def test_no_body_attribute_sends_an_empty_object(
    host: HostPage, servers: HostServers, stalled_loader: str
) -> None:
    url = f"  {servers.host_url}{SESSION_PATH}  "  # absolute, same origin, untrimmed
    open_page(host, stalled_loader, [{"data-session-url": url}])
    (call,) = mint_calls(host, 1)
    assert call.body == "{}" and call.path == SESSION_PATH
    record = take(host, 1)
    assert record["url"] == url and record["body"] is None  # the raw attributes
    assert record["href"] == servers.url(SESSION_PATH) and record["bodyText"] == "{}"


def test_the_csrf_pair_sends_the_cookie_in_the_header(
    host: HostPage, servers: HostServers, stalled_loader: str
) -> None:
    servers.backend.csrf = True
    host.page.goto(servers.url("/set-csrf?value=csrf-value-1"))
    csrf = {"data-csrf-cookie": " csrftoken ", "data-csrf-header": "X-CSRFToken"}
    open_page(host, stalled_loader, [{"data-session-url": SESSION_PATH, **csrf}])
    (call,) = mint_calls(host, 1)
    assert header(call, "X-CSRFToken") == "csrf-value-1"
    record = take(host, 1)
    assert record["csrfCookie"] == "csrftoken" and record["csrfHeader"] == "X-CSRFToken"
    assert record["csrfValue"] == "csrf-value-1"
    assert record["answer"]["status"] == 200  # the backend's CSRF check passed


def test_a_missing_csrf_cookie_sends_no_header(
    host: HostPage, servers: HostServers, stalled_loader: str
) -> None:
    servers.backend.csrf = True  # the page sets `csrftoken`; the container names another
    csrf = {"data-csrf-cookie": "csrftoken2", "data-csrf-header": "X-CSRFToken"}
    open_page(host, stalled_loader, [{"data-session-url": SESSION_PATH, **csrf}])
    (call,) = mint_calls(host, 1)
    assert header(call, "X-CSRFToken") is None
    record = take(host, 1)
    assert record["csrfValue"] is None and record["csrfCookie"] == "csrftoken2"
    assert record["answer"]["status"] == 403  # what Python would have got, to judge


def test_one_request_per_container(
    host: HostPage, servers: HostServers, stalled_loader: str
) -> None:
    bodies = [{"launch_page": page} for page in ("dashboard", "rules", "events")]
    containers = [
        {"data-session-url": SESSION_PATH, "data-session-body": json.dumps(b)} for b in bodies
    ]
    open_page(host, stalled_loader, containers)
    calls = mint_calls(host, 3)
    assert sorted(json.loads(c.body)["launch_page"] for c in calls) == sorted(
        b["launch_page"] for b in bodies
    )
    sessions = {json.loads(take(host, i)["answer"]["text"])["session_id"] for i in (1, 2, 3)}
    assert len(sessions) == 3


@pytest.mark.parametrize(
    "attrs",
    [
        pytest.param({"data-session-url": "EMBED/meshes/session"}, id="cross-origin"),
        pytest.param({"data-session-url": "javascript:void(0)"}, id="javascript-url"),
        pytest.param({"data-session-url": "http://[::1"}, id="unparsable-url"),
        pytest.param({"data-session-body": "[1, 2]"}, id="array-body"),
        pytest.param({"data-session-body": "null"}, id="null-body"),
        pytest.param({"data-session-body": '"text"'}, id="string-body"),
        pytest.param({"data-session-body": "{not json"}, id="invalid-body"),
        pytest.param({"data-csrf-cookie": "csrftoken"}, id="cookie-without-header"),
        pytest.param({"data-csrf-header": "X-CSRFToken"}, id="header-without-cookie"),
        pytest.param({"data-session-url": None}, id="no-session-url"),
    ],
)
def test_no_request_for_what_the_bridge_would_refuse(
    host: HostPage, servers: HostServers, stalled_loader: str, attrs: dict[str, Any]
) -> None:
    bad = {"data-session-url": SESSION_PATH, **attrs}
    if str(bad["data-session-url"]).startswith("EMBED"):
        bad["data-session-url"] = servers.embed_url + SESSION_PATH
    good = {"data-session-url": SESSION_PATH, "data-session-body": '{"launch_page": "rules"}'}
    open_page(host, stalled_loader, [bad, good])
    (call,) = mint_calls(host, 1)
    assert json.loads(call.body) == {"launch_page": "rules"}
    assert take(host, 1) is None
    assert take(host, 2)["answer"]["status"] == 200
    embed_requests = [r for r in host.requests if r.url.startswith(servers.embed_url)]
    assert embed_requests == []


@pytest.mark.parametrize("value", ["false", "off", " NO ", "0"])
def test_the_opt_out(host: HostPage, servers: HostServers, stalled_loader: str, value: str) -> None:
    open_page(
        host, stalled_loader, [{"data-session-url": SESSION_PATH}], **{"data-early-mint": value}
    )
    assert mint_calls(host, 0) == []
    assert take(host, 1) is None


def test_an_error_answer_is_kept_as_it_came(
    host: HostPage, servers: HostServers, stalled_loader: str
) -> None:
    servers.backend.fail_next("mint", 503)
    open_page(host, stalled_loader, [{"data-session-url": SESSION_PATH}])
    mint_calls(host, 1)
    answer = take(host, 1)["answer"]
    assert answer["status"] == 503 and json.loads(answer["text"])["status"] == 503


def test_abort_resolves_as_a_network_error(
    host: HostPage, servers: HostServers, stalled_loader: str
) -> None:
    servers.backend.hang_next("mint")
    open_page(host, stalled_loader, [{"data-session-url": SESSION_PATH}])
    mint_calls(host, 1)
    answer = host.container(1).evaluate(
        """async (el) => {
          const r = globalThis[Symbol.for("meshes-bridge.early")](el);
          r.abort();
          return await r.response;
        }"""
    )
    assert answer == {"status": 0, "text": "", "error": "network error"}


def test_the_answer_is_not_logged(
    host: HostPage, servers: HostServers, stalled_loader: str
) -> None:
    open_page(host, stalled_loader, [{"data-session-url": SESSION_PATH}], **{"data-debug": ""})
    mint_calls(host, 1)
    take(host, 1)
    tokens = host.access_tokens()
    assert tokens
    assert not [line for line in host.console if any(t in line for t in tokens)]
