"""A broken asset tree is reported on every container, never left `booting` forever."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from e2e.harness import HostPage
from meshes_bridge import assets
from tests.host.servers import HostServers

Serve = Callable[[str, dict[str, bytes | None]], str]


@pytest.fixture
def serve_tree(session_servers: HostServers, static_dir: Path) -> Iterator[Serve]:
    """Serve a copy of the tree under a prefix, with some files replaced (None: absent)."""
    served: list[str] = []

    def serve(prefix: str, changes: dict[str, bytes | None]) -> str:
        for path in sorted(static_dir.rglob("*")):
            rel = path.relative_to(static_dir).as_posix()
            if not path.is_file():
                continue
            body = changes.get(rel, path.read_bytes())
            if body is not None:
                session_servers.backend.add_file(prefix + rel, body)
                served.append(prefix + rel)
        return prefix + "loader.js"

    yield serve
    for url_path in served:
        session_servers.backend.remove(url_path)


def _tree_path(static_dir: Path, folder: str, name: str) -> str:
    """A file's path in the tree (its folder is named after its content)."""
    (found,) = static_dir.glob(f"{folder}/*/{name}")
    return found.relative_to(static_dir).as_posix()


def _bundle_with(
    static_dir: Path, runtime: str, changes: dict[str, str | None]
) -> dict[str, bytes | None]:
    """The tree's Python bundle for `runtime` with some modules replaced (None: left out),
    named as `meshes_bridge/core/session` (MicroPython's bundle holds their bytecode, .mpy,
    Pyodide's their sources, .py)."""
    rel = _tree_path(static_dir, "python", f"{runtime}.bin")
    files = assets.unpack_bundle((static_dir / rel).read_bytes())
    suffix = ".mpy" if runtime == "micropython" else ".py"
    for module, text in changes.items():
        name = module + suffix
        assert name in files, name
        if text is None:
            del files[name]
        else:
            files[name] = text.encode()
    return {rel: gzip.compress(assets.pack_bundle(files))}


def test_a_broken_bridge_file_is_reported(
    host: HostPage, serve_tree: Serve, static_dir: Path
) -> None:
    changes = _bundle_with(static_dir, host.runtime, {"meshes_bridge/browser/boot": "def (:\n"})
    loader = serve_tree("/broken-python/", changes)
    host.open(script_attrs={"src": loader}, containers=2)
    host.wait_state("error", index=1)
    host.wait_state("error", index=2)
    errors = host.wait_event("error", count=2)
    assert {e["detail"]["code"] for e in errors} == {"boot"}
    assert all("could not start" in e["detail"]["message"] for e in errors)
    assert host.iframe().count() == 0


def test_missing_pyscript_is_reported(host: HostPage, serve_tree: Serve, static_dir: Path) -> None:
    core = assets.tree_manifest()["core"]  # the module the loader imports
    loader = serve_tree("/no-pyscript/", {_tree_path(static_dir, "pyscript", core): None})
    # On MicroPython a hooks module is what makes the bridge need PyScript (hooks may
    # import `pyscript`); PyScript fails before the hooks module is ever asked for.
    hooks = "/no-such-hooks.py" if host.runtime == "micropython" else None
    host.open(script_attrs={"src": loader, "data-hooks": hooks})
    host.wait_state("error")
    (error,) = host.wait_event("error")
    assert error["detail"]["code"] == "boot"
    assert core in error["detail"]["message"]


@pytest.mark.parametrize("runtime", ["micropython"])
def test_micropython_without_hooks_needs_no_pyscript(
    host: HostPage, serve_tree: Serve, static_dir: Path
) -> None:
    pyscript = {
        path.relative_to(static_dir).as_posix(): None
        for path in static_dir.glob("pyscript/*/*")
        if path.is_file()
    }
    assert pyscript
    host.open(script_attrs={"src": serve_tree("/without-pyscript/", pyscript)})
    host.wait_authenticated()
    assert not [r.url for r in host.host_requests() if "/pyscript/" in r.url]
    assert host.errors == []


def test_a_missing_python_file_is_reported(
    host: HostPage, serve_tree: Serve, static_dir: Path
) -> None:
    # A bundle without one module: main.py's import fails and says so at once.
    changes = _bundle_with(static_dir, host.runtime, {"meshes_bridge/core/session": None})
    loader = serve_tree("/missing-python/", changes)
    host.open(script_attrs={"src": loader})
    host.wait_state("error")
    (error,) = host.wait_event("error")
    assert error["detail"]["code"] == "boot"
    assert "could not start" in error["detail"]["message"]
