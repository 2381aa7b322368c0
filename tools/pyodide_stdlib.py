"""Precompile Pyodide's python_stdlib.zip to bytecode, with Pyodide's own CPython under Node.

Pyodide's npm package ships its standard library as source only, so every cold start
compiled the ~150 modules Pyodide's boot imports (asyncio, inspect, typing, ...) in
WebAssembly: most of its start-up time. The zip written here holds a `.pyc` in place of
each `.py`, which zipimport loads as it is.

- Compiled by the exact CPython Pyodide runs (its wasm, under Node), so the magic number
  and the bytecode are the ones it expects, whatever Python runs this script.
- Unchecked-hash pycs: zipimport loads them without a source to compare against, and they
  carry no timestamp. With a fixed hash seed and the input entries' own dates, order and
  modes, the output is byte-for-byte the same on every run and machine.
- No sources kept: they would more than double the download (the zip goes out as it is,
  already deflated), and a stdlib frame in a traceback then shows its file and line but
  not the line's text. The code's file names are those compiling from source gives
  (`/lib/python314.zip/...`). Column positions are left out (PYTHONNODEBUGRANGES): they only
  place the `^^^` markers under a source line, which is not there.

Everything that decides the result (the source zip, Pyodide's wasm, the code below) is
hashed into a key, which the zip's comment records. `precompile()` reuses a zip with the
same key, the one in build/vendor-cache/ or the one already vendored (a wheel built from
a fresh copy of a checkout), so re-vendoring is quick when nothing changed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

CACHE = Path(__file__).resolve().parent.parent / "build" / "vendor-cache"
# Node runs Pyodide; the job (paths, the Python below) comes as JSON on stdin.
NODE_SCRIPT = r"""
import fs from "node:fs";
import { pathToFileURL } from "node:url";
let input = "";  // read as a stream: a sync read of a pipe can fail with EAGAIN
for await (const chunk of process.stdin) input += chunk;
const job = JSON.parse(input);
const { loadPyodide } = await import(pathToFileURL(job.pyodide_dir + "/pyodide.mjs").href);
const py = await loadPyodide({
  indexURL: job.pyodide_dir + "/",
  env: { PYTHONHASHSEED: "0", PYTHONNODEBUGRANGES: "1" },
  stdout: (line) => process.stderr.write(line + "\n"),
  stderr: (line) => process.stderr.write(line + "\n"),
});
py.FS.writeFile("/tmp/stdlib-in.zip", fs.readFileSync(job.src));
py.globals.set("COMPILE_ARGS", py.toPy(["/tmp/stdlib-in.zip", "/tmp/stdlib-out.zip", job.comment]));
const count = py.runPython(job.python);
fs.writeFileSync(job.dest, py.FS.readFile("/tmp/stdlib-out.zip"));
process.stdout.write(JSON.stringify({ compiled: count }) + "\n");
"""
# Run inside Pyodide: every .py of the zip replaced by its .pyc, everything else as it is.
COMPILE_PY = r"""
def _precompile(src, dest, comment):
    import os, py_compile, sys, zipfile

    assert sys.flags.optimize == 0 and not sys.flags.hash_randomization, sys.flags
    assert all(c is None for _, _, c, _ in compile("x", "", "eval").co_positions())
    (archive,) = [p for p in sys.path if p.endswith(".zip")]  # where Pyodide puts this zip
    work = "/tmp/stdlib-pyc"
    os.makedirs(work, exist_ok=True)
    source, pyc = work + "/module.py", work + "/module.pyc"
    count = 0
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w") as zout:
        zout.comment = comment.encode()
        for info in zin.infolist():
            data = zin.read(info)
            if not info.filename.endswith(".py"):
                zout.writestr(info, data, compresslevel=9)
                continue
            with open(source, "wb") as f:
                f.write(data)
            py_compile.compile(
                source,
                cfile=pyc,
                dfile=f"{archive}/{info.filename}",
                doraise=True,
                invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
            )
            out = zipfile.ZipInfo(info.filename + "c", info.date_time)
            out.compress_type = info.compress_type
            out.external_attr = info.external_attr
            out.create_system = info.create_system
            with open(pyc, "rb") as f:
                zout.writestr(out, f.read(), compresslevel=9)
            count += 1
    return count


_precompile(*COMPILE_ARGS)
"""


class PrecompileError(RuntimeError):
    """Node is missing, or Pyodide could not compile the zip."""


def _cache_key(src: Path, pyodide_dir: Path) -> str:
    h = hashlib.sha256()
    for part in (
        src.read_bytes(),
        (pyodide_dir / "pyodide.asm.wasm").read_bytes(),
        NODE_SCRIPT.encode(),
        COMPILE_PY.encode(),
    ):
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()[:24]


def _comment(key: str) -> str:
    return f"meshes-bridge: bytecode compiled by Pyodide itself, key {key}"


def _has_comment(path: Path, comment: str) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            return z.comment == comment.encode()
    except (OSError, zipfile.BadZipFile):
        return False


def _compile(src: Path, dest: Path, pyodide_dir: Path, comment: str) -> int:
    node = shutil.which("node")
    if node is None:
        raise PrecompileError(
            "node is not on PATH: Node.js 18+ runs Pyodide to precompile python_stdlib.zip"
        )
    job = {
        "pyodide_dir": str(pyodide_dir.resolve()),
        "src": str(src.resolve()),
        "dest": str(dest.resolve()),
        "python": COMPILE_PY,
        "comment": comment,
    }
    r = subprocess.run(
        [node, "--input-type=module", "-e", NODE_SCRIPT],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        timeout=900,
    )
    if r.returncode != 0:
        tail = "\n".join(r.stderr.strip().splitlines()[-15:])
        raise PrecompileError(f"precompiling python_stdlib.zip under Node failed:\n{tail}")
    return int(json.loads(r.stdout.strip().splitlines()[-1])["compiled"])


def precompile(src: Path, dest: Path, pyodide_dir: Path, previous: Path | None = None) -> str:
    """Write to `dest` the zip `src` with each .py replaced by its .pyc, compiled by the
    Pyodide in `pyodide_dir` (an installed `pyodide` npm package). `previous`: an earlier
    result (the vendored zip), reused when it was made from the same inputs. Says which
    happened: "compiled", "cached" or "reused"."""
    key = _cache_key(src, pyodide_dir)
    comment = _comment(key)
    cached = CACHE / f"python_stdlib-{key}.zip"
    how = "cached"
    if not _has_comment(cached, comment):
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(".partial")
        if previous is not None and _has_comment(previous, comment):
            shutil.copyfile(previous, partial)
            how = "reused"
        elif _compile(src, partial, pyodide_dir, comment) == 0:
            raise PrecompileError(f"no .py files in {src}")
        else:
            how = "compiled"
        partial.replace(cached)
        for stale in CACHE.glob("python_stdlib-*.zip"):
            if stale != cached:
                stale.unlink()
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cached, dest)
    return how
