"""Typed helpers so each browser test reads as the behaviour it checks.

`HostPage` opens a host page (written the way a host team writes it) on the HOST origin
with the bridge on a chosen interpreter, and records what a host or an attacker could
observe: the bridge's DOM events, console lines, page errors and every request.
"""

from __future__ import annotations

import html
import itertools
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import ConsoleMessage, Frame, Page, Request, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from meshes_bridge.testing.doubles.transcript import ACCESS_TOKEN_PREFIX
from tests.host.pages import page_html
from tests.host.servers import HostServers

# Pyodide's cold start is seconds on a loaded 2-core machine; waits are on conditions.
BOOT_TIMEOUT_MS = 60_000
STEP_TIMEOUT_MS = 15_000
EVENT_NAMES = (
    "ready",
    "authenticated",
    "navigate",
    "resize",
    "token-refreshed",
    "token-expired",
    "rejected",
    "error",
    "timings",
)

# The policy every page `HostPage.open` serves carries unless a test names another one
# (the README's recommended policy): no 'unsafe-eval', no 'unsafe-inline' for
# scripts or styles. `frame-src` is the stub embed's origin, plus any a test adds.
STRICT_CSP = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; "
    "frame-src {frames}; object-src 'none'; base-uri 'none'; form-action 'self'"
)


def strict_csp(*frame_origins: str) -> str:
    """The strict policy with `frame-src` naming exactly `frame_origins`."""
    return STRICT_CSP.format(frames=" ".join(dict.fromkeys(frame_origins)))


# Runs before any page script (an init script comes through the DevTools protocol, so no
# policy applies to it): records every bridge event as the host would see it, and every
# `securitypolicyviolation` the page reports, as a host's report-to endpoint would.
RECORDER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push({
    directive: e.effectiveDirective, blocked: e.blockedURI, source: e.sourceFile,
    line: e.lineNumber, column: e.columnNumber, sample: e.sample, disposition: e.disposition,
  });
});
window.__meshesEvents = [];
for (const name of EVENT_NAMES_JSON) {
  document.addEventListener("meshes-bridge:" + name, (e) => {
    window.__meshesEvents.push({
      name, target: e.target && e.target.id, bubbles: e.bubbles,
      detail: JSON.parse(JSON.stringify(e.detail === undefined ? null : e.detail)),
    });
  });
}
""".replace("EVENT_NAMES_JSON", json.dumps(EVENT_NAMES))

_page_numbers = itertools.count(1)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass
class SeenRequest:
    url: str
    method: str
    headers: dict[str, str]
    body: str
    frame_url: str


@dataclass
class HostPage:
    page: Page
    servers: HostServers
    runtime: str
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: list[SeenRequest] = field(default_factory=list)
    url: str = ""
    # The Content-Security-Policy the last page was served with.
    csp: str = ""

    def __post_init__(self) -> None:
        self.page.add_init_script(RECORDER)
        self.page.on("console", self._on_console)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("request", self._on_request)

    # -- opening pages ------------------------------------------------------------

    def open(
        self,
        container_attrs: dict[str, Any] | None = None,
        script_attrs: dict[str, Any] | None = None,
        containers: int = 1,
        extra_body: str = "",
        csp: str | None = None,
        head: str = "",
        frames: Sequence[str] = (),
    ) -> str:
        """Serve a host page with the bridge on `self.runtime` and navigate to it.

        The page carries the strict policy (`strict_csp`) with `frame-src` = the stub
        embed's origin and `frames`; `csp` replaces that policy (a test that means to run
        under another one says so). `extra_body` and `head` must keep to the policy: no
        inline script or style (`script_tag` serves a script as a file)."""
        html = page_html(
            runtime=self.runtime,
            container_attrs=container_attrs,
            script_attrs=script_attrs,
            containers=containers,
            extra_body=extra_body,
            head=head,
        )
        return self.open_html(html, csp=csp, frames=frames)

    def open_html(self, html: str, csp: str | None = None, frames: Sequence[str] = ()) -> str:
        """Serve `html` on the host origin (under the strict policy, as `open`) and go."""
        if csp is None:
            csp = strict_csp(self.servers.embed_url, *frames)
        self.csp = csp
        path = f"/t/{next(_page_numbers)}"
        self.url = self.servers.backend.add_page(path, html, csp=csp)
        self.page.goto(self.url)
        return self.url

    def script_tag(self, name: str, source: str) -> str:
        """Serve `source` as the host-origin file /t-assets/<name> and return the
        `<script src=...>` tag for a page's `extra_body` or `head` (a strict policy
        refuses inline scripts)."""
        url = self.servers.backend.add_file(f"/t-assets/{name}", source)
        return f'<script src="{html.escape(url)}"></script>'

    # -- the Content Security Policy --------------------------------------------------

    def csp_violations(self) -> list[dict[str, Any]]:
        """Every `securitypolicyviolation` the current page reported so far."""
        return self.page.evaluate("() => window.__cspViolations || []")

    def take_csp_violations(self) -> list[dict[str, Any]]:
        """The violations so far, forgotten (a test that provokes one on purpose)."""
        return self.page.evaluate(
            "() => { const v = window.__cspViolations || []; window.__cspViolations = [];"
            " return v; }"
        )

    def assert_no_csp_violation(self) -> None:
        """Fail, naming each blocked URI and directive, if the page reported a violation.
        Run after every test that uses `host` (e2e/conftest.py)."""
        if self.page.is_closed() or not self.url:
            return
        seen = self.csp_violations()
        if seen:
            lines = "\n".join(
                f"  {v['directive']} blocked {v['blocked'] or '(none)'!r}"
                f" at {v['source'] or '?'}:{v['line']}:{v['column']}"
                + (f" sample {v['sample']!r}" if v["sample"] else "")
                for v in seen
            )
            raise AssertionError(
                f"{len(seen)} Content-Security-Policy violation(s) on {self.url}\n{lines}\n"
                f"  policy: {self.csp}"
            )

    # -- waiting ------------------------------------------------------------------

    def container(self, index: int = 1) -> Any:
        return self.page.locator(f"#embed-{index}")

    def wait_state(self, state: str, index: int = 1, timeout: int = BOOT_TIMEOUT_MS) -> None:
        expect(self.container(index)).to_have_attribute("data-state", state, timeout=timeout)

    def wait_authenticated(self, index: int = 1) -> None:
        self.wait_state("authenticated", index)

    def wait_event(
        self, name: str, count: int = 1, timeout: int = STEP_TIMEOUT_MS, index: int | None = None
    ) -> list[dict[str, Any]]:
        """Wait until `count` `meshes-bridge:<name>` events were seen; return them all."""
        target = None if index is None else f"embed-{index}"
        self.page.wait_for_function(
            "([n, c, t]) => window.__meshesEvents.filter("
            "e => e.name === n && (t === null || e.target === t)).length >= c",
            arg=[name, count, target],
            timeout=timeout,
        )
        return self.events(name, index)

    def wait_console(
        self, *texts: str, count: int = 1, timeout: int = STEP_TIMEOUT_MS
    ) -> list[str]:
        """Wait until `count` console lines contain every one of `texts`; return them.

        Playwright's sync API hands console events to Python only while one of its calls
        runs, so the wait is Playwright's own wait for such a line (a plain sleep would see
        none); `_on_console`, registered first, has recorded it by the time that returns.
        """
        deadline = time.monotonic() + timeout / 1000

        def wanted(message: ConsoleMessage) -> bool:
            return all(t in f"{message.type}: {message.text}" for t in texts)

        while True:
            lines = [line for line in self.console if all(t in line for t in texts)]
            if len(lines) >= count:
                return lines
            left_ms = (deadline - time.monotonic()) * 1000
            try:
                if left_ms <= 0:
                    raise PlaywrightTimeoutError("deadline passed")
                self.page.wait_for_event("console", predicate=wanted, timeout=left_ms)
            except PlaywrightTimeoutError:
                raise AssertionError(
                    f"no {count} console line(s) with {texts!r}; saw {self.console[-8:]}"
                ) from None

    def events(self, name: str | None = None, index: int | None = None) -> list[dict[str, Any]]:
        seen = self.page.evaluate("window.__meshesEvents")
        target = None if index is None else f"embed-{index}"
        return [
            e
            for e in seen
            if (name is None or e["name"] == name) and (target is None or e["target"] == target)
        ]

    # -- the embed ----------------------------------------------------------------

    def iframe(self, index: int = 1) -> Any:
        return self.container(index).locator("iframe")

    def frame(self, index: int = 1) -> Frame:
        """The bridge's iframe (the stub Meshes embed) as a Playwright frame."""
        handle = self.iframe(index).element_handle(timeout=STEP_TIMEOUT_MS)
        frame = handle.content_frame()
        assert frame is not None, "the iframe has no frame"
        frame.wait_for_function("window.stub !== undefined", timeout=STEP_TIMEOUT_MS)
        return frame

    def stub(self, call: str, index: int = 1) -> Any:
        """Evaluate `window.stub.<call>` in the embed, e.g. stub("askRefresh()")."""
        return self.frame(index).evaluate(f"window.stub.{call}")

    def iframe_height(self, index: int = 1) -> str:
        return self.iframe(index).evaluate("el => el.style.height")

    # -- what leaked --------------------------------------------------------------

    def access_tokens(self) -> list[str]:
        return [t for t in self.servers.fake.issued_tokens() if t.startswith(ACCESS_TOKEN_PREFIX)]

    def host_requests(self) -> list[SeenRequest]:
        """Requests made by the host page itself (not by the embed's own document)."""
        return [r for r in self.requests if origin_of(r.frame_url) == self.servers.host_url]

    def _on_console(self, message: ConsoleMessage) -> None:
        self.console.append(f"{message.type}: {message.text}")

    def _on_request(self, request: Request) -> None:
        try:
            frame_url = request.frame.url
        except Exception:  # a request from a worker or a detached frame
            frame_url = ""
        self.requests.append(
            SeenRequest(
                url=request.url,
                method=request.method,
                headers=dict(request.headers),
                body=request.post_data or "",
                frame_url=frame_url,
            )
        )


# -- frames a test adds to the host page (attackers, probes) ---------------------------


def iframe_tag(src: str, element_id: str) -> str:
    """An `<iframe>` for a host page's `extra_body`, e.g. the hostile `/attack` page."""
    return f'<iframe id="{element_id}" title="{element_id}" src="{html.escape(src)}"></iframe>'


def child_frame(page: Page, element_id: str, ready: str = "window.attack !== undefined") -> Frame:
    """The frame of the host page's `<iframe id=element_id>`, once `ready` holds in it."""
    handle = page.locator(f"#{element_id}").element_handle(timeout=STEP_TIMEOUT_MS)
    frame = handle.content_frame()
    assert frame is not None, f"#{element_id} has no frame"
    frame.wait_for_function(ready, timeout=STEP_TIMEOUT_MS)
    return frame


def after_frames(page: Page, count: int = 2) -> None:
    """Return once the page has rendered `count` more animation frames (a resize the bridge
    would have applied by now has been)."""
    page.evaluate(
        "n => new Promise(r => { const s = k => k ? requestAnimationFrame(() => s(k - 1)) : r();"
        " s(n); })",
        count,
    )


# -- the session lifecycle: data-state history, events heard on <body>, round trips ------

# Runs before any page script: every data-state a container takes, in order (an attribute
# set from absent included), from a MutationObserver's records and their old values.
STATE_RECORDER = """
window.__meshesStates = [];
new MutationObserver((records) => {
  for (const r of records) {
    window.__meshesStates.push({ target: r.target.id, old: r.oldValue });
  }
}).observe(document, {
  subtree: true, attributes: true, attributeOldValue: true, attributeFilter: ["data-state"],
});
"""

# Runs before any page script: every bridge event as a listener on <body> hears it in the
# bubble phase (a non-bubbling event dispatched on a container never gets here).
BODY_RECORDER = """
window.__bodyEvents = [];
(() => {
const listenOnBody = () => {
  for (const name of EVENT_NAMES_JSON) {
    document.body.addEventListener("meshes-bridge:" + name, (e) => {
      window.__bodyEvents.push({
        name, target: e.target && e.target.id, bubbles: e.bubbles,
        bubblePhase: e.eventPhase === Event.BUBBLING_PHASE,
        keys: e.detail && typeof e.detail === "object" ? Object.keys(e.detail).sort() : null,
        detail: JSON.parse(JSON.stringify(e.detail === undefined ? null : e.detail)),
      });
    }, false);
  }
};
// Attach the moment <body> exists, before any container or the loader's tag is parsed.
const bodyWatch = new MutationObserver(() => {
  if (document.body) { bodyWatch.disconnect(); listenOnBody(); }
});
bodyWatch.observe(document, { childList: true, subtree: true });
})();
""".replace("EVENT_NAMES_JSON", json.dumps(EVENT_NAMES))


def record_lifecycle(host: HostPage) -> None:
    """Before `host.open()`: record data-state changes and the events heard on <body>."""
    host.page.add_init_script(STATE_RECORDER)
    host.page.add_init_script(BODY_RECORDER)


def states(host: HostPage, index: int = 1) -> list[str]:
    """Every data-state container `index` took so far, in order (needs record_lifecycle)."""
    target = f"embed-{index}"
    records = host.page.evaluate("window.__meshesStates")
    olds = [r["old"] for r in records if r["target"] == target]
    current = host.container(index).get_attribute("data-state")
    return [s for s in [*olds[1:], current] if s is not None] if olds else []


def body_events(host: HostPage, name: str | None = None) -> list[dict[str, Any]]:
    """The bridge events heard on <body> (needs record_lifecycle)."""
    seen = host.page.evaluate("window.__bodyEvents")
    return [e for e in seen if name is None or e["name"] == name]


def round_trip(host: HostPage, height: int, index: int = 1) -> None:
    """Make the embed post a resize and wait until the bridge applied it: whatever the
    bridge was going to do about the embed's earlier messages, it has done by then."""
    host.stub(f"resize({int(height)})", index)
    host.page.wait_for_function(
        "([t, h]) => window.__meshesEvents.some("
        "e => e.name === 'resize' && e.target === t && e.detail.height === h)",
        arg=[f"embed-{index}", int(height)],
        timeout=STEP_TIMEOUT_MS,
    )


def open_authenticated(host: HostPage, **container_attrs: Any) -> dict[str, Any]:
    """Record the lifecycle, open a page (with these container attributes), wait until the
    embed holds a valid first token; returns the stub's status()."""
    record_lifecycle(host)
    host.open(container_attrs=container_attrs or None)
    host.wait_authenticated()
    return embed_authenticated(host, 1, 1)


def embed_authenticated(
    host: HostPage, auth_count: int, generation: int, index: int = 1
) -> dict[str, Any]:
    """Wait until the embed's `auth_count`-th meshes:auth proved valid (its session's token
    generation `generation`, checked against the fake store); returns its status()."""
    host.frame(index).wait_for_function(
        "([n, g]) => { const s = window.stub.status(); return s.auth_count === n"
        " && s.token_generation === g && s.last_token_valid === true && s.authenticated; }",
        arg=[auth_count, generation],
        timeout=STEP_TIMEOUT_MS,
    )
    return host.stub("status()", index)


def has_run(sequence: list[str], run: list[str]) -> bool:
    """Does `run` appear in `sequence` as consecutive items?"""
    return any(sequence[i : i + len(run)] == run for i in range(len(sequence) - len(run) + 1))
