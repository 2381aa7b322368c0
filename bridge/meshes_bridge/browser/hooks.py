"""Host hooks: an optional Python module named by the script tag's data-hooks.

Hooks run in their own asyncio task, after the bridge has finished reacting to the
event, so a slow or failing hook never delays or breaks the bridge itself.
"""

import asyncio

import js

from meshes_bridge.browser.ffi import to_plain
from meshes_bridge.core.wire import CONSOLE_PREFIX, ErrorCode, Event

HOOKS_TIMEOUT_MS = 10000


def _none(detail: "dict[str, object]") -> "tuple[object, ...]":
    return ()


def _detail(detail: "dict[str, object]") -> "tuple[object, ...]":
    return (detail,)


def _height(detail: "dict[str, object]") -> "tuple[object, ...]":
    return (detail["height"],)


def _code_message(detail: "dict[str, object]") -> "tuple[object, ...]":
    return (detail["code"], detail["message"])


# Event name -> (hook function name, how to build its arguments after `embed`).
HOOKS = {
    Event.READY: ("on_ready", _none),
    Event.NAVIGATE: ("on_navigate", _detail),
    Event.RESIZE: ("on_resize", _height),
    Event.TOKEN_EXPIRED: ("on_token_expired", _none),
    Event.ERROR: ("on_error", _code_message),
    Event.TIMINGS: ("on_timings", _detail),
}


class HookError(Exception):
    pass


async def load_hooks(url: str) -> "dict[str, object]":
    """Fetch and run the hooks module; its namespace. Same origin only: it is code."""
    if not js.URL.canParse(url, js.location.href):
        raise HookError("data-hooks is not a valid URL")
    resolved = js.URL.new(url, js.location.href)
    if str(resolved.origin) != str(js.location.origin):
        raise HookError("data-hooks must be on the page's own origin")
    # No hang may keep every container waiting for it.
    init = to_plain({"credentials": "same-origin"})
    init.signal = js.AbortSignal.timeout(HOOKS_TIMEOUT_MS)
    response = await js.fetch(resolved.href, init)
    if not response.ok:
        raise HookError("data-hooks answered HTTP " + str(response.status))
    # It is code: a redirect must not have taken it to another origin.
    if str(js.URL.new(response.url).origin) != str(js.location.origin):
        raise HookError("data-hooks redirected to another origin")
    source = str(await response.text())
    namespace: dict[str, object] = {"__name__": "meshes_hooks"}
    exec(source, namespace)
    return namespace


class Hooks:
    def __init__(self, namespace: "dict[str, object]", report: object) -> None:
        self._namespace = namespace
        # report(embed, code, message) for a hook that raised. A callable: no type says so
        # here (MicroPython has no `typing`), hence the ignore where it is called.
        self._report = report
        # The hooks running: the event loop holds its tasks only weakly (on CPython, so
        # Pyodide), and one collected halfway would never finish or report.
        self._running: set[object] = set()

    def dispatch(self, embed: object, name: str, detail: "dict[str, object]") -> None:
        entry = HOOKS.get(name)
        if entry is None:
            return
        func = self._namespace.get(entry[0])
        if func is None:
            return
        self._running.add(asyncio.create_task(self._call(embed, entry[0], func, entry[1](detail))))

    async def _call(
        self, embed: object, hook_name: str, func: object, args: "tuple[object, ...]"
    ) -> None:
        try:
            # Whatever the host's module bound to the name: if not callable, TypeError.
            result = func(embed, *args)  # type: ignore[operator]
            if hasattr(result, "send") and hasattr(result, "throw"):
                await result
        except BaseException as exc:  # a host's bug (even sys.exit) must not take it down
            if hook_name != "on_error":
                self._report(embed, ErrorCode.HOOK, hook_name + " raised " + type(exc).__name__)  # type: ignore[operator]
            else:
                js.console.error(CONSOLE_PREFIX + "on_error raised " + type(exc).__name__)
        finally:
            self._running.discard(asyncio.current_task())
