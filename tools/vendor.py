#!/usr/bin/env python3
"""Populate bridge/meshes_bridge/_runtime/ with the browser runtime files the wheel ships.

Sources, all pinned:
- node_modules/ (package.json + package-lock.json; `npm ci` is run first when the
  installed packages are missing or do not match the pins),
- the installed pyodide-http distribution (its .py files),
- static/loader.js (minified on the way by terser, an npm build dependency) and
  static/main.py.

Pyodide's python_stdlib.zip is precompiled to bytecode on the way (tools/pyodide_stdlib.py:
Pyodide itself under Node compiles it, so Node.js is needed here, never at run time).

The wheel carries the result, so that installing and running meshes-bridge never needs
npm or the network. Run it as `python tools/vendor.py` (or `make runtime`).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNTIME = ROOT / "bridge" / "meshes_bridge" / "_runtime"
NODE_MODULES = ROOT / "node_modules"

PYSCRIPT = "@pyscript/core"
MICROPYTHON = "@micropython/micropython-webassembly-pyscript"
PYODIDE = "pyodide"
NPM_PACKAGES = (PYSCRIPT, MICROPYTHON, PYODIDE)
# Build tools from package.json's devDependencies: they run here, nothing of them ships.
TERSER = "terser"

MICROPYTHON_FILES = ("micropython.mjs", "micropython.wasm")
PYODIDE_FILES = (
    "pyodide.mjs",
    "pyodide.asm.mjs",
    "pyodide.asm.wasm",
    "python_stdlib.zip",
    "pyodide-lock.json",
)
PYODIDE_STDLIB = "python_stdlib.zip"
PYODIDE_HTTP_DIST = "pyodide-http"


class VendorError(RuntimeError):
    """The runtime files cannot be assembled (missing npm, package, or file)."""


def _pinned_versions() -> dict[str, str]:
    manifest = json.loads((ROOT / "package.json").read_text())
    deps = manifest["dependencies"]
    pins = {name: deps[name] for name in NPM_PACKAGES}
    pins[TERSER] = manifest["devDependencies"][TERSER]
    return pins


def _installed_version(name: str) -> str | None:
    manifest = NODE_MODULES / name / "package.json"
    if not manifest.is_file():
        return None
    return json.loads(manifest.read_text()).get("version")


def _node_modules_ok() -> bool:
    return all(_installed_version(n) == v for n, v in _pinned_versions().items())


def ensure_node_modules() -> None:
    """Run `npm ci` when node_modules is missing or does not match package.json."""
    if _node_modules_ok():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise VendorError("node_modules is missing or stale and npm is not on PATH")
    print("vendor: running npm ci", file=sys.stderr)
    # --ignore-scripts: these are data packages; nothing of theirs needs to run here.
    # --include=dev: terser, the build's minifier, even where npm omits dev packages.
    subprocess.run(
        [npm, "ci", "--include=dev", "--ignore-scripts", "--no-audit", "--no-fund"],
        cwd=ROOT,
        check=True,
    )
    if not _node_modules_ok():
        raise VendorError(f"npm ci did not install the pinned versions {_pinned_versions()}")


def _pyodide_http_dir() -> Path:
    spec = importlib.util.find_spec("pyodide_http")
    if spec is None or not spec.submodule_search_locations:
        raise VendorError(
            "the pyodide-http package is not installed (python3 -m pip install pyodide-http)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _precompile_stdlib(pyodide_dir: Path, dest: Path, previous: Path) -> None:
    # Loaded by path: setup.py loads this file by path too, with tools/ not on sys.path.
    spec = importlib.util.spec_from_file_location(
        "_meshes_pyodide_stdlib", Path(__file__).resolve().parent / "pyodide_stdlib.py"
    )
    if spec is None or spec.loader is None:
        raise VendorError("tools/pyodide_stdlib.py is missing")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    src = pyodide_dir / PYODIDE_STDLIB
    if not src.is_file():
        raise VendorError(f"missing file: {src}")
    try:
        how = module.precompile(src, dest, pyodide_dir, previous)
    except (module.PrecompileError, subprocess.TimeoutExpired) as e:
        raise VendorError(str(e)) from e
    print(f"vendor: Pyodide's standard library precompiled ({how})", file=sys.stderr)


# The tree ships no source maps, so its scripts must not name any: a missing .map breaks
# hashing static storages (Django's ManifestStaticFilesStorage, WhiteNoise) and makes
# browsers' devtools request files that are not there.
_SOURCE_MAP_RE = re.compile(
    rb"\n?[ \t]*(//[#@] sourceMappingURL=\S*|/\*[#@] sourceMappingURL=[^*]*\*/)[ \t]*$"
)


def _copy(src: Path, dest: Path) -> None:
    if not src.is_file():
        raise VendorError(f"missing file: {src}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if src.suffix in (".js", ".mjs", ".css"):
        text = src.read_bytes()
        dest.write_bytes(_SOURCE_MAP_RE.sub(b"", text.rstrip(b"\n")) + b"\n")
    else:
        shutil.copyfile(src, dest)


# The lines `meshes-bridge static` fills in (meshes_bridge/assets.py, *_PLACEHOLDER): kept
# out of the minifier, whole and first, so each stays exactly once and as written.
_PLACEHOLDER_LINE_RE = re.compile(r"^const \w+ = /\*MESHES_BRIDGE_\w+\*/[^;\n]*;\n", re.M)


def _minify_loader(src: Path, dest: Path) -> None:
    """loader.js as the browser gets it: its placeholder lines, then the rest minified.

    A cold load fetches it on every visit after each release (its name carries no hash),
    and its comments are most of its size; the commented text stays static/loader.js.
    """
    if not src.is_file():
        raise VendorError(f"missing file: {src}")
    text = src.read_text(encoding="utf-8")
    placeholders = _PLACEHOLDER_LINE_RE.findall(text)
    if len(placeholders) != 3:
        raise VendorError(f"{src} has {len(placeholders)} placeholder lines, not 3")
    node = shutil.which("node")
    if node is None:
        raise VendorError("node is not on PATH: Node.js runs terser to minify loader.js")
    terser = NODE_MODULES / TERSER / "bin" / "terser"
    # The placeholders' names stay free names of the rest (module scope, never mangled).
    try:
        done = subprocess.run(
            [node, str(terser), "--module", "--ecma", "2020", "--compress", "passes=2", "--mangle"],
            input=_PLACEHOLDER_LINE_RE.sub("", text),
            capture_output=True,
            text=True,
            timeout=120,
        )
    except subprocess.TimeoutExpired as e:
        raise VendorError(f"terser did not finish minifying {src} in {e.timeout} s") from e
    if done.returncode != 0:
        raise VendorError(f"terser could not minify {src}: {done.stderr.strip()}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text("".join(placeholders) + done.stdout.rstrip("\n") + "\n", encoding="utf-8")


def _populate(out: Path, previous: Path) -> dict[str, str]:
    """Fill `out`; `previous` is the tree it replaces (its precompiled stdlib may be reused)."""
    dist = NODE_MODULES / PYSCRIPT / "dist"
    pyscript_files = sorted(
        p for p in dist.iterdir() if p.is_file() and p.suffix in (".js", ".css")
    )
    if not any(p.name == "core.js" for p in pyscript_files):
        raise VendorError(f"no core.js in {dist}")
    for p in pyscript_files:
        _copy(p, out / "pyscript" / p.name)

    for name in MICROPYTHON_FILES:
        _copy(NODE_MODULES / MICROPYTHON / name, out / "micropython" / name)
    for name in PYODIDE_FILES:
        if name == PYODIDE_STDLIB:
            _precompile_stdlib(
                NODE_MODULES / PYODIDE, out / "pyodide" / name, previous / "pyodide" / name
            )
        else:
            _copy(NODE_MODULES / PYODIDE / name, out / "pyodide" / name)

    http_dir = _pyodide_http_dir()
    http_files = sorted(http_dir.rglob("*.py"))
    if not http_files:
        raise VendorError(f"no .py files in {http_dir}")
    for p in http_files:
        _copy(p, out / "pyodide_http" / p.relative_to(http_dir))

    _minify_loader(ROOT / "static" / "loader.js", out / "loader.js")
    _copy(ROOT / "static" / "main.py", out / "main.py")

    versions = {name: _installed_version(name) or "" for name in NPM_PACKAGES}
    versions[PYODIDE_HTTP_DIST] = importlib.metadata.version(PYODIDE_HTTP_DIST)
    (out / "VERSIONS.json").write_text(json.dumps(versions, indent=2, sort_keys=True) + "\n")
    return versions


def vendor(dest: Path = RUNTIME) -> dict[str, str]:
    """Rebuild `dest` from scratch; returns the versions written to VERSIONS.json.

    Built beside `dest` and swapped in, so a failed run leaves the old tree intact.
    """
    ensure_node_modules()
    tmp = dest.with_name(dest.name + ".tmp")
    old = dest.with_name(dest.name + ".old")
    for leftover in (tmp, old):
        shutil.rmtree(leftover, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        versions = _populate(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if dest.exists():
        dest.rename(old)
    tmp.rename(dest)
    shutil.rmtree(old, ignore_errors=True)
    return versions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dest", type=Path, default=RUNTIME, help=f"output directory (default: {RUNTIME})"
    )
    args = parser.parse_args(argv)
    try:
        versions = vendor(args.dest)
    except (VendorError, subprocess.CalledProcessError) as e:
        print(f"vendor: error: {e}", file=sys.stderr)
        return 1
    summary = ", ".join(f"{k} {v}" for k, v in sorted(versions.items()))
    print(f"vendor: wrote {args.dest} ({summary})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
