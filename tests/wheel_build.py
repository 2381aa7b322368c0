"""Build the meshes-bridge sdist and wheel from a clean copy of the sources, for the tests
that install them into a fresh virtualenv (no checkout on the path)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
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
    "CHANGELOG.md",
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


def _build(workdir: Path, *what: str) -> Path:
    src = workdir / "src"
    src.mkdir()
    copy_source(src)
    out = workdir / "dist"
    result = subprocess.run(
        [sys.executable, "-m", "build", *what, "--outdir", str(out), str(src)],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out


def build_wheel(workdir: Path) -> Path:
    """`python -m build --wheel` of a clean copy in `workdir`/src; the wheel's path."""
    (wheel,) = _build(workdir, "--wheel").glob("meshes_bridge-*.whl")
    return wheel


def build_sdist(workdir: Path) -> Path:
    """`python -m build --sdist` of a clean copy in `workdir`/src; the sdist's path."""
    (sdist,) = _build(workdir, "--sdist").glob("meshes_bridge-*.tar.gz")
    return sdist


def wheel_from_sdist_offline(sdist: Path, workdir: Path, python: Path) -> Path:
    """The wheel built from the unpacked `sdist` as a distributor builds it offline: by
    `python` (a venv holding the build requirements) with no build isolation, no package
    index and no npm on PATH. The wheel's path."""
    unpacked = workdir / "unpacked"
    with tarfile.open(sdist) as archive:
        archive.extractall(unpacked, filter="data")
    (root,) = unpacked.iterdir()
    out = workdir / "offline-wheel"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = str(python.parent)  # the venv's bin: no npm, no node
    assert shutil.which("npm", path=env["PATH"]) is None
    result = subprocess.run(
        [str(python), "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "--no-index"]
        + ["--wheel-dir", str(out), str(root)],
        capture_output=True,
        text=True,
        cwd=workdir,
        env=env,
        timeout=BUILD_TIMEOUT,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (wheel,) = out.glob("meshes_bridge-*.whl")
    return wheel
