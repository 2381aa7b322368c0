"""The figures the benchmark reports, in base units (ms, bytes, counts), and how each is
shown."""

from __future__ import annotations

from dataclasses import dataclass

STORM_MESSAGES = 500
FLOOD_MESSAGES = 10_000
MOUNT_CYCLES = 100
# The bridge refreshes a container's token at most 6 times a minute (a looping iframe must
# not flood the backend): 5 round trips per run stay inside that budget.
REFRESH_ROUND_TRIPS = 5


@dataclass(frozen=True)
class Metric:
    """`unit` is the base unit of the stored values: "ms", "bytes" or "count"; `ratio`
    says whether a ratio to the baseline means anything."""

    key: str
    label: str
    unit: str
    ratio: bool = True

    def title(self, cycles: int = MOUNT_CYCLES) -> str:
        """The label, with the number of mount/unmount cycles filled in."""
        return self.label.replace("{cycles}", str(cycles))

    def format(self, value: float) -> str:
        if self.unit == "bytes":
            if abs(value) >= 1_000_000:
                return f"{value / 1_000_000:.1f} MB"
            return f"{value / 1000:.1f} KB"
        if self.unit == "ms":
            return f"{value:.1f} ms" if abs(value) < 100 else f"{value:.0f} ms"
        return f"{value:.0f}"


METRICS: tuple[Metric, ...] = (
    Metric("ttfa_instant", "time to first auth, instant", "ms"),
    Metric("ttfa_realistic", "time to first auth, realistic", "ms"),
    Metric("ttfa_embed", "time to first auth, embed 300 ms, mint instant", "ms"),
    Metric("ttfa_warm", "time to first auth, warm reload (instant)", "ms"),
    Metric("cpu_first_auth", "cold load: main-thread CPU to first auth (instant)", "ms"),
    Metric("refresh_rtt", f"refresh round trip (median of {REFRESH_ROUND_TRIPS})", "ms"),
    Metric("storm_main_thread", f"resize storm ({STORM_MESSAGES}): main-thread CPU time", "ms"),
    Metric("storm_style_writes", "resize storm: style writes", "count"),
    Metric("storm_longest_task", "resize storm: longest task, CPU time", "ms"),
    Metric("flood_main_thread", f"junk flood ({FLOOD_MESSAGES:,}): main-thread CPU time", "ms"),
    Metric("flood_longest_task", "junk flood: longest task, CPU time", "ms"),
    Metric("cold_bytes", "cold load: bytes from the host origin", "bytes"),
    Metric("cold_requests", "cold load: requests to the host origin", "count"),
    Metric("warm_bytes", "warm reload: bytes from the host origin", "bytes"),
    Metric("warm_requests", "warm reload: requests to the host origin", "count"),
    Metric("memory_authenticated", "memory once authenticated", "bytes"),
    Metric("memory_wasm", "  of which WebAssembly memory", "bytes", ratio=False),
    Metric("memory_after_cycles", "memory after {cycles} mount/unmount cycles", "bytes"),
    Metric("memory_cycle_growth", "  growth over the {cycles} cycles", "bytes", ratio=False),
)
BY_KEY = {metric.key: metric for metric in METRICS}
