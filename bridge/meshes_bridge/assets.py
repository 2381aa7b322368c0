"""Collect the browser asset tree (`meshes-bridge static DIR`).

Pure file work, no browser imports: the CLI parses arguments and reports, this module
decides what goes where. The tree written by `write_static`:

    DIR/.meshes-bridge                  marker (our version): lets a rerun replace the tree
    DIR/loader.js                       the only short-lived file: static/loader.js with the
                                        tree's manifest (below), main.py and the wire
                                        constants (meshes_bridge.core.wire) filled in
    DIR/pyscript/<hash>/...             @pyscript/core's dist files
    DIR/micropython/<hash>/...          MicroPython (micropython.mjs, .wasm)
    DIR/pyodide/<hash>/...              Pyodide's core files
    DIR/python/<hash>/micropython.bin   the bridge's Python files in one gzipped file,
                                        compiled to MicroPython bytecode (.mpy)
    DIR/python/<hash>/micropython-source.bin   the same as sources (data-debug)
    DIR/python/<hash>/pyodide.bin       the sources plus pyodide-http

Every folder name <hash> is derived from the content of the files under it, so every file
but loader.js may be cached for good (`Cache-Control: public, max-age=31536000,
immutable`): a new release changes the names, and loader.js names the new ones.
The loader fetches the bundle, unpacks it and writes its files into the interpreter's
file system before main.py runs. Bundles are deterministic
(sorted, no timestamps) and named after their uncompressed content, so two installs of
one version agree on the names.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
from functools import cache
from pathlib import Path
from typing import Any

from meshes_bridge import __version__, bytecode
from meshes_bridge.core import wire
from meshes_bridge.slim import slim_python, strip_js_comment_lines

PACKAGE = "meshes_bridge"  # the import name, whatever the folder is called
MARKER = ".meshes-bridge"
LOADER = "loader.js"
TREE_PLACEHOLDER = "/*MESHES_BRIDGE_TREE*/null"
MAIN_PLACEHOLDER = '/*MESHES_BRIDGE_MAIN*/""'
WIRE_PLACEHOLDER = "/*MESHES_BRIDGE_WIRE*/null"
RUNTIME_HINT = "run `make runtime` (checkout) or reinstall the wheel"

# Subpackages that run in the browser; everything else in the package (cli, assets, the
# runtime files) is for the host's Python and stays out of the tree.
BROWSER_PACKAGES = ("core", "browser")
RUNTIMES = ("micropython", "pyodide")
# What the tree is built from, in the package's _runtime folder: the files every tree
# needs, and those of each interpreter.
REQUIRED_RUNTIME_FILES = ("loader.js", "main.py", "pyscript/core.js")
RUNTIME_REQUIRES = {
    "micropython": ("micropython/micropython.mjs", "micropython/micropython.wasm"),
    "pyodide": (
        "pyodide/pyodide.mjs",
        "pyodide/pyodide.asm.mjs",
        "pyodide/pyodide.asm.wasm",
        "pyodide/python_stdlib.zip",
        "pyodide/pyodide-lock.json",
        "pyodide_http/__init__.py",
    ),
}

# What each interpreter's boot loads, relative to its folder: the ES module PyScript
# imports, the modules that one imports, and what it fetches. The loader preloads them.
INTERPRETERS = {
    "micropython": {
        "module": "micropython.mjs",
        "modules": [],
        "fetch": ["micropython.wasm"],
    },
    "pyodide": {
        "module": "pyodide.mjs",
        "modules": ["pyodide.asm.mjs"],
        "fetch": ["pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json"],
    },
}
HASH_CHARS = 12
# The bridge's Python files travel as one gzipped file per interpreter, which the loader
# fetches, unpacks (the browser's DecompressionStream) and writes into the interpreter's
# file system before any Python runs: a line of JSON, the files' paths and sizes
# ([[path, size], ...]), then their bytes one after another. Not a .tar.gz for PyScript's
# own archive support: servers that map `.gz` to `Content-Encoding: gzip` (Django's static
# view, runserver) make the browser unpack it on the way. `.bin` is mapped to no encoding
# anywhere.
BUNDLE_SUFFIX = ".bin"
# MicroPython gets bytecode (meshes_bridge/bytecode.py), and the sources under this name,
# which the loader fetches instead with data-debug (tracebacks with line numbers).
SOURCE_BUNDLE = "-source"
# The vendored MicroPython's npm package, as tools/vendor.py writes it in VERSIONS.json.
MICROPYTHON_PACKAGE = "@micropython/micropython-webassembly-pyscript"
BYTECODE_DIR = "bytecode"  # the compiled files the wheel ships, in _runtime


class AssetsError(Exception):
    """The asset tree cannot be written; the message says why and what to do."""


def package_dir() -> Path:
    """The installed `meshes_bridge` package (bridge/meshes_bridge in a checkout)."""
    return Path(__file__).resolve().parent


def runtime_dir() -> Path:
    """Where the vendored runtime files live (filled by tools/vendor.py at build time)."""
    return package_dir() / "_runtime"


def check_runtimes(runtimes: tuple[str, ...]) -> tuple[str, ...]:
    """`runtimes` in the order of RUNTIMES, without duplicates; an error for an unknown one."""
    unknown = [rt for rt in runtimes if rt not in RUNTIMES]
    if unknown or not runtimes:
        raise AssetsError(f"unknown runtime {unknown or runtimes!r}: choose from {RUNTIMES}")
    return tuple(rt for rt in RUNTIMES if rt in runtimes)


def missing_runtime_files(runtimes: tuple[str, ...] = RUNTIMES) -> list[str]:
    root = runtime_dir()
    needed = [*REQUIRED_RUNTIME_FILES, *(f for rt in runtimes for f in RUNTIME_REQUIRES[rt])]
    return [rel for rel in needed if not (root / rel).is_file()]


def check_runtime(runtimes: tuple[str, ...] = RUNTIMES) -> None:
    missing = missing_runtime_files(runtimes)
    if missing:
        shown = ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else "")
        raise AssetsError(f"runtime files missing in {runtime_dir()} ({shown}): {RUNTIME_HINT}")


def _py_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def _python_sources(runtime: str = "pyodide") -> dict[str, Path]:
    """Path in the interpreter's file system (its working directory) -> source file."""
    pkg = package_dir()
    sources = {f"{PACKAGE}/__init__.py": pkg / "__init__.py"}
    for sub in BROWSER_PACKAGES:
        for p in _py_files(pkg / sub):
            sources[f"{PACKAGE}/{p.relative_to(pkg).as_posix()}"] = p
    if runtime == "pyodide":  # pyodide-http patches urllib, which MicroPython lacks
        http = runtime_dir() / "pyodide_http"
        for p in _py_files(http):
            sources[p.relative_to(http.parent).as_posix()] = p
    return sources


def python_files(runtime: str = "pyodide") -> list[str]:
    """The Python files the browser gets (in that interpreter's archive), relative to its
    working directory."""
    return list(_python_sources(runtime))


def _digest(parts: list[tuple[str, bytes]]) -> str:
    h = hashlib.sha256()
    for name, data in parts:
        h.update(name.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
    return h.hexdigest()[:HASH_CHARS]


def pack_bundle(members: dict[str, bytes]) -> bytes:
    """The files as one bundle (sorted), as it is gzipped and named after: a line of JSON,
    [[path, size], ...], then the files' bytes in that order."""
    names = sorted(members)
    index = json.dumps([[name, len(members[name])] for name in names], separators=(",", ":"))
    return index.encode("ascii") + b"\n" + b"".join(members[name] for name in names)


def unpack_bundle(raw: bytes) -> dict[str, bytes]:
    """pack_bundle's files back ({path: bytes}); `raw` gzipped or not."""
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    head, _, body = raw.partition(b"\n")
    files: dict[str, bytes] = {}
    at = 0
    for name, size in json.loads(head):
        files[name] = body[at : at + size]
        at += size
    if at != len(body):
        raise ValueError(f"a bundle of {at} bytes of files holds {len(body)}")
    return files


def ours(rel: str) -> bool:
    """Is a bundled Python file the bridge's own (not pyodide-http's)?"""
    return rel.startswith(PACKAGE + "/")


def micropython_version() -> str:
    """The vendored MicroPython's version (`1.28.0`; npm's `1.28.0-6` is its 6th build)."""
    try:
        versions = json.loads((runtime_dir() / "VERSIONS.json").read_text(encoding="utf-8"))
        return str(versions[MICROPYTHON_PACKAGE]).split("-")[0]
    except (OSError, ValueError, KeyError) as e:
        raise AssetsError(f"no MicroPython version in the vendored runtime: {RUNTIME_HINT}") from e


def _slimmed(runtime: str) -> dict[str, tuple[str, str]]:
    """{path: (its text as installed, slimmed)} of `runtime`'s Python files."""
    texts = {rel: src.read_text(encoding="utf-8") for rel, src in _python_sources(runtime).items()}
    return {rel: (text, slim_python(text, ours(rel))) for rel, text in texts.items()}


def bundle_members(
    runtime: str, source: bool = False, texts: dict[str, tuple[str, str]] | None = None
) -> dict[str, bytes]:
    """The files of `runtime`'s bundle ({path: bytes}): MicroPython's compiled to
    bytecode (`.mpy`) unless `source`; Pyodide's are always the sources. `texts`: the
    sources (_slimmed), if already at hand."""
    texts = _slimmed(runtime) if texts is None else texts
    if runtime != "micropython" or source:
        return {rel: slim.encode("utf-8") for rel, (_, slim) in texts.items()}
    store = runtime_dir() / BYTECODE_DIR
    try:
        compiled = bytecode.compile_all(store, micropython_version(), texts)
    except bytecode.BytecodeError as e:
        raise AssetsError(str(e)) from e
    return {bytecode.compiled_name(rel): data for rel, data in compiled.items()}


def bundle_names(runtimes: tuple[str, ...] = RUNTIMES) -> dict[str, tuple[str, bool]]:
    """Each bundle of a tree holding `runtimes`: its name -> (runtime, holds the sources)."""
    names: dict[str, tuple[str, bool]] = {}
    for runtime in runtimes:
        names[runtime] = (runtime, runtime != "micropython")
        if runtime == "micropython":
            names[runtime + SOURCE_BUNDLE] = (runtime, True)
    return names


def python_bundles(runtimes: tuple[str, ...] = RUNTIMES) -> dict[str, tuple[bytes, bytes]]:
    """Bundle name (`micropython`, `micropython-source`, `pyodide`) -> (the bundle, its
    gzip)."""
    bundles = {}
    texts = {runtime: _slimmed(runtime) for runtime in runtimes}
    for name, (runtime, source) in bundle_names(runtimes).items():
        raw = pack_bundle(bundle_members(runtime, source, texts[runtime]))
        bundles[name] = (raw, gzip.compress(raw, compresslevel=9, mtime=0))
    return bundles


def write_bytecode_store() -> int:
    """Compile MicroPython's files into the package's store (the wheel's build does);
    the number of files."""
    try:
        return bytecode.write_store(
            runtime_dir() / BYTECODE_DIR, micropython_version(), _slimmed("micropython")
        )
    except bytecode.BytecodeError as e:
        raise AssetsError(str(e)) from e


def _runtime_files(sub: str) -> dict[str, Path]:
    root = runtime_dir() / sub
    return {
        p.relative_to(root).as_posix(): p
        for p in sorted(q for q in root.rglob("*") if q.is_file())
        if p.suffix != ".map"
    }


_STATIC_IMPORT = re.compile(rb"""(?:\bfrom|\bimport)\s*["'](\./[\w.-]+\.js)["']""")


def _pyscript_preloads(files: dict[str, Path], entry: str) -> list[str]:
    """The modules every boot loads besides `entry` (the module the loader imports): its
    static imports (transitively) and the error plugin's chunk (imported even when
    disabled, to keep its banner off)."""
    seen: list[str] = []
    todo = [entry]
    while todo:
        name = todo.pop()
        if name in seen or name not in files:
            continue
        seen.append(name)
        for match in _STATIC_IMPORT.finditer(files[name].read_bytes()):
            todo.append(match.group(1).decode()[2:])
    seen += sorted(n for n in files if re.fullmatch(r"error-[\w-]+\.js", n))
    return seen[1:]  # the loader imports the entry itself, at once


_REEXPORT = re.compile(rb"""^export\s*\{([^}]*)\}\s*from\s*["']\./([\w.-]+\.js)["'];?\s*$""")


def _pyscript_entry(files: dict[str, Path]) -> tuple[str, str]:
    """(the module the loader imports, the name `hooks` is exported as there). core.js
    only re-exports one chunk under readable names: importing that chunk straight away
    saves a request (and a step of the boot's waterfall). Any other core.js is imported
    as it is."""
    core = files.get("core.js")
    found = _REEXPORT.match(core.read_bytes().strip()) if core is not None else None
    if found is not None and found.group(2).decode() in files:
        for item in found.group(1).decode().split(","):
            name, _, alias = item.strip().partition(" as ")
            if (alias or name).strip() == "hooks":
                return found.group(2).decode(), name.strip()
    return "core.js", "hooks"


@cache
def _layout(
    runtimes: tuple[str, ...] = RUNTIMES,
) -> tuple[dict[str, Path], dict[str, bytes], dict[str, Any]]:
    """(files copied from the package, files rendered, the loader's manifest) of a tree
    holding these runtimes. A runtime's folders and manifest entries are the same in
    every tree that holds it."""
    check_runtime(runtimes)
    copied: dict[str, Path] = {}
    dirs: dict[str, str] = {}
    listings: dict[str, dict[str, Path]] = {}
    for sub in ("pyscript", *runtimes):
        files = _runtime_files(sub)
        listings[sub] = files
        digest = _digest([(rel, p.read_bytes()) for rel, p in files.items()])
        dirs[sub] = f"{sub}/{digest}/"
        for rel, p in files.items():
            copied[dirs[sub] + rel] = p
    entry, hooks_name = _pyscript_entry(listings["pyscript"])
    bundles = python_bundles(runtimes)
    python_dir = "python/" + _digest([(name, raw) for name, (raw, _) in sorted(bundles.items())])
    rendered = {f"{python_dir}/{name}{BUNDLE_SUFFIX}": gz for name, (_, gz) in bundles.items()}
    paths = {name: f"{python_dir}/{name}{BUNDLE_SUFFIX}" for name in bundles}
    manifest: dict[str, Any] = {
        "version": __version__,
        "pyscript": dirs["pyscript"],
        "core": entry,
        "hooks": hooks_name,
        "modules": _pyscript_preloads(listings["pyscript"], entry),
        "interpreters": {rt: {"dir": dirs[rt], **INTERPRETERS[rt]} for rt in runtimes},
        # What the loader unpacks: the bundle to run, and with data-debug the sources.
        "python": {rt: paths[rt] for rt in runtimes},
        "source": {rt: paths.get(rt + SOURCE_BUNDLE, paths[rt]) for rt in runtimes},
    }
    return copied, rendered, manifest


def tree_manifest(runtimes: tuple[str, ...] = RUNTIMES) -> dict[str, Any]:
    """What loader.js is told about the tree (every path relative to loader.js)."""
    return _layout(runtimes)[2]


def tree_path(rel: str) -> str:
    """Where a vendored runtime file (``micropython/micropython.wasm``) or a bundle
    (``python/micropython.bin``) is in the tree: ``micropython/<hash>/micropython.wasm``."""
    sub, _, name = rel.partition("/")
    manifest = tree_manifest()
    if sub == "python":
        bundle = name.removesuffix(BUNDLE_SUFFIX)
        if bundle.endswith(SOURCE_BUNDLE):
            return str(manifest["source"][bundle.removesuffix(SOURCE_BUNDLE)])
        return str(manifest["python"][bundle])
    if sub == "pyscript":
        return f"{manifest['pyscript']}{name}"
    return f"{manifest['interpreters'][sub]['dir']}{name}"


def wire_constants() -> dict[str, Any]:
    """`meshes_bridge.core.wire` as the loader gets it (`WIRE`): each upper-case name, a
    class of constants as an object of its members, with the same names as in Python."""
    found: dict[str, Any] = {}
    for name, value in sorted(vars(wire).items()):
        if not name.isupper() and isinstance(value, type):
            members = {k: v for k, v in sorted(vars(value).items()) if k.isupper()}
            found[name] = members
        elif name.isupper():
            found[name] = value
    return found


def render_loader(runtimes: tuple[str, ...] = RUNTIMES) -> str:
    # Comment lines out: the browser gets the code; the commented text is static/loader.js.
    text = strip_js_comment_lines((runtime_dir() / LOADER).read_text(encoding="utf-8"))
    for placeholder in (TREE_PLACEHOLDER, MAIN_PLACEHOLDER, WIRE_PLACEHOLDER):
        if text.count(placeholder) != 1:
            raise AssetsError(f"loader.js lacks exactly one {placeholder}: {RUNTIME_HINT}")
    main = (runtime_dir() / "main.py").read_text(encoding="utf-8")
    # The wire from the same package as the Python files of this tree: the two agree.
    text = text.replace(WIRE_PLACEHOLDER, json.dumps(wire_constants(), sort_keys=True))
    text = text.replace(TREE_PLACEHOLDER, json.dumps(tree_manifest(runtimes), sort_keys=True))
    return text.replace(MAIN_PLACEHOLDER, json.dumps(slim_python(main)))


def loader_text(runtimes: tuple[str, ...] = RUNTIMES) -> str:
    """loader.js as the tree holds it (the manifest and main.py filled in)."""
    return render_loader(runtimes)


def tree_sources(runtimes: tuple[str, ...] = RUNTIMES) -> dict[str, Path]:
    """Every file of the tree that is a copy of an installed file: relative path in the
    tree -> that file. Lets a web framework serve the tree straight from the installed
    package (`meshes_bridge.server.static_files`)."""
    return dict(_layout(runtimes)[0])


def rendered_files(runtimes: tuple[str, ...] = RUNTIMES) -> dict[str, bytes]:
    """Every file of the tree that is built, not copied: loader.js and the archives."""
    return {**_layout(runtimes)[1], LOADER: loader_text(runtimes).encode("utf-8")}


def is_immutable(rel: str) -> bool:
    """Whether a path of the tree names content that never changes (all but loader.js
    and the marker: their folders are named after their content)."""
    return rel not in (LOADER, MARKER)


def _copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)


def _fill(tree: Path, runtimes: tuple[str, ...]) -> list[str]:
    written: list[str] = []
    for rel, src in tree_sources(runtimes).items():
        _copy(src, tree / rel)
        written.append(rel)
    for rel, data in rendered_files(runtimes).items():
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_bytes(data)
        written.append(rel)
    marker = f"meshes-bridge {__version__}\nruntimes: {' '.join(runtimes)}\n"
    (tree / MARKER).write_text(marker, encoding="utf-8")
    written.append(MARKER)
    return sorted(written)


def is_ours(path: Path) -> bool:
    return (path / MARKER).is_file()


def write_static(dest: str | os.PathLike[str], runtimes: tuple[str, ...] = RUNTIMES) -> list[str]:
    """Write the complete tree into `dest`; returns the relative paths written.

    `runtimes`: the interpreters the tree holds (default both; a page asking for another
    one ends in state `error`, code `boot`). `dest` is created if needed. An existing
    tree of ours is replaced: the new one is built beside it and swapped in, so a web
    server never sees a half-written tree for more than two renames. A non-empty
    directory without our marker is left untouched.
    """
    dest = Path(dest).absolute()
    runtimes = check_runtimes(tuple(runtimes))
    _layout.cache_clear()  # the package's files as they are now
    check_runtime(runtimes)
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
        written = _fill(tmp, runtimes)
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
