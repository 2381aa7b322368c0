"""Measure cold start: page navigation start -> container `authenticated`, per interpreter.

    python -m e2e.cold_start [--runs 5]

Each run is a fresh browser context (empty HTTP cache), so every runtime file is fetched
and compiled again. The time is the page's own clock (performance.now(), 0 = navigation
start) read by a MutationObserver when data-state becomes `authenticated`. Figures are
for comparing within one run on one machine, not targets.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from e2e.harness import BOOT_TIMEOUT_MS
from e2e.settings import CHROMIUM, CHROMIUM_ARGS, RUNTIMES
from tests.host.pages import page_html
from tests.host.servers import start_host_servers

WATCH = """
new MutationObserver((records) => {
  for (const r of records) {
    const s = r.target.getAttribute && r.target.getAttribute("data-state");
    if (s === "authenticated" && window.__authAt === undefined) window.__authAt = performance.now();
  }
}).observe(document, {subtree: true, attributes: true, attributeFilter: ["data-state"]});
"""


def measure(runs: int) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {r: [] for r in RUNTIMES}
    with tempfile.TemporaryDirectory() as tmp:
        static = Path(tmp) / "meshes-bridge"
        subprocess.run(
            [sys.executable, "-m", "meshes_bridge", "static", str(static), "-q"], check=True
        )
        with start_host_servers(static) as servers, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for runtime in RUNTIMES:
                url = servers.backend.add_page(f"/cold/{runtime}", page_html(runtime=runtime))
                for _ in range(runs):
                    context = browser.new_context()
                    page = context.new_page()
                    page.add_init_script(WATCH)
                    page.goto(url)
                    page.wait_for_function("window.__authAt !== undefined", timeout=BOOT_TIMEOUT_MS)
                    results[runtime].append(page.evaluate("window.__authAt"))
                    context.close()
            browser.close()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    for runtime, times in measure(args.runs).items():
        ms = ", ".join(f"{t:.0f}" for t in times)
        print(f"{runtime:12} median {statistics.median(times):7.0f} ms   runs: {ms}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
