"""Nothing is loaded from anywhere else (host interface 1 and 3): during a full pass the
browser talks to the host origin and the embed origin only, the bridge's runtime comes
from its own tree on the host, and that tree works under any URL prefix."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from e2e.harness import HostPage, SeenRequest, origin_of
from meshes_bridge import assets
from tests.host.pages import (
    LOADER_URL,
    REFRESH_PATH,
    SESSION_PATH,
    STATIC_PREFIX,
)
from tests.host.servers import HostServers

OTHER_PREFIX = "/assets/vendor/mb-2/"
RUNTIME_SUFFIXES = (".js", ".mjs", ".wasm", ".py", ".zip", ".json", ".css", ".whl", ".bin")

# PyScript's module the loader imports (the chunk core.js re-exports).
CORE = assets.tree_manifest()["core"]
# The files each interpreter cannot start without, relative to the tree's root; `*` is the
# folder named after its content. MicroPython without a hooks module needs no PyScript.
KEY_FILES = {
    "micropython": (
        "loader.js",
        "micropython/*/micropython.mjs",
        "python/*/micropython.bin",
    ),
    "pyodide": ("loader.js", "pyscript/*/" + CORE, "pyodide/*/pyodide.mjs", "python/*/pyodide.bin"),
}
KEY_SUFFIXES = {"micropython": (".wasm",), "pyodide": (".wasm", "python_stdlib.zip")}


def _full_pass(host: HostPage) -> None:
    """Auth, a refresh, a navigation and a resize, each waited for."""
    host.wait_authenticated()
    host.wait_event("resize")
    host.stub("askRefresh()")
    host.wait_event("token-refreshed")
    host.servers.transcript.wait_for("token #2 valid")
    host.stub("navigate('events')")
    host.wait_event("navigate")
    host.stub("resize(655)")
    host.page.wait_for_function(
        "() => window.__meshesEvents.some(e => e.name === 'resize' && e.detail.height === 655)"
    )


def _foreign(requests: list[SeenRequest], servers: HostServers) -> list[str]:
    allowed = {servers.host_url, servers.embed_url}
    return [r.url for r in requests if origin_of(r.url) not in allowed]


def _host_paths(host: HostPage) -> list[str]:
    host_url = host.servers.host_url
    return [urlsplit(r.url).path for r in host.requests if origin_of(r.url) == host_url]


def _check_runtime_files(host: HostPage, prefix: str) -> None:
    """Every runtime file the host origin served came from `prefix`, and the key files of
    this interpreter were among them."""
    page_path = urlsplit(host.url).path
    ours = {page_path, SESSION_PATH, "/favicon.ico"}
    refresh_head = REFRESH_PATH.split("{")[0]
    paths = _host_paths(host)
    strays = [
        p
        for p in paths
        if p not in ours
        and not p.startswith(prefix)
        and not (p.startswith(refresh_head) and p.endswith("/refresh"))
    ]
    assert strays == []
    runtime_files = [p for p in paths if p.endswith(RUNTIME_SUFFIXES)]
    assert runtime_files and all(p.startswith(prefix) for p in runtime_files)
    for rel in KEY_FILES[host.runtime]:
        pattern = re.escape(prefix + rel).replace(r"\*", "[0-9a-f]{12}")
        assert any(re.fullmatch(pattern, p) for p in paths), f"{rel} was not loaded from {prefix}"
    for suffix in KEY_SUFFIXES[host.runtime]:
        assert any(p.startswith(prefix) and p.endswith(suffix) for p in paths), suffix


def test_full_pass_talks_to_host_and_embed_only(host: HostPage) -> None:
    host.open()
    _full_pass(host)
    assert _foreign(host.requests, host.servers) == []
    _check_runtime_files(host, STATIC_PREFIX)
    if host.runtime == "micropython":
        # Nothing of PyScript's is fetched when nothing needs it (no hooks module).
        assert not [r.url for r in host.host_requests() if "/pyscript/" in r.url]
    # The host page itself asks the embed origin for nothing but the iframe's document.
    embed_from_host = [
        r.url
        for r in host.host_requests()
        if origin_of(r.url) == host.servers.embed_url and "/workspace/" not in r.url
    ]
    assert embed_from_host == []
    assert host.errors == []


@pytest.fixture(scope="module")
def other_prefix(session_servers: HostServers, static_dir: Path) -> Iterator[str]:
    """The very same asset tree served again under OTHER_PREFIX on the host origin."""
    paths = []
    for path in sorted(static_dir.rglob("*")):
        if path.is_file():
            url_path = OTHER_PREFIX + path.relative_to(static_dir).as_posix()
            session_servers.backend.add_file(url_path, path.read_bytes())
            paths.append(url_path)
    yield OTHER_PREFIX
    for url_path in paths:
        session_servers.backend.remove(url_path)


def test_tree_works_under_another_prefix(host: HostPage, other_prefix: str) -> None:
    assert other_prefix + "loader.js" != LOADER_URL
    host.open(script_attrs={"src": other_prefix + "loader.js"})
    _full_pass(host)
    assert _foreign(host.requests, host.servers) == []
    # Not one file from the usual place (which is still served, so a stray absolute
    # path would not have failed on its own).
    assert [p for p in _host_paths(host) if p.startswith(STATIC_PREFIX)] == []
    _check_runtime_files(host, other_prefix)
    assert host.errors == []
