"""Main-thread work of the host page, from a Chromium trace.

The page marks the window with ``performance.mark`` (category ``blink.user_timing``, on the
host page's own main thread); every top-level task (``toplevel``
``ThreadControllerImpl::RunTask``) that thread ran inside the window is counted. The embed
and the attacker are other sites, so their work is on other renderers' threads and is not
counted.

Both figures are *thread CPU time* (the trace's ``tdur``): the tasks' sum, and the longest
task. On a 2-core machine the attacker's process, the browser's IPC, the host page (and
whatever else runs) compete for the cores, and a task's wall duration also counts the time
its thread waited for a core: a page's own work is what it costs in CPU. (On an idle
machine a CPU-bound task's wall time is its CPU time.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from playwright.sync_api import Browser, Page

CATEGORIES = ["toplevel", "blink.user_timing", "__metadata"]
TASK = "ThreadControllerImpl::RunTask"
START_MARK = "bench:window-start"
END_MARK = "bench:window-end"


@dataclass(frozen=True)
class MainThreadWork:
    """`cpu_ms`: the tasks' summed thread CPU time; `longest_ms`: the longest task's thread
    CPU time; `wall_ms`: the tasks' summed wall durations."""

    cpu_ms: float
    wall_ms: float
    longest_ms: float
    tasks: int


class Tracer:
    """Start with :meth:`start`, mark the window in the page (:meth:`mark_start`,
    :meth:`mark_end`), then :meth:`stop` returns the host page's main-thread work."""

    def __init__(self, browser: Browser, page: Page) -> None:
        self.browser = browser
        self.page = page

    def start(self) -> None:
        self.browser.start_tracing(page=self.page, categories=CATEGORIES)

    def mark_start(self) -> None:
        self.page.evaluate(f"performance.mark({json.dumps(START_MARK)})")

    def mark_end(self) -> None:
        self.page.evaluate(f"performance.mark({json.dumps(END_MARK)})")

    def stop(self) -> MainThreadWork:
        raw = self.browser.stop_tracing()
        return main_thread_work(json.loads(raw))


def _events(trace: Any) -> list[dict[str, Any]]:
    events = trace.get("traceEvents", []) if isinstance(trace, dict) else trace
    return [e for e in events if isinstance(e, dict)]


def main_thread_work(trace: Any) -> MainThreadWork:
    """The top-level tasks between the two marks on the thread that made them."""
    events = _events(trace)
    marks = {e["name"]: e for e in events if e.get("name") in (START_MARK, END_MARK)}
    if START_MARK not in marks or END_MARK not in marks:
        raise RuntimeError("the trace lacks the page's window marks")
    start, end = marks[START_MARK], marks[END_MARK]
    thread = (start["pid"], start["tid"])
    t0, t1 = float(start["ts"]), float(end["ts"])
    tasks = sorted(
        (float(e["ts"]), float(e.get("dur", 0.0)), float(e.get("tdur", e.get("dur", 0.0))))
        for e in events
        if e.get("name") == TASK and e.get("ph") == "X" and (e.get("pid"), e.get("tid")) == thread
    )
    cpu = wall = longest = 0.0
    count = 0
    covered_until = float("-inf")
    for ts, dur, tdur in tasks:
        if ts + dur < t0 or ts > t1 or ts < covered_until:
            continue  # outside the window, or nested in a task already counted
        covered_until = ts + dur
        # A task straddling an edge counts for its part inside the window.
        part = min(ts + dur, t1) - max(ts, t0)
        task_cpu = tdur * (part / dur) if dur > 0 else 0.0
        wall += part
        cpu += task_cpu
        longest = max(longest, task_cpu)
        count += 1
    return MainThreadWork(cpu / 1000.0, wall / 1000.0, longest / 1000.0, count)
