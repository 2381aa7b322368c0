"""One doctor run in the browser: log in when asked, open the page with the probe
installed, watch every container until they settle (or nothing more can happen, or the
timeout), then collect what was seen into an :class:`Observation`.

It stops by itself: every container `authenticated` or `error` (then one more second,
for a hook raising after ready and the timings event); or a failure seen and nothing
changed for a few seconds; or no container a few seconds after the load event; or the
login page instead of the page; or ``--timeout``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from meshes_bridge.core.wire import CONTAINER_SELECTOR, EVENT_PREFIX, STATE_ATTRIBUTE, Event, State
from meshes_bridge.doctor import browser
from meshes_bridge.doctor.observe import ConsoleLine, Observation, SeenRequest
from meshes_bridge.doctor.options import DoctorOptions

if TYPE_CHECKING:
    from playwright.sync_api import Page, Request, Response

POLL_MS = 100
SETTLE_S = 1.0  # after every container settled: a hook raising after ready, the timings
QUIET_S = 3.0  # after a failure, this long with nothing new: nothing more will happen
NO_CONTAINER_S = 3.0  # after the load event
HEARTBEAT_S = 5.0  # a progress line at least this often while nothing changes
FINAL = (State.AUTHENTICATED, State.ERROR)

_READ_STATES = """() => {
  const seen = window.__meshesDoctor;
  if (!seen) return null;
  return {
    states: seen.containers.map(
      (c) => c.states.length ? c.states[c.states.length - 1].state : null),
    ids: seen.containers.map((c) => c.attributes.id || null),
    errors: seen.containers.reduce(
      (n, c) => n + c.events.filter((e) => e.name === "error").length, 0),
    timings: seen.containers.filter((c) => c.timings !== null).length,
    violations: seen.violations.length,
    loaded: seen.loadedAt,
    now: performance.now(),
    password: document.querySelector("input[type=password]") !== null,
  };
}"""

_READ_PROBE = "() => window.__meshesDoctor || null"

_META_CSP = """() => Array.from(document.querySelectorAll("meta[http-equiv]"))
  .filter((m) => m.httpEquiv.toLowerCase() === "content-security-policy")
  .map((m) => m.content)"""

# The DOM as text, without the containers' iframes' src: the launch URL is the iframe's
# first document request by the embed contract, the one place it belongs.
_DOM = """(selector) => {
  const copy = document.documentElement.cloneNode(true);
  for (const frame of copy.querySelectorAll(selector + " iframe")) frame.removeAttribute("src");
  return copy.outerHTML;
}"""

_STORAGE = """() => {
  const dump = (store) => {
    const out = {};
    try { for (let i = 0; i < store.length; i++) out[store.key(i)] = store.getItem(store.key(i)); }
    catch (e) { /* storage refused (opaque origin, policy): nothing to scan */ }
    return out;
  };
  return {local: dump(window.localStorage), session: dump(window.sessionStorage)};
}"""


def probe_script(runtime: str | None) -> str:
    settings = {
        "selector": CONTAINER_SELECTOR,
        "stateAttribute": STATE_ATTRIBUTE,
        "eventPrefix": EVENT_PREFIX,
        "events": list(Event.ALL),
        "runtime": runtime,
    }
    source = resources.files("meshes_bridge.doctor").joinpath("probe.js").read_text("utf-8")
    return source.replace("__DOCTOR__", json.dumps(settings))


class _Network:
    """The page's requests, kept as Playwright objects until the run ends (asking for
    headers and bodies inside the event handlers would slow the page)."""

    def __init__(self, page: Page) -> None:
        self.requests: list[Request] = []
        self.done: set[int] = set()
        self.failed: dict[int, str] = {}
        self.responses: dict[int, Response] = {}
        self.bad = 0  # failed, or answered 4xx/5xx (the favicon aside)
        page.on("request", lambda r: self.requests.append(r))
        page.on("requestfinished", lambda r: self.done.add(id(r)))
        page.on("requestfailed", self._failed)
        page.on("response", self._answered)

    def _failed(self, request: Request) -> None:
        self.failed[id(request)] = request.failure or "failed"
        if not request.url.endswith("/favicon.ico"):
            self.bad += 1

    def _answered(self, response: Response) -> None:
        self.responses[id(response.request)] = response
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            self.bad += 1


def collect(options: DoctorOptions, progress: Callable[[str], None]) -> Observation:
    seen = Observation(url=options.url)
    started = time.monotonic()
    timeout_ms = options.timeout * 1000
    with browser.sync_playwright() as pw:
        chromium = browser.launch(pw, options.chromium)
        try:
            context = browser.new_context(
                chromium, options.storage_state, options.cookies, options.url
            )
            page = context.new_page()
            if options.login_url and options.username is not None:
                progress(f"logging in at {_path(options.login_url)} as {options.username}")
                seen.login = browser.log_in(
                    page, options.login_url, options.username, options.password or "", timeout_ms
                )
            page.add_init_script(probe_script(options.runtime))
            network = _Network(page)
            page.on("console", lambda m: seen.console.append(ConsoleLine(m.type, m.text)))
            page.on("pageerror", lambda e: seen.page_errors.append(f"{e.name}: {e.message}"))
            progress(f"opening {_path(options.url)}")
            try:
                answer = page.goto(options.url, wait_until="domcontentloaded", timeout=timeout_ms)
            except Exception as exc:
                answer = None
                seen.navigation_error = browser._first_line(exc)
            if answer is not None:
                seen.document_status = answer.status
                seen.document_headers = answer.all_headers()
            if seen.navigation_error is None:
                seen.stopped = _watch(page, network, options, started, progress)
            else:
                seen.stopped = "the page did not load"
            _gather(seen, page, network, context)
        finally:
            chromium.close()
    seen.duration_ms = int((time.monotonic() - started) * 1000)
    return seen


def _watch(
    page: Page,
    network: _Network,
    options: DoctorOptions,
    started: float,
    progress: Callable[[str], None],
) -> str:
    deadline = started + options.timeout
    requested = urlsplit(options.url).path or "/"
    last: tuple[Any, ...] | None = None
    changed = time.monotonic()
    settled: float | None = None
    shown: list[str | None] = []
    spoke = time.monotonic()
    while True:
        page.wait_for_timeout(POLL_MS)
        now = time.monotonic()
        try:
            snap = page.evaluate(_READ_STATES)
        except Exception:  # the document is being replaced; read it next time
            snap = None
        if snap is not None:
            states: list[str | None] = snap["states"]
            for index, state in enumerate(states):
                if index >= len(shown) or shown[index] != state:
                    name = f" ({snap['ids'][index]})" if snap["ids"][index] else ""
                    progress(f"container #{index}{name}: {state} at {snap['now'] / 1000:.1f} s")
            if states != shown:
                spoke = now
            elif now - spoke >= HEARTBEAT_S:
                spoke = now
                waiting = ", ".join(f"#{i} {s}" for i, s in enumerate(states)) or "no container yet"
                progress(f"still waiting ({now - started:.0f} s): {waiting}")
            shown = list(states)
            signature = (tuple(states), len(network.requests), snap["errors"], snap["violations"])
            if signature != last:
                last, changed = signature, now
            on_login = (urlsplit(page.url).path or "/") != requested and snap["password"]
            if on_login and snap["loaded"] is not None and not states:
                return "the page sent the browser to a login page"
            if states and all(s in FINAL for s in states):
                settled = settled if settled is not None else now
                authed = sum(s == State.AUTHENTICATED for s in states)
                if now - settled >= SETTLE_S or (
                    snap["timings"] >= authed and now - settled >= 0.5
                ):
                    return "every container settled"
            else:
                settled = None
            if not states and snap["loaded"] is not None:
                if snap["now"] - snap["loaded"] >= NO_CONTAINER_S * 1000:
                    return "no container on the page"
            failing = snap["errors"] or snap["violations"] or network.bad
            if failing and now - changed >= QUIET_S:
                return f"a failure, then nothing new for {QUIET_S:.0f} s"
        if now >= deadline:
            return f"--timeout ({options.timeout:g} s)"


def _gather(seen: Observation, page: Page, network: _Network, context: Any) -> None:
    seen.final_url = page.url
    seen.page_ms = _safe(lambda: page.evaluate("() => performance.now()"), None)
    seen.probe = _safe(lambda: page.evaluate(_READ_PROBE), {}) or {}
    seen.meta_csp = _safe(lambda: page.evaluate(_META_CSP), [])
    seen.dom = _safe(lambda: page.evaluate(_DOM, CONTAINER_SELECTOR), "")
    seen.storage = _safe(lambda: page.evaluate(_STORAGE), {})
    seen.has_password_field = _safe(lambda: page.locator("input[type=password]").count() > 0, False)
    seen.cookies = _safe(context.cookies, [])
    origin = float(seen.probe.get("timeOrigin") or 0.0)
    main = page.main_frame
    for request in network.requests:
        seen.requests.append(_request(request, network, origin, main))


def _request(request: Request, network: _Network, time_origin: float, main: Any) -> SeenRequest:
    frame = _safe(lambda: request.frame, None)
    item = SeenRequest(
        url=request.url,
        method=request.method,
        resource_type=request.resource_type,
        is_navigation=request.is_navigation_request(),
        main_frame=frame is main,
        request_headers=_safe(request.all_headers, {}),
        post_data=_safe(lambda: request.post_data, None),
    )
    timing = request.timing
    if timing.get("startTime", -1) > 0 and time_origin:
        item.start_ms = round(timing["startTime"] - time_origin, 1)
        if timing.get("responseEnd", -1) >= 0:
            item.duration_ms = round(timing["responseEnd"], 1)
    if id(request) in network.failed:
        item.failure = network.failed[id(request)]
    response = network.responses.get(id(request))
    if response is None:
        if item.failure is None:
            item.failure = "no answer yet"
        return item
    item.status = response.status
    finished = id(request) in network.done
    item.response_headers = _safe(response.all_headers, {})
    length = item.response_headers.get("content-length", "")
    if length.isdigit():
        item.size = int(length)
    elif finished and response.status != 304:
        body = _safe(response.body, None)
        item.size = len(body) if body is not None else None
    if finished and request.method == "POST" and request.resource_type in ("fetch", "xhr"):
        item.body = _safe(response.text, None)
    return item


def _safe(read: Callable[[], Any], default: Any) -> Any:
    try:
        return read()
    except Exception:  # the page or the request is gone: what is left is still reported
        return default


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"
