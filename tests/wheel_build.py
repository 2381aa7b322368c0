"""Build the meshes-bridge wheel from a clean copy of the sources, for the tests that
install it into a fresh virtualenv (no checkout on the path)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOURCE_ITEMS = [
    "bridge",
    "static",
    "tools",
    "package.json",
    "package-lock.json",
    "setup.py",
    "pyproject.toml",
    "MANIFEST.in",
    "README.md",
]
BUILD_TIMEOUT = 240


def copy_source(dest: Path) -> None:
    """A clean copy of the sources (no stale build/ dir) sharing node_modules."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in SOURCE_ITEMS:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        elif src.exists():
            shutil.copy2(src, dest / name)
    if (REPO / "node_modules").is_dir():
        (dest / "node_modules").symlink_to(REPO / "node_modules")


def build_wheel(workdir: Path) -> Path:
    """`python -m build --wheel` of a clean copy in `workdir`/src; the wheel's path."""
    src = workdir / "src"
    src.mkdir()
    copy_source(src)
    wheels = workdir / "wheels"
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(wheels), str(src)],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (wheel,) = wheels.glob("meshes_bridge-*.whl")
    return wheel
