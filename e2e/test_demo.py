"""The README's demo, `python examples/demo/demo.py --check`, passes on both interpreters."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo" / "demo.py"


def test_demo_check_passes(static_dir: Path, runtime: str, tmp_path: Path) -> None:
    shot = tmp_path / "demo.png"
    done = subprocess.run(
        [
            sys.executable,
            str(DEMO),
            "--check",
            "--port",
            "0",
            "--runtime",
            runtime,
            "--static",
            str(static_dir),
            "--screenshot",
            str(shot),
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "CHECK PASSED" in done.stdout
    assert shot.stat().st_size > 10_000
