"""What a page under test went through, kept so that a failing helper can say why.

An embed that never authenticates shows only its last ``data-state`` by the time a
timeout fires; the cause is earlier: the host endpoint's answer (``POST /meshes/session
-> 429 rate-limited``), the bridge's ``meshes-bridge:error`` detail, a rejected message,
a console line, the app's log. A :class:`PageWatch` records these from the moment it is
attached (the plugin attaches one to every ``page`` a test uses, ``log_in`` to any other)
and :meth:`PageWatch.report` writes them as a few redacted lines: never a token, a JWT or
a launch URL.
"""

from __future__ import annotations

import json
import re
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from meshes_bridge.core.wire import CONSOLE_PREFIX
from meshes_bridge.testing.doubles.transcript import redact

if TYPE_CHECKING:
    from playwright.sync_api import ConsoleMessage, Page, Response

APP_LOG_LINES = 15
MAX_LINES = 20  # of each kind: the first ones name the cause, the rest repeat it
CONTAINER = "[data-meshes-embed]"
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")

# Installed in every document the page loads (before its scripts): the bridge's error and
# rejected events, which leave no trace in the DOM, kept for the report.
_RECORD_EVENTS = """(() => {
  const seen = window.__meshesWatch = {errors: [], rejected: []};
  const keep = (list) => (event) => {
    if (list.length < 50) list.push(JSON.parse(JSON.stringify(event.detail || {})));
  };
  document.addEventListener("meshes-bridge:error", keep(seen.errors), true);
  document.addEventListener("meshes-bridge:rejected", keep(seen.rejected), true);
})();"""

_READ_PAGE = """(selector) => ({
  states: Array.from(document.querySelectorAll(selector),
                     (c) => c.getAttribute("data-state")),
  errors: window.__meshesWatch ? window.__meshesWatch.errors : null,
  rejected: window.__meshesWatch ? window.__meshesWatch.rejected : null,
})"""

_WATCHES: weakref.WeakKeyDictionary[Any, PageWatch] = weakref.WeakKeyDictionary()


class PageWatch:
    """The host endpoints' answers, the bridge's console lines and the app's log for one
    page. Attach with :func:`watch_page`; read with :meth:`report`."""

    def __init__(self, page: Page, app_log: Callable[[], str] | None = None) -> None:
        self.page = page
        self.app_log = app_log
        self._responses: list[Response] = []
        self._console: list[str] = []
        self._lock = threading.Lock()
        page.add_init_script(_RECORD_EVENTS)
        page.on("response", self._on_response)
        page.on("console", self._on_console)
        page.on("pageerror", self._on_page_error)

    def _on_response(self, response: Response) -> None:
        # The host's endpoints: POSTs the page (or its worker) sent to its own origin.
        request = response.request
        same_origin = urlsplit(response.url).netloc == urlsplit(self.page.url).netloc
        if request.method == "POST" and request.resource_type in ("fetch", "xhr") and same_origin:
            with self._lock:
                self._responses.append(response)

    def _on_console(self, message: ConsoleMessage) -> None:
        if CONSOLE_PREFIX.strip() in message.text:
            with self._lock:
                self._console.append(f"{message.type}: {message.text}")

    def _on_page_error(self, error: Any) -> None:
        with self._lock:
            self._console.append(f"uncaught: {error}")

    def answers(self) -> list[str]:
        """``POST /meshes/session -> 429 rate-limited``, one a host endpoint answer."""
        with self._lock:
            responses = list(self._responses)
        return [_answer_line(response) for response in responses]

    def console(self) -> list[str]:
        with self._lock:
            return list(self._console)

    def report(self, index: int | None = None) -> str:
        """What went wrong, as lines for an assertion message (redacted). `index`: the
        container the caller waited for (all when None)."""
        lines: list[str] = []
        seen = self._read_page()
        states = seen.get("states") or []
        if index is not None and index < len(states):
            lines.append(f"container #{index}: data-state={states[index]!r}")
        elif states:
            lines.append(f"containers: data-state {states}")
        else:
            lines.append(f"no {CONTAINER} element on {_path(self.page.url)}")
        errors = seen.get("errors")
        if errors:
            lines.extend(_section("meshes-bridge:error", [_error_line(e) for e in errors]))
        elif errors is None:
            lines.append("meshes-bridge:error events: not recorded (the page was not watched)")
        lines.extend(_section("host endpoint answers", self.answers() or ["(none seen)"]))
        rejected = seen.get("rejected") or []
        if rejected:
            lines.extend(_section("rejected messages", [json.dumps(r) for r in rejected]))
        lines.extend(_section("console (bridge lines)", self.console() or ["(none)"]))
        if self.app_log is not None:
            text = _ANSI_ESCAPE.sub("", self.app_log())  # Werkzeug colours its lines
            tail = text.strip().splitlines()[-APP_LOG_LINES:]
            lines.extend(_section("app log (last lines)", tail or ["(empty)"]))
        return redact("\n".join(lines))

    def _read_page(self) -> dict[str, Any]:
        try:
            return dict(self.page.evaluate(_READ_PAGE, CONTAINER))
        except Exception as error:  # a closed page, a navigation under way
            return {"states": [], "errors": [{"code": "(unreadable)", "message": str(error)}]}


def _section(title: str, items: list[str]) -> list[str]:
    """`title:` then the items indented, a run of equal ones as one line with its count
    (a retried request), at most MAX_LINES of them."""
    runs: list[list[Any]] = []
    for item in items:
        if runs and runs[-1][0] == item:
            runs[-1][1] += 1
        else:
            runs.append([item, 1])
    lines = [f"  {item} (x{count})" if count > 1 else f"  {item}" for item, count in runs]
    more = [f"  ... and {len(lines) - MAX_LINES} more"] if len(lines) > MAX_LINES else []
    return [f"{title}:", *lines[:MAX_LINES], *more]


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _error_line(detail: Any) -> str:
    if isinstance(detail, dict):
        return f"{detail.get('code')}: {detail.get('message')}"
    return str(detail)


def _answer_line(response: Response) -> str:
    line = f"{response.request.method} {_path(response.url)} -> {response.status}"
    if response.status < 400:
        return line
    try:
        body = response.json()
    except Exception:  # not JSON, or the body is gone with its document
        return line
    if isinstance(body, dict) and body.get("error"):
        field = f" ({body['field']})" if body.get("field") else ""
        return f"{line} {body['error']}{field}"
    return line


def watch_page(page: Page, app_log: Callable[[], str] | None = None) -> PageWatch:
    """The page's watch, attached now if it has none (idempotent); `app_log` (e.g.
    ``meshes_app.output``) is kept for the report when given."""
    watch = _WATCHES.get(page)
    if watch is None:
        watch = _WATCHES[page] = PageWatch(page, app_log)
    elif app_log is not None:
        watch.app_log = app_log
    return watch


def watch_of(page: Page) -> PageWatch | None:
    """The page's watch, or None when nothing attached one."""
    return _WATCHES.get(page)
