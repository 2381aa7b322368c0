"""Redis Cluster and Sentinel: MESHES_BRIDGE_REDIS_CLUSTER in every place settings are
given, the start-up check that the URL is a cluster node exactly when the flag says so,
a store behind Sentinel that keeps its bindings through a failover, and the Flask and
FastAPI examples on a real 3-node cluster and behind a real Sentinel (through a failover),
two processes of one app sharing bindings, limits and logout. (The store contract itself
runs on the cluster in test_stores.py.)"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis
from redis.sentinel import Sentinel

from meshes_bridge.flask import settings_from_config
from meshes_bridge.server import ConfigurationError, MeshesSettings, RedisStore
from meshes_bridge.server.service import default_store
from meshes_bridge.testing.doubles import Servers
from meshes_bridge.testing.processes import (
    CLUSTER_NODE_ARGS,
    AppProcess,
    RedisClusterServer,
    RedisSentinelServer,
    RedisServer,
    free_cluster_port,
)
from tests.server.test_examples_http import (
    assert_error,
    assert_two_processes_share_bindings_and_limits,
)
from tests.server.test_settings import GOOD
from tests.support import Visitor, start_example, wait_for

CLUSTER = "MESHES_BRIDGE_REDIS_CLUSTER"


# -- the setting ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), ("True", True), ("1", True), ("yes", True), ("false", False), ("0", False)],
)
def test_the_cluster_flag_from_the_environment(raw: str, expected: bool) -> None:
    env = {**GOOD, "MESHES_BRIDGE_REDIS_URL": "redis://127.0.0.1:7000/0", CLUSTER: raw}
    assert MeshesSettings.from_env(env).redis_cluster is expected


def test_the_cluster_flag_is_off_by_default_and_refuses_other_words() -> None:
    assert MeshesSettings.from_env(GOOD).redis_cluster is False
    with pytest.raises(ConfigurationError) as info:
        MeshesSettings.from_env({**GOOD, "MESHES_BRIDGE_REDIS_URL": "redis://x", CLUSTER: "maybe"})
    assert info.value.problems == [f"{CLUSTER} must be true or false, not 'maybe'"]


def test_the_cluster_flag_needs_a_url() -> None:
    with pytest.raises(ConfigurationError) as info:
        MeshesSettings.from_env(GOOD, redis_cluster=True)
    assert info.value.problems == [
        f"{CLUSTER} is true but MESHES_BRIDGE_REDIS_URL is not set: set it to one node of "
        "the cluster"
    ]


def test_the_cluster_flag_in_flask_config_and_django_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = {"MESHES_BRIDGE_REDIS_URL": "redis://127.0.0.1:7000/0"}
    assert settings_from_config({CLUSTER: True, **url}, environ=GOOD).redis_cluster is True
    assert settings_from_config({CLUSTER: "false", **url}, environ=GOOD).redis_cluster is False
    from django.test import override_settings

    from meshes_bridge.django import conf

    for key, value in GOOD.items():
        monkeypatch.setenv(key, value)
    namespaced = {"REDIS_URL": url["MESHES_BRIDGE_REDIS_URL"], "REDIS_CLUSTER": True}
    with override_settings(MESHES_BRIDGE=namespaced):
        conf.reset()
        try:
            assert conf.meshes_settings().redis_cluster is True
        finally:
            conf.reset()
    with override_settings(MESHES_BRIDGE={**namespaced, "REDIS_CLUSTER": "sometimes"}):
        conf.reset()
        try:
            with pytest.raises(ConfigurationError, match="MESHES_BRIDGE_REDIS_CLUSTER must be"):
                conf.meshes_settings()
        finally:
            conf.reset()


# -- the start-up check --------------------------------------------------------------------


def settings_for(url: str, cluster: bool) -> MeshesSettings:
    return MeshesSettings.from_env(GOOD, redis_url=url, redis_cluster=cluster)


def test_a_plain_redis_with_the_cluster_flag_fails_the_start(redis_url: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        default_store(settings_for(redis_url, cluster=True))
    assert "is not a cluster node" in str(info.value)
    assert "MESHES_BRIDGE_REDIS_CLUSTER=false" in str(info.value)


def test_a_cluster_node_without_the_flag_fails_the_start(redis_cluster_url: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        default_store(settings_for(redis_cluster_url, cluster=False))
    assert "names a node of a Redis Cluster" in str(info.value)
    assert "MESHES_BRIDGE_REDIS_CLUSTER=true" in str(info.value)


def test_a_cluster_node_with_the_flag_gives_a_cluster_store(redis_cluster_url: str) -> None:
    store = default_store(settings_for(redis_cluster_url, cluster=True))
    assert isinstance(store, RedisStore)
    sessions = [f"sess_{uuid.uuid4()}" for _ in range(10)]  # keys in many slots
    for session in sessions:
        store.bind(session, "alice", 60)
    assert store.sessions_of("alice") == sorted(sessions)


def test_a_cluster_that_is_not_serving_fails_the_start() -> None:
    # A lone cluster node with no slots assigned answers CLUSTERDOWN to every key.
    with RedisServer(port=free_cluster_port(), extra_args=CLUSTER_NODE_ARGS) as lone:
        with pytest.raises(ConfigurationError) as info:
            default_store(settings_for(lone.url, cluster=True))
    assert "cluster_state:fail" in str(info.value)


def test_an_unreachable_url_fails_the_start_without_its_password() -> None:
    dead = RedisServer()  # a free port that nothing listens on
    url = f"redis://:hunter2@127.0.0.1:{dead.port}/0"
    for cluster in (False, True):
        with pytest.raises(ConfigurationError) as info:
            default_store(settings_for(url, cluster=cluster))
        assert "cannot reach Redis" in str(info.value) and "hunter2" not in str(info.value)
    dead.cleanup()


# -- Sentinel ------------------------------------------------------------------------------


@pytest.fixture
def sentinel() -> Iterator[RedisSentinelServer]:
    """A master, its replica and a Sentinel, for this test (a failover changes them)."""
    with RedisSentinelServer() as servers:
        yield servers


def test_a_store_behind_sentinel_keeps_its_bindings_through_a_failover(
    sentinel: RedisSentinelServer,
) -> None:
    client = Sentinel(sentinel.sentinels, socket_timeout=2).master_for(
        sentinel.service_name, decode_responses=True
    )
    store = RedisStore(client=client)
    before = f"sess_{uuid.uuid4()}"
    store.bind(before, "alice", 60)
    store.begin_logout("alice")
    assert store.hit("mint:alice", 2, 60) is None
    # Written to the replica too before the failover (a failover may lose what is not).
    wait_for(lambda: client.execute_command("WAIT", 1, 1000) == 1, what="the replica's copy")
    old_master = sentinel.master_port()
    new_master = sentinel.failover()
    assert new_master != old_master and new_master == sentinel.replica.port
    # The same store object, through the same Sentinel client, now on the new master.
    wait_for(lambda: _answers(lambda: store.owner(before)) == "alice", what="the new master")
    assert store.sessions_of("alice") == [before]
    assert store.logout_mark("alice") == 1
    assert store.hit("mint:alice", 2, 60) is None
    assert store.hit("mint:alice", 2, 60) is not None  # the limit counted across
    after = f"sess_{uuid.uuid4()}"
    store.bind(after, "alice", 60)
    assert store.sessions_of("alice") == sorted([before, after])
    with redis.Redis("127.0.0.1", new_master, decode_responses=True) as promoted:
        assert promoted.get(f"meshes-bridge:session:{after}") == "alice"


def _answers(read: object) -> object:
    try:
        return read()  # type: ignore[operator]
    except redis.exceptions.RedisError:  # the old master stepping down
        return None


# -- the examples on a real cluster --------------------------------------------------------


@pytest.fixture(scope="module", params=["flask", "fastapi"])
def cluster_examples(
    request: pytest.FixtureRequest, meshes_fake: Servers, redis_cluster: RedisClusterServer
) -> Iterator[tuple[AppProcess, AppProcess]]:
    """Two processes of one example app, both on the cluster (each named by another node)."""
    first, second = redis_cluster.nodes[0].url, redis_cluster.nodes[1].url
    with start_example(
        request.param, meshes_fake, MESHES_BRIDGE_REDIS_URL=first, **{CLUSTER: "true"}
    ) as a:
        with start_example(
            request.param, meshes_fake, MESHES_BRIDGE_REDIS_URL=second, **{CLUSTER: "true"}
        ) as b:
            yield a, b


def test_two_example_processes_on_a_cluster_share_bindings_limits_and_logout(
    cluster_examples: tuple[AppProcess, AppProcess],
    meshes: Servers,
    redis_cluster: RedisClusterServer,
) -> None:
    redis_cluster.flush()
    app, second = cluster_examples
    assert_two_processes_share_bindings_and_limits(app, second, meshes)
    for process in (app, second):
        assert "CROSSSLOT" not in process.output() and "MOVED" not in process.output()


def test_an_example_refuses_to_start_on_a_cluster_without_the_flag(
    meshes_fake: Servers, redis_cluster: RedisClusterServer
) -> None:
    from meshes_bridge.testing.processes import ProcessStartError

    for framework in ("flask", "fastapi"):
        with pytest.raises(ProcessStartError) as info:
            start_example(framework, meshes_fake, MESHES_BRIDGE_REDIS_URL=redis_cluster.url)
        assert "MESHES_BRIDGE_REDIS_CLUSTER=true" in str(info.value), framework


# -- the examples behind Sentinel ----------------------------------------------------------


@pytest.fixture(params=["flask", "fastapi"])
def sentinel_examples(
    request: pytest.FixtureRequest, meshes_fake: Servers, sentinel: RedisSentinelServer
) -> Iterator[tuple[AppProcess, AppProcess]]:
    """Two processes of one example app, both finding the master through the Sentinel
    (the examples' REDIS_SENTINEL, which gives the adapter a Sentinel-backed RedisStore)."""
    ((host, port),) = sentinel.sentinels
    where = f"{host}:{port}/{sentinel.service_name}"
    with start_example(request.param, meshes_fake, REDIS_SENTINEL=where) as a:
        with start_example(request.param, meshes_fake, REDIS_SENTINEL=where) as b:
            yield a, b


def test_two_example_processes_behind_sentinel_share_bindings_limits_and_logout(
    sentinel_examples: tuple[AppProcess, AppProcess],
    meshes: Servers,
    sentinel: RedisSentinelServer,
) -> None:
    app, second = sentinel_examples
    assert_two_processes_share_bindings_and_limits(app, second, meshes)
    # A failover between a mint on one process and a refresh on the other keeps the binding,
    # and the logout after it still finds the session.
    with Visitor(app) as on_a, Visitor(second) as on_b:
        on_a.login("bob")
        on_b.login("bob")
        session_id = on_a.mint().json()["session_id"]
        # On the replica before the failover (one that promotes a replica without it is
        # Redis' own caveat, in the docs, not what this test is about).
        with redis.Redis("127.0.0.1", sentinel.replica.port, decode_responses=True) as replica:
            binding = f"meshes-bridge:session:{session_id}"
            wait_for(lambda: replica.get(binding) == "bob", timeout=20, what="the replica's copy")
        old_master = sentinel.master_port()
        assert sentinel.failover() != old_master
        wait_for(
            lambda: on_b.refresh(session_id).status_code == 200,
            timeout=20,
            what="a refresh through the promoted master",
        )
        with Visitor(second) as alice:
            alice.login("alice")
            assert_error(alice.refresh(session_id), 404, "not-found")
        assert on_b.logout().status_code in (302, 303)
    assert session_id in meshes.api.revoked_ids()
    for process in (app, second):
        assert process.running, process.output()
