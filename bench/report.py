"""Summaries (median, min, max), ratios to the baseline, the tables and the JSON."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.metrics import METRICS, Metric
from bench.targets import targets_for

SCHEMA = 1


@dataclass(frozen=True)
class Summary:
    median: float
    low: float
    high: float
    values: tuple[float, ...]

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        return cls(statistics.median(values), min(values), max(values), tuple(values))

    def to_json(self) -> dict[str, Any]:
        return {"median": self.median, "min": self.low, "max": self.high, "values": self.values}


Results = Mapping[str, Sequence[Mapping[str, float]]]  # variant -> runs -> metric -> value


def summarise(results: Results) -> dict[str, dict[str, Summary]]:
    """variant -> metric -> summary over the runs that have the metric."""
    out: dict[str, dict[str, Summary]] = {}
    for variant, runs in results.items():
        out[variant] = {}
        for metric in METRICS:
            values = [run[metric.key] for run in runs if metric.key in run]
            if values:
                out[variant][metric.key] = Summary.of(values)
    return out


def ratio(metric: Metric, bridge: Summary, baseline: Summary) -> float | None:
    """The bridge's median over the baseline's; None where a ratio means nothing."""
    if not metric.ratio or baseline.median == 0:
        return None
    return bridge.median / baseline.median


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def source_state(repo: Path) -> str:
    """The checkout's commit, and whether the browser half differs from it (read-only git:
    no optional locks, so not even the index is refreshed)."""
    env = dict(os.environ, GIT_OPTIONAL_LOCKS="0")

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", "-C", str(repo), *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            env=env,
        )

    try:
        head = git("rev-parse", "--short", "HEAD")
        if head.returncode != 0:
            return "unknown (not a git checkout)"
        changed = git("diff", "--quiet", "HEAD", "--", "bridge", "static", "tools")
    except OSError:
        return "unknown (no git)"
    suffix = " with uncommitted changes to bridge/, static/ or tools/" if changed.returncode else ""
    return head.stdout.strip() + suffix


def chromium_version(executable: str) -> str:
    try:
        done = subprocess.run(
            [executable, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError:
        return "unknown"
    return done.stdout.strip().splitlines()[0] if done.stdout.strip() else "unknown"


def _cell(metric: Metric, summary: Summary | None) -> str:
    if summary is None:
        return "-"
    if len(summary.values) == 1:
        return metric.format(summary.median)
    return (
        f"{metric.format(summary.median)} "
        f"({metric.format(summary.low)}–{metric.format(summary.high)})"
    )


def _ratio_cell(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.3f}x" if value < 0.1 else f"{value:.2f}x"


def figures_table(
    summaries: Mapping[str, Mapping[str, Summary]], labels: Mapping[str, str], cycles: int
) -> str:
    """Markdown: a row per metric; per variant its median (min–max), per bridge the ratio."""
    variants = [v for v in labels if v in summaries]
    bridges = [v for v in variants if v != "js"]
    head = ["metric"]
    for variant in variants:
        runs = max((len(s.values) for s in summaries[variant].values()), default=0)
        head.append(f"{labels[variant]} (n={runs})")
        if variant != "js":
            head.append("ratio")
    rows = [head, ["---"] * len(head)]
    for metric in METRICS:
        row = [metric.title(cycles)]
        for variant in variants:
            summary = summaries[variant].get(metric.key)
            row.append(_cell(metric, summary))
            if variant in bridges:
                base = summaries.get("js", {}).get(metric.key)
                value = ratio(metric, summary, base) if summary and base else None
                row.append(_ratio_cell(value))
        rows.append(row)
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def target_rows(
    summaries: Mapping[str, Mapping[str, Summary]], cycles: int
) -> list[dict[str, Any]]:
    medians = {v: {k: s.median for k, s in m.items()} for v, m in summaries.items()}
    rows: list[dict[str, Any]] = []
    for variant in ("micropython", "pyodide"):
        if variant not in medians or "js" not in medians:
            continue
        for target in targets_for(variant, cycles):
            holds: bool | None
            try:
                figure, holds = target.check(medians)
            except (KeyError, ZeroDivisionError):
                figure, holds = "not measured", None
            rows.append(
                {
                    "variant": variant,
                    "metric": target.metric,
                    "target": target.wanted,
                    "figure": figure,
                    "holds": holds,
                }
            )
    return rows


def targets_table(rows: Sequence[Mapping[str, Any]], cycles: int) -> str:
    labels = {m.key: m.title(cycles).strip() for m in METRICS}
    lines = ["| runtime | metric | target | measured (median) | holds |", "| --- " * 5 + "|"]
    for row in rows:
        label = labels[row["metric"]]
        if row["metric"] == "storm_longest_task":
            label = "longest task, resize storm / junk flood"
        if row["metric"] == "memory_cycle_growth":
            label = "memory growth over the mount/unmount cycles"
        if row["metric"] in ("storm_main_thread", "flood_main_thread", "refresh_rtt") or row[
            "metric"
        ].startswith("ttfa"):
            label += " (ratio to JS)"
        holds = {True: "yes", False: "**no**", None: "-"}[row["holds"]]
        lines.append(
            f"| {row['variant']} | {label} | {row['target']} | {row['figure']} | {holds} |"
        )
    return "\n".join(lines)


def write_json(path: Path, document: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def results_document(
    results: Results,
    summaries: Mapping[str, Mapping[str, Summary]],
    labels: Mapping[str, str],
    settings: Mapping[str, Any],
    environment: Mapping[str, Any],
    errors: Sequence[str],
    cycles: int,
) -> dict[str, Any]:
    """The JSON written by ``python -m bench``."""
    variants: dict[str, Any] = {}
    for variant, metrics in summaries.items():
        entry: dict[str, Any] = {
            "label": labels[variant],
            "runs": len(results[variant]),
            "metrics": {key: s.to_json() for key, s in metrics.items()},
        }
        if variant != "js" and "js" in summaries:
            entry["ratios"] = {
                m.key: ratio(m, metrics[m.key], summaries["js"][m.key])
                for m in METRICS
                if m.key in metrics and m.key in summaries["js"]
            }
        variants[variant] = entry
    return {
        "schema": SCHEMA,
        "environment": dict(environment),
        "settings": dict(settings),
        "metrics": [
            {"key": m.key, "label": m.title(cycles).strip(), "unit": m.unit, "ratio": m.ratio}
            for m in METRICS
        ],
        "variants": variants,
        "targets": target_rows(summaries, cycles),
        "errors": list(errors),
    }
