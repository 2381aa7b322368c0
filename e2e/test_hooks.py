"""Python hooks (host interface 5): a module named by the script tag's `data-hooks` gets
on_ready, on_navigate, on_resize, on_token_expired and on_error, sync or async; a hook
that raises is reported as a `hook` error and the bridge keeps working; under Pyodide a
hook can call the host with `urllib.request` (pyodide-http); a hooks URL on another origin
is refused with a `hooks` error. No PyScript error banner ever shows."""

from __future__ import annotations

import json
from itertools import count
from typing import Any

import pytest

from e2e.harness import HostPage

# The hooks write what they got into window.hookCalls, as JSON lists [name, ...values].
# A file on the host origin, not an inline script: the page's policy refuses inline code.
RECORDER_JS = "window.hookCalls = [];\n"
PRELUDE = """
import json

import js


def record(*values):
    js.window.hookCalls.push(json.dumps(list(values)))

"""

SYNC_HOOKS = (
    PRELUDE
    + """
def on_ready(embed):
    record("ready", embed.session_id, str(embed.element.id))


def on_navigate(embed, detail):
    record("navigate", embed.session_id, detail)


def on_resize(embed, height):
    record("resize", height)


def on_token_expired(embed):
    record("token-expired", embed.session_id)


def on_error(embed, code, message):
    record("error", embed.session_id, code, message)
"""
)

ASYNC_HOOKS = (
    PRELUDE
    + """
import asyncio


async def on_ready(embed):
    # An async hook can await the host's own endpoints with fetch, on both interpreters.
    response = await js.fetch("/hooks/ping.json")
    ping = json.loads(str(await response.text()))
    record("ready", embed.session_id, ping)


async def on_navigate(embed, detail):
    await asyncio.sleep(0.01)
    record("navigate", detail)


async def on_resize(embed, height):
    await asyncio.sleep(0)
    record("resize", height)


async def on_token_expired(embed):
    await asyncio.sleep(0)
    record("token-expired", embed.session_id)
"""
)

RAISING_HOOKS = (
    PRELUDE
    + """
import asyncio
import sys


def on_navigate(embed, detail):
    raise ValueError("the host's bug")


def on_token_expired(embed):
    sys.exit(3)  # not even SystemExit may take the bridge down


async def on_resize(embed, height):
    await asyncio.sleep(0)
    if height == 777:
        raise KeyError("height")
    record("resize", height)


def on_error(embed, code, message):
    record("error", code, message)
    raise RuntimeError("a bug in on_error too")
"""
)

URLLIB_HOOKS = (
    PRELUDE
    + """
import urllib.request


def on_ready(embed):
    # Synchronous urllib, through pyodide-http (patched in before hooks load).
    url = str(js.location.origin) + "/hooks/ping.json"
    with urllib.request.urlopen(url) as response:
        record("ping", response.status, json.loads(response.read().decode()))
    request = urllib.request.Request(url + "?again=1", headers={"X-Hook": "yes"})
    with urllib.request.urlopen(request) as response:
        record("ping-again", response.status, json.loads(response.read().decode()))
"""
)

PING = {"pong": True, "from": "the host"}
_module_numbers = count(1)


def _open_with_hooks(host: HostPage, source: str) -> str:
    """Serve `source` as a hooks module and open a page naming it; returns its path."""
    backend = host.servers.backend
    path = f"/hooks/h{next(_module_numbers)}.py"
    backend.add_file(path, source, "text/plain")
    backend.add_file("/hooks/ping.json", json.dumps(PING), "application/json")
    host.open(script_attrs={"data-hooks": path}, extra_body=_recorder(host))
    return path


def _recorder(host: HostPage) -> str:
    """The `<script src>` tag that creates window.hookCalls before the loader runs."""
    return host.script_tag("hook-calls.js", RECORDER_JS)


def _calls(host: HostPage, name: str, at_least: int = 1) -> list[list[Any]]:
    """Wait until the hooks recorded `at_least` calls named `name`; all of them, decoded."""
    host.page.wait_for_function(
        "([n, c]) => window.hookCalls.filter(s => JSON.parse(s)[0] === n).length >= c",
        arg=[name, at_least],
        timeout=15_000,
    )
    recorded = [json.loads(s) for s in host.page.evaluate("window.hookCalls")]
    return [values[1:] for values in recorded if values[0] == name]


def _resized(host: HostPage, height: int) -> list[list[Any]]:
    """Resize the embed to `height`; once applied, on_resize's calls, one per resize event
    (navigating also resizes the embed's content)."""
    host.stub(f"resize({height})")
    host.page.wait_for_function(
        "h => window.__meshesEvents.some(e => e.name === 'resize' && e.detail.height === h)",
        arg=height,
    )
    heights = [e["detail"]["height"] for e in host.events("resize")]
    calls = _calls(host, "resize", len(heights))
    assert calls == [[h] for h in heights]
    assert calls[-1] == [height]
    return calls


def _no_pyscript_error(host: HostPage) -> None:
    """No PyScript error banner or overlay, no uncaught page error."""
    banners = host.page.locator(".py-error, py-error, mpy-error, .py-overlay, #pyscript-error")
    assert banners.count() == 0
    assert host.errors == []
    assert not [line for line in host.console if "Traceback" in line], host.console


def test_sync_hooks_get_every_event(host: HostPage) -> None:
    backend = host.servers.backend
    _open_with_hooks(host, SYNC_HOOKS)
    host.wait_authenticated()
    session_id = host.stub("status()")["session_id"]
    assert _calls(host, "ready") == [[session_id, "embed-1"]]
    # The embed's own first resize reaches on_resize with the applied height.
    first = host.wait_event("resize")[0]["detail"]["height"]
    assert _calls(host, "resize") == [[first]]

    host.stub("navigate('rules')")
    assert _calls(host, "navigate") == [[session_id, {"page": "rules", "path": "/workspace/rules"}]]
    _resized(host, 777)

    host.stub("expire()")
    assert _calls(host, "token-expired") == [[session_id]]
    host.wait_event("token-refreshed")
    host.wait_state("authenticated")

    # An unusable refresh answer: an error the bridge reports, then recovers from by
    # minting afresh. on_error hears it; on_ready hears the new session.
    backend.fail_next("refresh", 200, body={"unexpected": True})
    host.stub("askRefresh()")
    [error] = host.wait_event("error")
    # (Its embed.session_id is whatever is current when it runs: the old session is gone.)
    [[_sid, code, message]] = _calls(host, "error")
    assert (code, message) == ("refresh-failed", error["detail"]["message"])
    assert error["detail"]["code"] == "refresh-failed"
    ready = _calls(host, "ready", 2)
    host.wait_authenticated()
    new_session = host.stub("status()")["session_id"]
    assert new_session != session_id
    assert ready == [[session_id, "embed-1"], [new_session, "embed-1"]]
    _no_pyscript_error(host)


def test_async_hooks(host: HostPage) -> None:
    _open_with_hooks(host, ASYNC_HOOKS)
    host.wait_authenticated()
    session_id = host.stub("status()")["session_id"]
    assert _calls(host, "ready") == [[session_id, PING]]
    first = host.wait_event("resize")[0]["detail"]["height"]
    host.stub("navigate('events')")
    assert _calls(host, "navigate") == [[{"page": "events", "path": "/workspace/events"}]]
    assert _resized(host, 912)[0] == [first]
    host.stub("expire()")
    assert _calls(host, "token-expired") == [[session_id]]
    host.wait_event("token-refreshed")
    host.wait_state("authenticated")
    assert host.events("error") == []
    _no_pyscript_error(host)


def test_a_hook_that_raises_is_reported_and_the_bridge_keeps_working(host: HostPage) -> None:
    _open_with_hooks(host, RAISING_HOOKS)
    host.wait_authenticated()
    host.wait_event("resize")

    host.stub("navigate('rules')")
    [navigate_error] = host.wait_event("error")
    assert navigate_error["detail"] == {"code": "hook", "message": "on_navigate raised ValueError"}
    host.stub("resize(777)")  # the async on_resize raises for this one
    errors = host.wait_event("error", count=2)
    assert errors[1]["detail"] == {"code": "hook", "message": "on_resize raised KeyError"}
    # on_error heard both; that it raised too is only logged, never re-reported.
    assert _calls(host, "error", 2) == [
        ["hook", "on_navigate raised ValueError"],
        ["hook", "on_resize raised KeyError"],
    ]
    # The bridge carries on: the resize was applied, a refresh still authenticates.
    assert host.iframe_height() == "777px"
    host.stub("resize(640)")
    host.page.wait_for_function(
        "() => window.hookCalls.some(s => s.replace(/ /g, '') === '[\"resize\",640]')"
    )
    assert host.iframe_height() == "640px"
    host.stub("expire()")  # on_token_expired calls sys.exit()
    errors = host.wait_event("error", count=3)
    assert errors[2]["detail"] == {"code": "hook", "message": "on_token_expired raised SystemExit"}
    host.wait_event("token-refreshed")
    host.wait_state("authenticated")
    host.frame().wait_for_function("() => window.stub.status().token_generation === 2")
    assert host.container().get_attribute("data-state") == "authenticated"
    assert len(host.events("error")) == 3
    assert _calls(host, "error", 3)[2] == ["hook", "on_token_expired raised SystemExit"]
    logged = [line for line in host.console if "on_error raised RuntimeError" in line]
    assert len(logged) == 3, host.console
    _no_pyscript_error(host)


def test_pyodide_hooks_can_use_urllib(host: HostPage) -> None:
    if host.runtime != "pyodide":
        pytest.skip("urllib through pyodide-http is a Pyodide feature")
    _open_with_hooks(host, URLLIB_HOOKS)
    host.wait_authenticated()
    assert _calls(host, "ping") == [[200, PING]]
    assert _calls(host, "ping-again") == [[200, PING]]
    hook_requests = [r for r in host.requests if "/hooks/ping.json" in r.url]
    assert [r.headers.get("x-hook") for r in hook_requests] == [None, "yes"]
    assert host.events("error") == []
    _no_pyscript_error(host)


@pytest.mark.parametrize("case", ["another-origin", "exits-on-import"])
def test_hooks_that_cannot_load_are_refused(host: HostPage, case: str) -> None:
    servers = host.servers
    if case == "another-origin":
        hooks = servers.embed_url + "/hooks/evil.py"
        expected = "hooks module not loaded: data-hooks must be on the page's own origin"
    else:
        hooks = servers.backend.add_file("/hooks/exits.py", "import sys\nsys.exit(3)\n")
        expected = "hooks module not loaded: SystemExit"
    host.open(script_attrs={"data-hooks": hooks}, extra_body=_recorder(host))
    [error] = host.wait_event("error")
    assert error["detail"] == {"code": "hooks", "message": expected}
    assert error["target"] == "embed-1"
    # The bridge works without hooks.
    host.wait_authenticated()
    host.stub("askRefresh()")
    host.wait_event("token-refreshed")
    if case == "another-origin":  # the foreign module was never even fetched
        assert not [r for r in host.requests if r.url.startswith(hooks)]
    assert host.page.evaluate("window.hookCalls") == []
    assert len(host.events("error")) == 1
    _no_pyscript_error(host)
