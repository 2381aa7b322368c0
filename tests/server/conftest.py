"""Fixtures for the server half's tests: a private redis-server (and a private Redis
Cluster) and settings pointing at the fake Meshes. The fake itself (management API, stub
embed, over real HTTP) comes from the test kit's pytest plugin: `meshes_fake` (session)
and `meshes` (reset per test).

Django is configured here, before pytest-django sets it up, with the tests' project
(`django_project`); its `settings` fixture is shadowed here by the MeshesSettings one,
so the Django tests take it by another name (`test_django_adapter.settings`)."""

from __future__ import annotations

from collections.abc import Iterator

import django
import pytest
from django.conf import settings as django_settings

from meshes_bridge.server import MeshesSettings
from meshes_bridge.testing.doubles import Servers
from meshes_bridge.testing.processes import RedisClusterServer, RedisServer


def pytest_configure() -> None:
    """The tests' Django project, as pytest-django's docs configure one in code. Set up
    here too: under ``pytest tests`` this conftest loads during collection, after
    pytest-django's own set-up has looked for settings and found none."""
    if not django_settings.configured:
        import django_project

        django_settings.configure(**django_project.SETTINGS)
        django.setup()


#: The host origin the tests' settings allow (no page is served there).
APP_ORIGIN = "http://127.0.0.1:5999"


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


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisClusterServer]:
    """A private 3-node Redis Cluster on free loopback ports for the session."""
    with RedisClusterServer() as cluster:
        yield cluster


@pytest.fixture
def redis_cluster_url(redis_cluster: RedisClusterServer) -> str:
    """One node of the private Redis Cluster (every node emptied for this test)."""
    redis_cluster.flush()
    return redis_cluster.url
