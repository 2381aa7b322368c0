"""A runtime file that cannot be had is reported as `boot` on every container within
seconds, not after the loader's 30 s (MicroPython) / 120 s (Pyodide)
last-resort timeout: PyScript leaves such failures as promises nobody awaits, or for some
of Pyodide's files says nothing at all, and the loader catches both."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from e2e.harness import HostPage
from meshes_bridge import assets
from tests.host.servers import HostServers

# Generous for a loaded 2-core machine; the alternative is 30-120 s.
FAST_MS = 10_000
ABSENT = None
Change = tuple[bytes | None, str | None]  # (new content or ABSENT, Content-Type or None)
Serve = Callable[[dict[str, Change]], str]

# Every bridge error with the page's clock, recorded before any page script runs.
ARRIVALS = """
window.__bootErrors = [];
document.addEventListener("meshes-bridge:error", (e) => {
  window.__bootErrors.push({ at: performance.now(), target: e.target && e.target.id });
});
"""

_prefixes = iter(range(1, 10_000))


@pytest.fixture
def serve_tree(session_servers: HostServers, static_dir: Path) -> Iterator[Serve]:
    """Serve a copy of the tree under a fresh prefix with some files changed; paths are
    as in the vendored runtime (``micropython/micropython.wasm``, ``python/pyodide.bin``),
    found in the tree's content-named folders."""
    served: list[str] = []

    def serve(changes: dict[str, Change]) -> str:
        wanted = {_locate(static_dir, rel): change for rel, change in changes.items()}
        prefix = f"/broken-{next(_prefixes)}/"
        for path in sorted(static_dir.rglob("*")):
            if not path.is_file():
                continue
            rel = path.relative_to(static_dir).as_posix()
            body, content_type = wanted.get(rel, (path.read_bytes(), None))
            if body is ABSENT:
                continue
            session_servers.backend.add_file(prefix + rel, body, content_type)
            served.append(prefix + rel)
        return prefix + "loader.js"

    yield serve
    for url_path in served:
        session_servers.backend.remove(url_path)


def _locate(static_dir: Path, rel: str) -> str:
    """The path in the tree of a vendored file or bundle (its folder is a content hash)."""
    folder, name = rel.split("/")
    (found,) = static_dir.glob(f"{folder}/*/{name}")
    return found.relative_to(static_dir).as_posix()


def _pyscript_chunk(static_dir: Path) -> str:
    (found,) = static_dir.glob("pyscript/*/core-*.js")
    return "pyscript/" + found.name


def _open_broken(host: HostPage, loader: str, hooks: str | None = None) -> float:
    host.page.add_init_script(ARRIVALS)
    started = time.monotonic()
    host.open(script_attrs={"src": loader, "data-hooks": hooks}, containers=2)
    return started


def _assert_reported_fast(host: HostPage, started: float) -> list[dict[str, object]]:
    errors = host.wait_event("error", count=2, timeout=FAST_MS)
    assert time.monotonic() - started < FAST_MS / 1000 + 5  # the page load included
    assert {e["target"] for e in errors} == {"embed-1", "embed-2"}
    assert {e["detail"]["code"] for e in errors} == {"boot"}  # type: ignore[index]
    arrivals = host.page.evaluate("window.__bootErrors")
    assert len(arrivals) == 2 and all(a["at"] < FAST_MS for a in arrivals)
    for index in (1, 2):
        host.wait_state("error", index=index, timeout=2_000)
    assert host.iframe(1).count() == 0 and host.iframe(2).count() == 0
    return errors


def _message(errors: list[dict[str, object]]) -> str:
    messages = {e["detail"]["message"] for e in errors}  # type: ignore[index]
    assert len(messages) == 1
    (message,) = messages
    assert isinstance(message, str)
    return message


def _interpreter(runtime: str) -> tuple[str, str]:
    if runtime == "pyodide":
        return "pyodide/pyodide.mjs", "pyodide/pyodide.asm.wasm"
    return "micropython/micropython.mjs", "micropython/micropython.wasm"


def test_missing_interpreter_module(host: HostPage, serve_tree: Serve) -> None:
    module, _ = _interpreter(host.runtime)
    started = _open_broken(host, serve_tree({module: (ABSENT, None)}))
    message = _message(_assert_reported_fast(host, started))
    assert module.split("/")[1] in message


def test_interpreter_module_with_a_refused_mime_type(
    host: HostPage, serve_tree: Serve, static_dir: Path
) -> None:
    module, _ = _interpreter(host.runtime)
    body = (static_dir / _locate(static_dir, module)).read_bytes()
    started = _open_broken(host, serve_tree({module: (body, "text/plain")}))
    message = _message(_assert_reported_fast(host, started))
    assert module.split("/")[1] in message


def test_missing_wasm(host: HostPage, serve_tree: Serve) -> None:
    _, wasm = _interpreter(host.runtime)
    started = _open_broken(host, serve_tree({wasm: (ABSENT, None)}))
    errors = _assert_reported_fast(host, started)
    message = _message(errors)
    assert "could not load" in message or "failed to load" in message


def test_missing_bridge_python(host: HostPage, serve_tree: Serve) -> None:
    bundle = f"python/{host.runtime}{assets.BUNDLE_SUFFIX}"
    started = _open_broken(host, serve_tree({bundle: (ABSENT, None)}))
    message = _message(_assert_reported_fast(host, started))
    assert bundle.split("/")[1] in message


def test_missing_pyscript_chunk(host: HostPage, serve_tree: Serve, static_dir: Path) -> None:
    chunk = _pyscript_chunk(static_dir)
    # On MicroPython with a hooks module: without one it never asks for PyScript.
    hooks = "/no-such-hooks.py" if host.runtime == "micropython" else None
    started = _open_broken(host, serve_tree({chunk: (ABSENT, None)}), hooks=hooks)
    _assert_reported_fast(host, started)


@pytest.mark.parametrize("runtime", ["pyodide"])
@pytest.mark.parametrize(
    "missing", ["pyodide/pyodide-lock.json", "pyodide/python_stdlib.zip", "pyodide/pyodide.asm.mjs"]
)
def test_missing_pyodide_file(host: HostPage, serve_tree: Serve, missing: str) -> None:
    # Pyodide itself only warns about some of these and then waits forever.
    started = _open_broken(host, serve_tree({missing: (ABSENT, None)}))
    _assert_reported_fast(host, started)


def test_an_early_failure_aborts_the_early_mint(host: HostPage, serve_tree: Serve) -> None:
    """A boot that failed leaves no mint request pending: Python will never take it."""
    host.servers.backend.hang_next("mint", count=2)
    module, _ = _interpreter(host.runtime)
    started = _open_broken(host, serve_tree({module: (ABSENT, None)}))
    _assert_reported_fast(host, started)
    take = "async el => { const r = globalThis[Symbol.for('meshes-bridge.early')](el);"
    take += " return r && await r.response; }"
    for index in (1, 2):
        answer = host.container(index).evaluate(take)
        assert answer == {"status": 0, "text": "", "error": "network error"}


def test_a_host_pages_own_rejection_is_not_a_boot_failure(host: HostPage) -> None:
    """An unhandled rejection of the host page's own (naming none of the tree's URLs)
    changes nothing: the bridge boots as usual."""
    script = "/host-trouble.js"
    host.servers.backend.add_file(
        script, "Promise.reject(new Error('the host page has its own troubles'));\n"
    )
    host.page.add_init_script(ARRIVALS)
    host.open(extra_body=f'<script src="{script}"></script>')
    host.wait_authenticated()
    assert host.page.evaluate("window.__bootErrors") == []
