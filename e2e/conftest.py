"""Fixtures for the browser tests: one static tree and one set of servers per session,
a fresh browser context and clean doubles per test, each test on both interpreters.

Every page a test opens through `host` carries the strict Content-Security-Policy (see
e2e/harness.py `STRICT_CSP`), and a test that passed still fails if that page reported a
`securitypolicyviolation` (the blocked URI and directive are in the message).

The browser is the test kit's choice (the meshes_bridge pytest plugin extends
`browser_type_launch_args`): Debian's /usr/bin/chromium here, where `playwright install`
cannot download one; `--meshes-chromium PATH` or MESHES_BRIDGE_CHROMIUM picks another."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from e2e.harness import HostPage
from e2e.hostile import EvilEmbedHostile
from e2e.settings import RUNTIMES
from tests.host.servers import HostServers, start_host_servers


@pytest.fixture(scope="session")
def static_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The asset tree, built exactly as a host builds it: `python -m meshes_bridge static DIR`."""
    target = tmp_path_factory.mktemp("static") / "meshes-bridge"
    subprocess.run([sys.executable, "-m", "meshes_bridge", "static", str(target), "-q"], check=True)
    return target


@pytest.fixture(scope="session")
def session_servers(static_dir: Path) -> Iterator[HostServers]:
    with start_host_servers(static_dir, hostile_class=EvilEmbedHostile) as servers:
        yield servers


@pytest.fixture
def servers(session_servers: HostServers) -> Iterator[HostServers]:
    """The running doubles, reset to their defaults for this test."""
    # Reset before too: the previous test's page may have spoken after its teardown.
    session_servers.reset()
    yield session_servers
    session_servers.reset()


@pytest.fixture(params=RUNTIMES)
def runtime(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def host(page: Page, servers: HostServers, runtime: str) -> HostPage:
    return HostPage(page, servers, runtime)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    """After a test using `host` passed: no CSP violation on its page, or it fails."""
    result = yield
    host = getattr(item, "funcargs", {}).get("host")
    if isinstance(host, HostPage):
        host.assert_no_csp_violation()
    return result
