"""Run the benchmark suite: ``python -m bench`` (or ``make bench``); ``--help`` for options."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

from bench.metrics import (
    FLOOD_MESSAGES,
    MOUNT_CYCLES,
    REFRESH_ROUND_TRIPS,
    STORM_MESSAGES,
)
from bench.profiles import BASELINE, BRIDGES, Variant
from bench.report import (
    chromium_version,
    figures_table,
    machine,
    results_document,
    source_state,
    summarise,
    target_rows,
    targets_table,
    write_json,
)
from bench.scenario import BootFailed, Scenario, describe_profiles
from bench.servers import start_bench_servers
from meshes_bridge.testing.chromium import SYSTEM_CHROMIUM as CHROMIUM
from meshes_bridge.testing.chromium import SYSTEM_CHROMIUM_ARGS as CHROMIUM_ARGS

DEFAULT_JSON = Path("build/bench/results.json")
DEFAULT_RUNS = 7
DEFAULT_PYODIDE_RUNS = 3
DEFAULT_CYCLE_RUNS = 3


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="The bridge against a plain-JS handler, side by side: prints a table "
        "and writes JSON. Reports figures; never fails on one.",
    )
    parser.add_argument(
        "--runs", type=int, default=DEFAULT_RUNS, help=f"runs per variant (default {DEFAULT_RUNS})"
    )
    parser.add_argument(
        "--pyodide-runs",
        type=int,
        default=None,
        help=f"runs for Pyodide (default: --runs, at most {DEFAULT_PYODIDE_RUNS}: each takes "
        "two to three times a MicroPython one)",
    )
    parser.add_argument(
        "--runtime",
        choices=("micropython", "pyodide", "both"),
        default="both",
        help="the bridge's interpreter(s) to measure (default both)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="one run of everything (the CI smoke test)"
    )
    parser.add_argument(
        "--json", type=Path, default=DEFAULT_JSON, help=f"where to write (default {DEFAULT_JSON})"
    )
    parser.add_argument(
        "--cycles",
        type=int,
        default=MOUNT_CYCLES,
        help=f"mount/unmount cycles before the second memory figure (default {MOUNT_CYCLES})",
    )
    parser.add_argument(
        "--cycle-runs",
        type=int,
        default=DEFAULT_CYCLE_RUNS,
        help="how many of each variant's runs (the first ones) also do the mount/unmount "
        f"cycles (default {DEFAULT_CYCLE_RUNS}: ~10 s a run, and memory varies little)",
    )
    parser.add_argument(
        "--static",
        type=Path,
        default=None,
        metavar="DIR",
        help="measure this asset tree (written by `meshes-bridge static DIR`) instead of "
        "one built now from the installed package",
    )
    parser.add_argument(
        "--same-site",
        action="store_true",
        help="serve the embed and the attacker on 127.0.0.1 like the tests (one renderer "
        "process; their own work then counts on the host page's main thread)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.runs = 1
        args.pyodide_runs = 1
    if args.pyodide_runs is None:
        args.pyodide_runs = min(args.runs, DEFAULT_PYODIDE_RUNS)
    if args.runs < 1 or args.pyodide_runs < 1 or args.cycle_runs < 1 or args.cycles < 0:
        parser.error("--runs, --pyodide-runs and --cycle-runs must be >= 1, --cycles >= 0")
    return args


def plan(args: argparse.Namespace) -> list[tuple[Variant, int]]:
    """Each variant with its number of runs, in the order they interleave."""
    runtimes = ("micropython", "pyodide") if args.runtime == "both" else (args.runtime,)
    variants = [(BASELINE, args.runs)]
    for runtime in runtimes:
        runs = args.pyodide_runs if runtime == "pyodide" else args.runs
        variants.append((BRIDGES[runtime], runs))
    return variants


def build_static(target: Path) -> None:
    subprocess.run([sys.executable, "-m", "meshes_bridge", "static", str(target), "-q"], check=True)


def say(text: str) -> None:
    print(text, flush=True)


def measure(args: argparse.Namespace) -> tuple[dict[str, list[dict[str, float]]], list[str]]:
    """Warm up once per variant, then the runs interleaved: JS, MicroPython, Pyodide, JS..."""
    variants = plan(args)
    results: dict[str, list[dict[str, float]]] = {v.key: [] for v, _ in variants}
    errors: list[str] = []
    with tempfile.TemporaryDirectory(prefix="meshes-bench-") as tmp:
        static = args.static
        if static is None:
            static = Path(tmp) / "meshes-bridge"
            build_static(static)
        bench = start_bench_servers(static, same_site=args.same_site)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                scenario = Scenario(browser, bench, cycles=args.cycles)
                broken: set[str] = set()
                for variant, _ in variants:
                    try:
                        scenario.warm_up(variant)
                    except BootFailed as error:
                        errors.append(f"{variant.key} cannot start, not measured: {error}")
                        broken.add(variant.key)
                    except Exception as error:  # reported; the runs go on
                        errors.append(f"{variant.key} warm-up: {_short(error)}")
                variants = [(v, runs) for v, runs in variants if v.key not in broken]
                rounds = max(runs for _, runs in variants)
                for number in range(1, rounds + 1):
                    parts = []
                    for variant, runs in variants:
                        if number > runs:
                            continue
                        started = time.monotonic()
                        try:
                            cycles = number <= args.cycle_runs
                            results[variant.key].append(scenario.run(variant, cycles))
                            parts.append(f"{variant.key} {time.monotonic() - started:.0f} s")
                        except Exception as error:  # reported; the runs go on
                            errors.append(f"{variant.key} run {number}: {_short(error)}")
                            parts.append(f"{variant.key} FAILED")
                    say(f"round {number}/{rounds}: " + ", ".join(parts))
                browser.close()
        finally:
            bench.stop()
    return results, errors


def _short(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:300]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    load_start = [round(x, 2) for x in os.getloadavg()]
    say(
        f"meshes-bridge benchmark: {args.runs} run(s)"
        + (f", Pyodide {args.pyodide_runs}" if args.runtime != "micropython" else "")
        + f"; {args.cycles} mount/unmount cycles in the first {args.cycle_runs} of each"
    )
    results, errors = measure(args)
    elapsed = time.monotonic() - started
    labels = {BASELINE.key: BASELINE.label} | {
        v.key: v.label for v, _ in plan(args) if not v.is_baseline
    }
    summaries = summarise(results)
    environment: dict[str, Any] = machine() | {
        "chromium": chromium_version(CHROMIUM),
        "chromium_args": list(CHROMIUM_ARGS),
        "loadavg_start": load_start,
        "source": str(args.static)
        if args.static
        else source_state(Path(__file__).resolve().parents[1]),
        "seconds": round(elapsed, 1),
    }
    settings: dict[str, Any] = {
        "runs": args.runs,
        "pyodide_runs": args.pyodide_runs if args.runtime != "micropython" else 0,
        "runtime": args.runtime,
        "quick": args.quick,
        "same_site": args.same_site,
        "static": str(args.static) if args.static else "built from the installed package",
        "profiles": describe_profiles(),
        "storm_messages": STORM_MESSAGES,
        "flood_messages": FLOOD_MESSAGES,
        "refresh_round_trips": REFRESH_ROUND_TRIPS,
        "mount_cycles": args.cycles,
        "cycle_runs": args.cycle_runs,
        "bytes": "as transferred from the host origin: gzip-compressed bodies plus headers",
    }
    document = results_document(
        results, summaries, labels, settings, environment, errors, args.cycles
    )
    write_json(args.json, document)
    say("")
    say(figures_table(summaries, labels, args.cycles))
    say("")
    say(targets_table(target_rows(summaries, args.cycles), args.cycles))
    say("")
    say(
        f"machine: {environment['nproc']} cores, {environment['cpu']}; {environment['chromium']}; "
        f"load average {load_start[0]:.1f} at the start, {environment['loadavg_end'][0]:.1f} "
        "at the end"
    )
    say(f"bridge: {environment['source']}")
    say(f"took {elapsed:.0f} s; JSON: {args.json}")
    for error in errors:
        say(f"error: {error}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
