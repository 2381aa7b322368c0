"""The vendored Pyodide standard library is bytecode for Pyodide's own CPython
(tools/pyodide_stdlib.py, run by tools/vendor.py), and Pyodide loads it as such."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from meshes_bridge import assets

REPO = Path(__file__).resolve().parent.parent
NPM_PYODIDE = REPO / "node_modules" / "pyodide"
VENDORED = assets.runtime_dir() / "pyodide"
STDLIB = "python_stdlib.zip"
UNCHECKED_HASH = 0b01  # a pyc's flags word (PEP 552): hash-based, source not checked

# Pyodide under Node, from the vendored files, says which CPython it is and where a few
# modules came from: some its boot imports, one (email.parser) imported afterwards.
PROBE = r"""
import { pathToFileURL } from "node:url";
let dir = "";  // read as a stream: a sync read of a pipe can fail with EAGAIN
for await (const chunk of process.stdin) dir += chunk;
const { loadPyodide } = await import(pathToFileURL(dir + "/pyodide.mjs").href);
const py = await loadPyodide({ indexURL: dir + "/" });
process.stdout.write(py.runPython(`
import asyncio, email.parser, importlib.util, inspect, json, sys, traceback
try:
    json.loads("{")
except ValueError as e:
    frames = [f.filename for f in traceback.extract_tb(e.__traceback__)]
json.dumps({
    "version": list(sys.version_info[:3]),
    "magic": importlib.util.MAGIC_NUMBER.hex(),
    "origins": [m.__spec__.origin for m in (asyncio, inspect, json, email.parser)],
    "frames": frames,
})
`) + "\n");
"""


def _zip_entries(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {i.filename: z.read(i) for i in z.infolist()}


def _load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "_pyodide_stdlib", REPO / "tools" / "pyodide_stdlib.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def vendored() -> dict[str, bytes]:
    assert (VENDORED / STDLIB).is_file(), "no vendored runtime: run `make runtime`"
    return _zip_entries(VENDORED / STDLIB)


@pytest.fixture(scope="module")
def pyodide_report() -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node not installed: Pyodide cannot run here")
    r = subprocess.run(
        [node, "--input-type=module", "-e", PROBE],
        input=str(VENDORED),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    report: dict[str, Any] = json.loads(r.stdout.strip().splitlines()[-1])
    return report


def test_every_module_is_bytecode_and_the_rest_unchanged(vendored: dict[str, bytes]) -> None:
    npm = _zip_entries(NPM_PYODIDE / STDLIB)
    sources = [name for name in npm if name.endswith(".py")]
    assert len(sources) > 500  # the whole standard library, not a stub
    assert not [name for name in vendored if name.endswith(".py")]
    expected = {name + "c" if name.endswith(".py") else name for name in npm}
    assert set(vendored) == expected
    for name, data in npm.items():
        if not name.endswith(".py"):
            assert vendored[name] == data, name


def test_bytecode_is_for_the_cpython_pyodide_runs(
    vendored: dict[str, bytes], pyodide_report: dict[str, Any]
) -> None:
    magic = bytes.fromhex(pyodide_report["magic"])
    pycs = {name: data for name, data in vendored.items() if name.endswith(".pyc")}
    assert pycs
    for name, data in pycs.items():
        assert data[:4] == magic, name
        assert int.from_bytes(data[4:8], "little") == UNCHECKED_HASH, name
    # The version Pyodide reports is the one its package declares.
    lock = json.loads((NPM_PYODIDE / "pyodide-lock.json").read_text())
    declared = lock["info"]["python"].split(".")[:2]
    assert [str(n) for n in pyodide_report["version"][:2]] == declared


def test_pyodide_imports_the_bytecode(pyodide_report: dict[str, Any]) -> None:
    major, minor = pyodide_report["version"][:2]
    archive = f"/lib/python{major}{minor}.zip/"
    for origin in pyodide_report["origins"]:
        assert origin.startswith(archive) and origin.endswith(".pyc"), origin
    # Code objects name their source file, as when compiled from source.
    stdlib_frames = [f for f in pyodide_report["frames"] if f.startswith(archive)]
    assert stdlib_frames and all(f.endswith(".py") for f in stdlib_frames), stdlib_frames


@pytest.mark.slow
def test_precompiling_again_gives_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deterministic: another run (no cache) writes the vendored zip byte for byte."""
    if shutil.which("node") is None:
        pytest.skip("node not installed: Pyodide cannot run here")
    tool = _load_tool()
    monkeypatch.setattr(tool, "CACHE", tmp_path / "cache")
    out = tmp_path / STDLIB
    tool.precompile(NPM_PYODIDE / STDLIB, out, NPM_PYODIDE)
    assert out.read_bytes() == (VENDORED / STDLIB).read_bytes()


def test_without_node_vendoring_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tool = _load_tool()
    monkeypatch.setattr(tool, "CACHE", tmp_path / "cache")
    monkeypatch.setattr(tool.shutil, "which", lambda name: None)
    with pytest.raises(tool.PrecompileError, match="node is not on PATH"):
        tool.precompile(NPM_PYODIDE / STDLIB, tmp_path / STDLIB, NPM_PYODIDE)
    assert not (tmp_path / STDLIB).exists()


def test_a_vendored_zip_from_the_same_inputs_is_reused_without_node(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh copy of a checkout (the wheel build's) keeps its vendored zip: no Node run."""
    tool = _load_tool()
    monkeypatch.setattr(tool, "CACHE", tmp_path / "cache")
    monkeypatch.setattr(tool.shutil, "which", lambda name: None)
    out = tmp_path / STDLIB
    how = tool.precompile(NPM_PYODIDE / STDLIB, out, NPM_PYODIDE, VENDORED / STDLIB)
    assert how == "reused"
    assert out.read_bytes() == (VENDORED / STDLIB).read_bytes()
