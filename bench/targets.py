"""The targets, checked against the medians of one run of the suite. A target that
does not hold is reported, never an error: the benchmark does not fail on a figure."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

KB = 1000
MB = 1_000_000
LONG_TASK_MS = 50.0
#: "Flat" after the mount/unmount cycles: the bridge's growth over them exceeds the
#: baseline's growth over the same cycles, in the same run, by at most this much a cycle.
#: (The baseline grows too, about 1 KB a cycle: Chromium's own bookkeeping of each
#: iframe and request. Growth that scales with the cycles is a leak, not noise: 300
#: cycles grow three times what 100 do.)
FLAT_MARGIN_PER_CYCLE = 1 * KB

Medians = Mapping[str, Mapping[str, float]]  # variant -> metric -> median


@dataclass(frozen=True)
class Target:
    """`check(medians)` returns (the figure it judged, as text; whether it holds)."""

    variant: str
    metric: str
    wanted: str
    check: Callable[[Medians], tuple[str, bool]]


def _ratio(variant: str, metric: str, limit: float) -> Callable[[Medians], tuple[str, bool]]:
    def check(medians: Medians) -> tuple[str, bool]:
        value = medians[variant][metric] / medians["js"][metric]
        return f"{value:.2f}x", value <= limit

    return check


def _at_most(
    variant: str, metric: str, limit: float, unit: float, suffix: str
) -> Callable[[Medians], tuple[str, bool]]:
    def check(medians: Medians) -> tuple[str, bool]:
        value = medians[variant][metric]
        return f"{value / unit:.1f} {suffix}", value <= limit

    return check


def _longest(variant: str) -> Callable[[Medians], tuple[str, bool]]:
    def check(medians: Medians) -> tuple[str, bool]:
        storm = medians[variant]["storm_longest_task"]
        flood = medians[variant]["flood_longest_task"]
        worst = max(storm, flood)
        return f"{storm:.0f} / {flood:.0f} ms", worst <= LONG_TASK_MS

    return check


def _flat(variant: str, cycles: int) -> Callable[[Medians], tuple[str, bool]]:
    def check(medians: Medians) -> tuple[str, bool]:
        growth = medians[variant]["memory_cycle_growth"]
        baseline = medians["js"]["memory_cycle_growth"]
        limit = max(baseline, 0.0) + FLAT_MARGIN_PER_CYCLE * cycles
        return f"+{growth / KB:.0f} KB (JS +{baseline / KB:.0f} KB)", growth <= limit

    return check


def targets_for(variant: str, cycles: int) -> list[Target]:
    """The targets that apply to `variant` ("micropython" or "pyodide"), after `cycles`
    mount/unmount cycles."""
    if variant == "pyodide":
        return [Target(variant, "ttfa_realistic", "<= 3x", _ratio(variant, "ttfa_realistic", 3))]
    if variant != "micropython":
        return []
    v = variant
    return [
        Target(v, "ttfa_realistic", "<= 1.00x", _ratio(v, "ttfa_realistic", 1.00)),
        Target(v, "ttfa_embed", "<= 1.40x", _ratio(v, "ttfa_embed", 1.40)),
        Target(v, "ttfa_instant", "<= 2x", _ratio(v, "ttfa_instant", 2.0)),
        Target(v, "refresh_rtt", "<= 1.3x", _ratio(v, "refresh_rtt", 1.3)),
        Target(v, "storm_main_thread", "<= 2x", _ratio(v, "storm_main_thread", 2.0)),
        Target(v, "flood_main_thread", "<= 3x", _ratio(v, "flood_main_thread", 3.0)),
        Target(v, "storm_longest_task", "no task over 50 ms (storm / flood)", _longest(v)),
        Target(v, "cold_bytes", "<= 305 KB gzip", _at_most(v, "cold_bytes", 305 * KB, KB, "KB")),
        Target(v, "warm_bytes", "<= 5 KB", _at_most(v, "warm_bytes", 5 * KB, KB, "KB")),
        Target(
            v,
            "memory_authenticated",
            "<= 12 MB",
            _at_most(v, "memory_authenticated", 12 * MB, MB, "MB"),
        ),
        Target(
            v,
            "memory_cycle_growth",
            f"flat after {cycles} cycles (at most JS's growth + 1 KB a cycle)",
            _flat(v, cycles),
        ),
    ]
