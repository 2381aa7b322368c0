"""A broken asset tree is reported on every container, never left `booting` forever."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from e2e.harness import HostPage
from meshes_bridge.testing.doubles.servers import Servers

Serve = Callable[[str, dict[str, bytes | None]], str]


@pytest.fixture
def serve_tree(session_servers: Servers, static_dir: Path) -> Iterator[Serve]:
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


def test_a_broken_bridge_file_is_reported(host: HostPage, serve_tree: Serve) -> None:
    loader = serve_tree("/broken-python/", {"python/meshes_bridge/browser/boot.py": b"def (:\n"})
    host.open(script_attrs={"src": loader}, containers=2)
    host.wait_state("error", index=1)
    host.wait_state("error", index=2)
    errors = host.wait_event("error", count=2)
    assert {e["detail"]["code"] for e in errors} == {"boot"}
    assert all("could not start" in e["detail"]["message"] for e in errors)
    assert host.iframe().count() == 0


def test_missing_pyscript_is_reported(host: HostPage, serve_tree: Serve) -> None:
    loader = serve_tree("/no-pyscript/", {"pyscript/core.js": None})
    host.open(script_attrs={"src": loader})
    host.wait_state("error")
    (error,) = host.wait_event("error")
    assert error["detail"]["code"] == "boot"
    assert "core.js" in error["detail"]["message"]


@pytest.mark.parametrize("runtime", ["micropython"])  # Pyodide's patience is 120 s
def test_a_missing_python_file_is_reported(host: HostPage, serve_tree: Serve) -> None:
    loader = serve_tree("/missing-python/", {"python/meshes_bridge/core/session.py": None})
    host.open(script_attrs={"src": loader})
    host.wait_state("error", timeout=60_000)
    (error,) = host.wait_event("error")
    assert error["detail"]["code"] == "boot"
    assert "did not start" in error["detail"]["message"]
