"""What a host's `data-timings-url` endpoint receives (host interface 6), checked once for
every framework: `read_timings` takes the POSTed JSON (already parsed) and gives back the
report with only what the bridge sends in it, or None for anything else. Anyone can POST
to that URL, so what it returns is all a collector should log or store."""

from __future__ import annotations

from typing import Any, TypeGuard

from meshes_bridge.core.timings import RUNTIME, STEPS
from meshes_bridge.core.wire import RUNTIMES

#: A report's values: the runtime's name, then each step in ms (None: did not happen).
Timings = dict[str, "str | float | None"]


def read_timings(report: Any) -> Timings | None:
    """The report with its steps in the host interface's order and the runtime's name
    (``"?"`` for a name the bridge never sends); None unless `report` is an object whose
    `auth` step is a number (every report the bridge sends has one)."""
    if not isinstance(report, dict) or not _is_number(report.get("auth")):
        return None
    runtime = report.get(RUNTIME)
    timings: Timings = {RUNTIME: runtime if runtime in RUNTIMES else "?"}
    for step in STEPS:
        value = report.get(step)
        timings[step] = round(float(value), 1) if _is_number(value) else None
    return timings


def describe_timings(timings: Timings) -> str:
    """One log line's worth: ``runtime=micropython loader=41 ... auth=421`` (ms, the steps
    that happened)."""
    steps = " ".join(
        f"{step}={value:.0f}"
        for step in STEPS
        if isinstance(value := timings.get(step), float | int)
    )
    return f"runtime={timings.get(RUNTIME, '?')} {steps}"


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value
