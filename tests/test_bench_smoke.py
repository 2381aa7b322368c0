"""The benchmark suite (`bench/`): a one-iteration run completes and reports every
figure for the plain-JS baseline and the bridge, and the parts it measures with behave as
they say. No timing is asserted: the benchmark reports figures, it never fails on one.
"""

from __future__ import annotations

import gzip
import json
import math
import re
import subprocess
import sys
import urllib.error
import urllib.request
from email.message import Message
from pathlib import Path

import pytest

from bench.metrics import METRICS, STORM_MESSAGES
from bench.servers import BASELINE_PREFIX, start_bench_servers
from bench.trace import END_MARK, START_MARK, TASK, main_thread_work
from tests.host.pages import STATIC_PREFIX

REPO = Path(__file__).resolve().parents[1]
SMOKE_TIMEOUT = 600
# An access or launch token in the clear (the redacted form is `mat_…(redacted)`).
TOKEN = re.compile(r"\b(?:mat|mlt)_[A-Za-z0-9_-]{8,}")


@pytest.mark.slow
def test_quick_run_reports_every_metric_for_the_baseline_and_the_bridge(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--runtime", "micropython"]
        + ["--json", str(results)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=SMOKE_TIMEOUT,
    )
    assert done.returncode == 0, (done.stdout[-4000:], done.stderr[-4000:])
    check_quick_results(results.read_text(), done.stdout + done.stderr)


def check_quick_results(text: str, output: str) -> None:
    """What a `--quick --runtime micropython` run must have written (`text`, the JSON)
    and printed (`output`)."""
    document = json.loads(text)
    assert document["errors"] == []
    assert document["settings"]["runs"] == 1
    assert [m["key"] for m in document["metrics"]] == [m.key for m in METRICS]
    assert set(document["variants"]) == {"js", "micropython"}

    for variant in ("js", "micropython"):
        figures = document["variants"][variant]["metrics"]
        for metric in METRICS:
            summary = figures[metric.key]
            assert len(summary["values"]) == 1, (variant, metric.key)
            value = summary["median"]
            assert isinstance(value, int | float) and math.isfinite(value), (variant, metric.key)
            assert summary["min"] == value == summary["max"]
        # Figures that are zero only if the measurement did not happen.
        for key in (
            "ttfa_instant",
            "ttfa_realistic",
            "ttfa_embed",
            "ttfa_warm",
            "cpu_first_auth",
            "refresh_rtt",
        ):
            assert figures[key]["median"] > 0, (variant, key)
        for key in ("cold_bytes", "cold_requests", "warm_requests", "memory_authenticated"):
            assert figures[key]["median"] > 0, (variant, key)
        for key in ("storm_main_thread", "flood_main_thread", "storm_style_writes"):
            assert figures[key]["median"] > 0, (variant, key)

    js = document["variants"]["js"]["metrics"]
    bridge = document["variants"]["micropython"]
    # The baseline writes the iframe's height for every resize message, as the docs do;
    # only the interpreter's WebAssembly memory is counted as such.
    assert js["storm_style_writes"]["median"] == STORM_MESSAGES
    assert js["memory_wasm"]["median"] == 0
    assert bridge["metrics"]["memory_wasm"]["median"] > 0
    for metric in METRICS:
        value = bridge["ratios"][metric.key]
        if metric.ratio:
            assert isinstance(value, int | float) and value > 0, metric.key
        else:
            assert value is None, metric.key

    targets = document["targets"]
    assert targets and {t["variant"] for t in targets} == {"micropython"}
    assert all(isinstance(t["holds"], bool) for t in targets)
    for metric in METRICS:
        assert metric.title(document["settings"]["mount_cycles"]).strip() in output
    assert not TOKEN.search(output + text)


def _get(url: str, headers: dict[str, str], timeout: float = 10) -> tuple[int, Message, bytes]:
    """Status, headers (names case-insensitive) and body."""
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_static_files_are_gzip_with_validators_and_revalidate_to_304(tmp_path: Path) -> None:
    tree = tmp_path / "meshes-bridge"
    tree.mkdir()
    script = "// a script\n" + "console.log('padding');\n" * 40
    (tree / "loader.js").write_text(script)
    (tree / "stdlib.zip").write_bytes(b"PK" + bytes(600))
    bench = start_bench_servers(tree)
    try:
        host = bench.servers.host_url
        status, headers, body = _get(
            host + STATIC_PREFIX + "loader.js", {"Accept-Encoding": "gzip"}
        )
        assert status == 200
        assert headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(body).decode() == script
        assert headers["Cache-Control"] == "no-cache"
        assert headers["ETag"] and headers["Last-Modified"]

        status, again, body = _get(
            host + STATIC_PREFIX + "loader.js", {"If-None-Match": headers["ETag"]}
        )
        assert (status, body) == (304, b"")
        assert again["ETag"] == headers["ETag"]
        status, _, _ = _get(
            host + STATIC_PREFIX + "loader.js", {"If-Modified-Since": headers["Last-Modified"]}
        )
        assert status == 304

        # An archive is already compressed: served as it is.
        status, headers, body = _get(
            host + STATIC_PREFIX + "stdlib.zip", {"Accept-Encoding": "gzip"}
        )
        assert status == 200 and "Content-Encoding" not in headers and body.startswith(b"PK")

        status, headers, body = _get(
            host + BASELINE_PREFIX + "handler.js", {"Accept-Encoding": "gzip"}
        )
        assert status == 200 and b"meshes:auth" in gzip.decompress(body)
        assert _get(host + STATIC_PREFIX + "../secret", {})[0] == 404
        assert _get(host + BASELINE_PREFIX + "missing.js", {})[0] == 404
    finally:
        bench.stop()


def test_embed_documents_wait_out_the_profile_delay(tmp_path: Path) -> None:
    bench = start_bench_servers(tmp_path)
    try:
        fake = bench.servers.fake
        held = fake.create_session({}, allowed_origin=bench.servers.host_url)
        bench.set_profile(mint_delay=0.0, document_delay=60)
        with pytest.raises(TimeoutError):
            _get(held["launch_url"], {}, timeout=1)
        bench.set_profile(mint_delay=0.0, document_delay=0.0)
        session = fake.create_session({}, allowed_origin=bench.servers.host_url)
        status, _, body = _get(session["launch_url"], {})
        assert status == 200 and b"stub-config" in body
    finally:
        bench.stop()


def _task(ts: float, dur: float, tdur: float, pid: int = 1, tid: int = 1) -> dict[str, object]:
    return {"name": TASK, "ph": "X", "ts": ts, "dur": dur, "tdur": tdur, "pid": pid, "tid": tid}


def test_main_thread_work_counts_the_marking_thread_inside_the_window() -> None:
    mark = {"ph": "I", "pid": 1, "tid": 1, "cat": "blink.user_timing"}
    trace = {
        "traceEvents": [
            _task(0, 500, 500),  # before the window
            {**mark, "name": START_MARK, "ts": 1000},
            _task(1000, 2000, 1000),
            _task(1500, 100, 100),  # nested in the one above: not counted twice
            _task(4000, 60_000, 30_000),
            _task(5000, 90_000, 90_000, pid=2),  # another renderer
            _task(5000, 90_000, 90_000, tid=7),  # another thread of the page's process
            {**mark, "name": END_MARK, "ts": 100_000},
            _task(99_000, 2000, 2000),  # straddles the end: half of it counts
            _task(200_000, 9000, 9000),  # after the window
        ]
    }
    work = main_thread_work(trace)
    assert work.tasks == 3
    assert work.longest_ms == pytest.approx(30.0)  # CPU time: 60 ms wall, 30 ms on the CPU
    assert work.wall_ms == pytest.approx(2.0 + 60.0 + 1.0)
    assert work.cpu_ms == pytest.approx(1.0 + 30.0 + 1.0)


def test_main_thread_work_refuses_a_trace_without_the_marks() -> None:
    with pytest.raises(RuntimeError, match="marks"):
        main_thread_work({"traceEvents": [_task(0, 10, 10)]})
