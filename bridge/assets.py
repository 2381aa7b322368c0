"""Collect the browser asset tree (`meshes-bridge static DIR`).

Pure file work, no browser imports: the CLI parses arguments and reports, this module
decides what goes where. The tree written by `write_static`:

    DIR/.meshes-bridge          marker (our version): lets a rerun replace the tree
    DIR/loader.js               static/loader.js with the Python file list filled in
    DIR/pyscript/  DIR/micropython/  DIR/pyodide/        vendored runtimes
    DIR/python/main.py          PyScript's entry point
    DIR/python/meshes_bridge/...       __init__.py, core/ and browser/ of this installed package
    DIR/python/pyodide_http/... loaded only under Pyodide
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from meshes_bridge import __version__

PACKAGE = "meshes_bridge"  # the import name, whatever the folder is called
MARKER = ".meshes-bridge"
FILES_PLACEHOLDER = "/*MESHES_BRIDGE_FILES*/[]"
RUNTIME_HINT = "run `make runtime` (checkout) or reinstall the wheel"

# Subpackages that run in the browser; everything else in bridge/ (cli, assets, the
# runtime files) is for the host's Python and stays out of the tree.
BROWSER_PACKAGES = ("core", "browser")
RUNTIME_DIRS = ("pyscript", "micropython", "pyodide")
REQUIRED_RUNTIME_FILES = (
    "loader.js",
    "main.py",
    "pyscript/core.js",
    "micropython/micropython.mjs",
    "micropython/micropython.wasm",
    "pyodide/pyodide.mjs",
    "pyodide/pyodide.asm.mjs",
    "pyodide/pyodide.asm.wasm",
    "pyodide/python_stdlib.zip",
    "pyodide/pyodide-lock.json",
    "pyodide_http/__init__.py",
)


class AssetsError(Exception):
    """The asset tree cannot be written; the message says why and what to do."""


def package_dir() -> Path:
    """The installed `meshes_bridge` package (a checkout's bridge/ folder in development)."""
    return Path(__file__).resolve().parent


def runtime_dir() -> Path:
    """Where the vendored runtime files live (filled by tools/vendor.py at build time)."""
    return package_dir() / "_runtime"


def missing_runtime_files() -> list[str]:
    root = runtime_dir()
    return [rel for rel in REQUIRED_RUNTIME_FILES if not (root / rel).is_file()]


def check_runtime() -> None:
    missing = missing_runtime_files()
    if missing:
        shown = ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else "")
        raise AssetsError(f"runtime files missing in {runtime_dir()} ({shown}): {RUNTIME_HINT}")


def _py_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def _python_sources() -> dict[str, Path]:
    """Relative path under DIR/python -> source file, in a stable order."""
    pkg = package_dir()
    # The folder may be named bridge/ (a checkout): the browser imports `meshes_bridge`.
    sources = {f"{PACKAGE}/__init__.py": pkg / "__init__.py"}
    for sub in BROWSER_PACKAGES:
        for p in _py_files(pkg / sub):
            sources[f"{PACKAGE}/{p.relative_to(pkg).as_posix()}"] = p
    http = runtime_dir() / "pyodide_http"
    for p in _py_files(http):
        sources[p.relative_to(http.parent).as_posix()] = p
    return sources


def python_files() -> list[str]:
    """The Python files the browser loads, relative to DIR/python (main.py excluded:
    it is the script's src, not a module)."""
    return list(_python_sources())


def render_loader(files: list[str]) -> str:
    text = (runtime_dir() / "loader.js").read_text(encoding="utf-8")
    if text.count(FILES_PLACEHOLDER) != 1:
        raise AssetsError(f"loader.js lacks exactly one {FILES_PLACEHOLDER}: {RUNTIME_HINT}")
    return text.replace(FILES_PLACEHOLDER, json.dumps(files))


def _copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)


def tree_sources() -> dict[str, Path]:
    """Every file of the tree but loader.js (rendered) and the marker: relative path in
    the tree -> the installed file it is a copy of. Lets a web framework serve the tree
    straight from the installed package (`meshes_bridge.server.static_files`)."""
    runtime = runtime_dir()
    sources: dict[str, Path] = {}
    for sub in RUNTIME_DIRS:
        for p in sorted(q for q in (runtime / sub).rglob("*") if q.is_file()):
            if p.suffix != ".map":
                sources[p.relative_to(runtime).as_posix()] = p
    sources["python/main.py"] = runtime / "main.py"
    for rel, src in _python_sources().items():
        sources[f"python/{rel}"] = src
    return sources


def loader_text() -> str:
    """loader.js as the tree holds it (the Python file list filled in)."""
    return render_loader(python_files())


def _fill(tree: Path) -> list[str]:
    written: list[str] = []
    for rel, src in tree_sources().items():
        _copy(src, tree / rel)
        written.append(rel)
    (tree / "loader.js").write_text(loader_text(), encoding="utf-8")
    written.append("loader.js")
    (tree / MARKER).write_text(f"meshes-bridge {__version__}\n", encoding="utf-8")
    written.append(MARKER)
    return sorted(written)


def is_ours(path: Path) -> bool:
    return (path / MARKER).is_file()


def write_static(dest: str | os.PathLike[str]) -> list[str]:
    """Write the complete tree into `dest`; returns the relative paths written.

    `dest` is created if needed. An existing tree of ours is replaced: the new one is
    built beside it and swapped in, so a web server never sees a half-written tree for
    more than two renames. A non-empty directory without our marker is left untouched.
    """
    dest = Path(dest).absolute()
    check_runtime()
    if dest.exists() or dest.is_symlink():
        if not dest.is_dir():
            raise AssetsError(f"{dest} exists and is not a directory")
        if any(dest.iterdir()) and not is_ours(dest):
            raise AssetsError(
                f"refusing to replace {dest}: it is not empty and has no {MARKER} marker "
                "(not written by meshes-bridge); choose another directory or empty it"
            )
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.meshes-bridge-new-{os.getpid()}")
    old = dest.with_name(f".{dest.name}.meshes-bridge-old-{os.getpid()}")
    for leftover in (tmp, old):
        shutil.rmtree(leftover, ignore_errors=True)
    tmp.mkdir()
    try:
        written = _fill(tmp)
        if dest.exists():
            dest.rename(old)
        tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not dest.exists():
            old.rename(dest)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return written
