"""One run of one variant: every figure, from fresh browser contexts.

Context A (instant profile): cold load (time to first auth, bytes), memory once
authenticated, warm reload (time, bytes), refresh round trips, the resize storm, the junk
flood, then the mount/unmount cycles and memory after them. Context B: a cold load in the
realistic profile. Each context starts with an empty HTTP cache.

"Time to first auth" is navigation start of the host page (its ``performance.timeOrigin``)
to the moment the embed's document receives ``meshes:auth`` (the probe's listener in the
embed, which runs before the stub's own, in the same dispatch), both on the browser's
clock in ms since the epoch. The same probe and the same measurement for every variant.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, CDPSession, Frame, Page

from bench.metrics import FLOOD_MESSAGES, MOUNT_CYCLES, REFRESH_ROUND_TRIPS, STORM_MESSAGES
from bench.profiles import EMBED_ONLY, INSTANT, PROFILES, REALISTIC, Profile, Variant
from bench.servers import BenchServers
from bench.trace import Tracer
from bench.traffic import HostTraffic

PROBE = (Path(__file__).resolve().parent / "probe.js").read_text(encoding="utf-8")
AUTHENTICATED = "token #1 valid"
BOOT_TIMEOUT_S = 90.0
STEP_TIMEOUT_S = 20.0
STEP_TIMEOUT_MS = int(STEP_TIMEOUT_S * 1000)
SETTLE_MS = 100
POLL_S = 0.5
GC_SETTLE_MS = 100
# The storm or the flood must be through by then (Pyodide takes ~10 s for the flood).
BURST_TIMEOUT_MS = 120_000
CONTAINER_ID = "embed-1"
STORM_FINAL_HEIGHT = 1234
FLOOD_MARKER = "bench:flood-done"
HEAP_FIGURES = ("usedSize", "embedderHeapUsedSize", "backingStorageSize")

STORM_JS = """([count, final, host]) => {
  for (let i = 0; i < count - 1; i += 1) {
    window.parent.postMessage({type: "meshes:resize", height: 600 + ((i * 7) % 400)}, host);
  }
  window.parent.postMessage({type: "meshes:resize", height: final}, host);
}"""

FLOOD_JS = """([count, marker]) => {
  const junk = [
    {type: "meshes:ready"},
    {type: "meshes:auth", token: "junk"},
    {type: "meshes:resize", height: 9999},
    {type: "meshes:token-refresh"},
    {type: "meshes:navigate", page: "rules", path: "/workspace/rules"},
    "meshes:ready",
    42,
    null,
    [1, 2, 3],
    {type: "other", payload: {nested: [1, 2, 3], text: "x".repeat(64)}},
  ];
  for (let i = 0; i < count; i += 1) window.parent.postMessage(junk[i % junk.length], "*");
  window.parent.postMessage(marker, "*");
}"""

ADD_ATTACKER_JS = """(url) => new Promise((resolve, reject) => {
  const frame = document.createElement("iframe");
  frame.id = "bench-attacker";
  frame.style.cssText = "width: 10px; height: 10px; border: 0";
  frame.onload = () => resolve();
  frame.onerror = () => reject(new Error("attacker frame failed"));
  frame.src = url;
  document.body.appendChild(frame);
})"""

REMOUNT_JS = """(id) => {
  const old = document.getElementById(id);
  const fresh = document.createElement("div");
  for (const name of ["id", "data-meshes-embed", "data-session-url", "data-refresh-url"]) {
    fresh.setAttribute(name, old.getAttribute(name));
  }
  const parent = old.parentNode;
  const next = old.nextSibling;
  old.remove();
  parent.insertBefore(fresh, next);
}"""


@dataclass
class Opened:
    context: BrowserContext
    page: Page
    cdp: CDPSession
    traffic: HostTraffic
    failures: list[str]


class BootFailed(RuntimeError):
    """The page reported that the bridge (or the handler) cannot work."""


class Scenario:
    """Runs the variants against one set of servers in one browser."""

    def __init__(self, browser: Browser, bench: BenchServers, cycles: int = MOUNT_CYCLES) -> None:
        self.browser = browser
        self.bench = bench
        self.servers = bench.servers
        self.cycles = cycles
        self._probe = PROBE.replace(
            "BENCH_CONFIG", json.dumps({"embedOrigin": self.servers.embed_url})
        )

    def page_path(self, variant: Variant) -> str:
        path = f"/bench/{variant.key}"
        self.servers.backend.add_page(path, variant.page_html())
        return path

    # -- pieces ----------------------------------------------------------------------

    def _open(self) -> Opened:
        context = self.browser.new_context()
        page = context.new_page()
        page.add_init_script(self._probe)
        cdp = context.new_cdp_session(page)
        traffic = HostTraffic(page, cdp, self.servers.host_url)
        failures: list[str] = []
        page.on("pageerror", lambda error: failures.append(f"page error: {error}"[:300]))
        page.on(
            "console",
            lambda message: (
                failures.append(message.text[:300])
                if message.type == "error" and message.text.startswith("[meshes-bridge]")
                else None
            ),
        )
        return Opened(context, page, cdp, traffic, failures)

    def _wait_authenticated(
        self, opened: Opened, mark: int, timeout: float = BOOT_TIMEOUT_S
    ) -> None:
        """Until the embed reports a valid token (the server's transcript: nothing is
        asked of the page meanwhile); a page that reports a failure ends the wait."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                self.servers.transcript.wait_for(
                    AUTHENTICATED, timeout=max(0.01, min(POLL_S, left)), after=mark
                )
                return
            except TimeoutError:
                opened.page.wait_for_timeout(1)  # lets Playwright deliver console events
                if opened.failures:
                    raise BootFailed("; ".join(opened.failures[:3])) from None
                if left <= POLL_S:
                    raise

    def _embed_frame(self, page: Page) -> Frame:
        handle = page.wait_for_selector(
            f"#{CONTAINER_ID} iframe", state="attached", timeout=STEP_TIMEOUT_MS
        )
        frame = handle.content_frame() if handle is not None else None
        if frame is None:
            raise RuntimeError("the embed iframe has no frame")
        return frame

    def _first_auth_ms(self, page: Page) -> float:
        """Navigation start of `page` -> the embed received its first meshes:auth."""
        frame = self._embed_frame(page)
        auths: list[float] = frame.evaluate("window.__bench.auths()")
        if not auths:
            raise RuntimeError("the embed is authenticated but the probe saw no meshes:auth")
        origin: float = page.evaluate("performance.timeOrigin")
        return auths[0] - origin

    def _load(self, opened: Opened, url: str, reload: bool = False) -> float:
        """(Re)load and wait until the embed holds a valid token; the time to first auth."""
        mark = self.servers.transcript.mark()
        opened.traffic.reset()
        if reload:
            opened.page.reload(wait_until="commit")
        else:
            opened.page.goto(url, wait_until="commit")
        self._wait_authenticated(opened, mark)
        return self._first_auth_ms(opened.page)

    def _main_thread_cpu_ms(self, opened: Opened) -> float:
        """CPU time the page's main thread has used since the page opened (Chromium's
        ThreadTime): what the load cost the host's page, whatever else the machine did
        meanwhile, unlike the wall-clock figures."""
        metrics = opened.cdp.send("Performance.getMetrics")["metrics"]
        return 1000.0 * next(m["value"] for m in metrics if m["name"] == "ThreadTime")

    def _memory(self, opened: Opened) -> tuple[float, float]:
        """(total, wasm) bytes of the host page after a full garbage collection: V8's
        used heap, Blink's heap and array buffers (Runtime.getHeapUsage) plus the
        WebAssembly memories the page instantiated (outside those figures)."""
        # Collect, let finalizers run (an interpreter releases its JS proxies from a
        # FinalizationRegistry callback, a task of its own), then collect again.
        opened.cdp.send("HeapProfiler.collectGarbage")
        opened.page.wait_for_timeout(GC_SETTLE_MS)
        opened.cdp.send("HeapProfiler.collectGarbage")
        usage = opened.cdp.send("Runtime.getHeapUsage")
        wasm = float(opened.page.evaluate("window.__bench.wasmBytes()"))
        heap = sum(float(usage.get(key, 0)) for key in HEAP_FIGURES)
        return heap + wasm, wasm

    def _storm(self, opened: Opened) -> dict[str, float]:
        page = opened.page
        frame = self._embed_frame(page)
        page.evaluate(f"window.__bench.watchHeight({STORM_FINAL_HEIGHT}, {BURST_TIMEOUT_MS})")
        tracer = Tracer(self.browser, page)
        tracer.start()
        try:
            tracer.mark_start()
            frame.evaluate(STORM_JS, [STORM_MESSAGES, STORM_FINAL_HEIGHT, self.servers.host_url])
            writes = page.evaluate("window.__bench.heightWatch.done")
            page.wait_for_timeout(SETTLE_MS)
            tracer.mark_end()
        finally:
            work = tracer.stop()
        return {
            "storm_main_thread": work.cpu_ms,
            "storm_longest_task": work.longest_ms,
            "storm_style_writes": float(writes),
        }

    def _flood(self, opened: Opened) -> dict[str, float]:
        page = opened.page
        page.evaluate(ADD_ATTACKER_JS, self.servers.attack_url())
        handle = page.wait_for_selector("#bench-attacker", state="attached")
        attacker = handle.content_frame() if handle is not None else None
        if attacker is None:
            raise RuntimeError("the attacker iframe has no frame")
        page.evaluate(f"window.__bench.watchMarker({json.dumps(FLOOD_MARKER)}, {BURST_TIMEOUT_MS})")
        tracer = Tracer(self.browser, page)
        tracer.start()
        try:
            tracer.mark_start()
            attacker.evaluate(FLOOD_JS, [FLOOD_MESSAGES, FLOOD_MARKER])
            page.evaluate("window.__bench.markerSeen")
            page.wait_for_timeout(SETTLE_MS)
            tracer.mark_end()
        finally:
            work = tracer.stop()
        page.evaluate("document.getElementById('bench-attacker').remove()")
        return {"flood_main_thread": work.cpu_ms, "flood_longest_task": work.longest_ms}

    def _cycles(self, opened: Opened) -> None:
        for _ in range(self.cycles):
            mark = self.servers.transcript.mark()
            opened.page.evaluate(REMOUNT_JS, CONTAINER_ID)
            self._wait_authenticated(opened, mark, STEP_TIMEOUT_S)

    def warm_up(self, variant: Variant) -> None:
        """One untimed cold load: the first of each variant warms the OS's file cache,
        the servers' connections and Chromium's process pool."""
        self.bench.reset()
        opened = self._open()
        try:
            self._load(opened, self.servers.url(self.page_path(variant)))
        finally:
            opened.context.close()

    # -- a run -----------------------------------------------------------------------

    def _set_profile(self, profile: Profile) -> None:
        self.bench.set_profile(profile.mint_delay, profile.document_delay)

    def run(self, variant: Variant, cycles: bool = True) -> dict[str, float]:
        """Every metric of `variant` once (base units: ms, bytes, counts); without
        `cycles`, all but the two figures of the mount/unmount cycles."""
        self.bench.reset()
        url = self.servers.url(self.page_path(variant))
        out: dict[str, float] = {}

        self._set_profile(INSTANT)
        opened = self._open()
        try:
            opened.cdp.send("Performance.enable")
            out["ttfa_instant"] = self._load(opened, url)
            out["cpu_first_auth"] = self._main_thread_cpu_ms(opened)
            opened.traffic.wait_quiet()
            out["cold_bytes"] = opened.traffic.bytes
            out["cold_requests"] = opened.traffic.requests
            out["memory_authenticated"], out["memory_wasm"] = self._memory(opened)

            out["ttfa_warm"] = self._load(opened, url, reload=True)
            opened.traffic.wait_quiet()
            out["warm_bytes"] = opened.traffic.bytes
            out["warm_requests"] = opened.traffic.requests

            frame = self._embed_frame(opened.page)
            trips: list[float] = frame.evaluate(
                "([n, t]) => window.__bench.refreshRoundTrips(n, t)",
                [REFRESH_ROUND_TRIPS, STEP_TIMEOUT_MS],
            )
            out["refresh_rtt"] = statistics.median(trips)

            out.update(self._storm(opened))
            out.update(self._flood(opened))

            if cycles:
                before, _ = self._memory(opened)
                self._cycles(opened)
                after, _ = self._memory(opened)
                out["memory_after_cycles"] = after
                out["memory_cycle_growth"] = after - before
        finally:
            opened.context.close()

        for profile in (REALISTIC, EMBED_ONLY):
            self._set_profile(profile)
            opened = self._open()
            try:
                out[f"ttfa_{profile.key}"] = self._load(opened, url)
            finally:
                opened.context.close()
                self._set_profile(INSTANT)
        return {key: float(value) for key, value in out.items()}


def describe_profiles() -> dict[str, Any]:
    return {p.key: p.describe() for p in PROFILES}
