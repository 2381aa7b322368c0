"""Trees written with `meshes-bridge static DIR --runtime micropython|pyodide`: a page on
the runtime the tree holds boots as on the full tree; a page asking for the other one
ends in `error` (code `boot`) at once, with a message naming the --runtime to write."""

from __future__ import annotations

import subprocess
import sys

import pytest

from e2e.harness import HostPage
from tests.host.servers import HostServers

RUNTIME_TREES = ("micropython", "pyodide")
# The refusal comes before anything of the runtime is loaded: no 30 s / 120 s patience.
REFUSED_MS = 10_000


@pytest.fixture(scope="module")
def tree_loaders(
    tmp_path_factory: pytest.TempPathFactory, session_servers: HostServers
) -> dict[str, str]:
    """runtime -> the loader.js URL path of a tree holding only that runtime, built as a
    host builds it and served on the host origin under its own prefix."""
    loaders = {}
    for runtime in RUNTIME_TREES:
        target = tmp_path_factory.mktemp(f"static-{runtime}") / "meshes-bridge"
        subprocess.run(
            [sys.executable, "-m", "meshes_bridge", "static", str(target), "-q"]
            + ["--runtime", runtime],
            check=True,
        )
        prefix = f"/only-{runtime}/"
        for path in sorted(target.rglob("*")):
            if path.is_file():
                rel = path.relative_to(target).as_posix()
                session_servers.backend.add_file(prefix + rel, path.read_bytes())
        loaders[runtime] = prefix + "loader.js"
    return loaders


def _open(host: HostPage, loader: str) -> None:
    host.open(script_attrs={"src": loader}, containers=2)


@pytest.mark.parametrize("runtime", ["micropython"])
def test_a_micropython_tree_boots(host: HostPage, tree_loaders: dict[str, str]) -> None:
    _open(host, tree_loaders["micropython"])
    for index in (1, 2):
        host.wait_authenticated(index)
    # Nothing of Pyodide was asked for.
    assert not [r.url for r in host.requests if "/pyodide/" in r.url]


# The page asks for `runtime` (data-runtime); the tree holds only the other one.
@pytest.mark.parametrize("runtime", ["micropython", "pyodide"])
def test_a_runtime_the_tree_lacks_is_a_boot_error(
    host: HostPage, tree_loaders: dict[str, str], runtime: str
) -> None:
    other = "pyodide" if runtime == "micropython" else "micropython"
    _open(host, tree_loaders[other])
    errors = host.wait_event("error", count=2, timeout=REFUSED_MS)
    assert {e["detail"]["code"] for e in errors} == {"boot"}
    (message,) = {e["detail"]["message"] for e in errors}
    assert f"no {runtime} runtime" in message and f"--runtime {runtime}" in message
    assert f"holds: {other}" in message
    for index in (1, 2):
        host.wait_state("error", index=index, timeout=2_000)
    assert host.iframe(1).count() == 0
    assert any(f"--runtime {runtime}" in line for line in host.console if line.startswith("error"))
    # Nothing of either interpreter was fetched.
    assert not [r.url for r in host.requests if "/micropython/" in r.url or "/pyodide/" in r.url]
