"""Fixtures for the server half's tests: the fake Meshes (management API, stub embed) over
real HTTP, a private redis-server, and settings pointing at them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from e2e.doubles import Servers, start_servers
from meshes_bridge.server import MeshesSettings
from meshes_bridge.testing.processes import RedisServer

#: The host origin the tests' settings allow (no page is served there).
APP_ORIGIN = "http://127.0.0.1:5999"


@pytest.fixture(scope="session")
def meshes_servers() -> Iterator[Servers]:
    """The doubles' four origins (no asset tree), for the whole session."""
    with start_servers(None) as servers:
        yield servers


@pytest.fixture
def meshes(meshes_servers: Servers) -> Iterator[Servers]:
    """The doubles, reset (no sessions, no injected faults, no recorded calls)."""
    meshes_servers.reset()
    yield meshes_servers
    meshes_servers.reset()


@pytest.fixture
def settings(meshes: Servers) -> MeshesSettings:
    """Settings for the fake API, allowing APP_ORIGIN."""
    return MeshesSettings.from_env({**meshes.meshes_env(), "MESHES_ALLOWED_ORIGINS": APP_ORIGIN})


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A private redis-server on a free port for the session (Debian's redis-server)."""
    with RedisServer() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The private Redis, emptied for this test."""
    redis_server.flush()
    return redis_server.url
