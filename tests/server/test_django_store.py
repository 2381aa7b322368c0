"""What only `DjangoCacheStore` promises (the `BindingStore` contract it shares with the
other stores is test_stores.py's): keys memcached accepts, session slots never overwritten,
a rate check whose cost does not grow with the limit (and still allows exactly `limit` a
window, across racing stores and across OS processes), and the logout mark. Only cache
objects are built here: the tests' Django settings are not read.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from django_project import MemcachedLikeCache

from meshes_bridge.django.store import DjangoCacheStore
from meshes_bridge.server.stores import LOGOUT_MARK_TTL, BindingStore
from meshes_bridge.testing.processes import RedisServer


class CountingCache(LocMemCache):
    """A LocMemCache counting the calls a store makes and the keys it reads."""

    def __init__(self, name: str) -> None:
        super().__init__(name, {})
        self.calls = 0
        self.keys_read = 0

    def reset_counts(self) -> None:
        self.calls = self.keys_read = 0

    def get(self, key: Any, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        self.keys_read += 1
        return super().get(key, *args, **kwargs)

    def get_many(self, keys: Any, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        self.keys_read += len(keys)
        return super().get_many(keys, *args, **kwargs)

    def add(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return super().add(*args, **kwargs)

    def set(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return super().set(*args, **kwargs)

    def incr(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return super().incr(*args, **kwargs)

    def touch(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return super().touch(*args, **kwargs)


class Clock:
    """An injected clock: `now` moves only when the test says so."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["locmem", "redis"])
def new_cache(request: pytest.FixtureRequest) -> Iterator[Callable[[], Any]]:
    """Makes cache objects over one empty storage, one for each "process" (LocMemCache
    objects of one name share their storage; RedisCache ones their server)."""
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        server.flush()
        yield lambda: RedisCache(server.url, {})
        return
    name = f"meshes-bridge-store-{request.node.name}"
    LocMemCache(name, {}).clear()
    yield lambda: LocMemCache(name, {})
    LocMemCache(name, {}).clear()


# -- keys ------------------------------------------------------------------------------------


def test_an_id_ending_in_a_newline_is_a_key_memcached_accepts() -> None:
    # `$` matches before a final newline: such an id must be hashed like any other
    # unplain one, or memcached refuses the key (InvalidCacheKey: a 500 on refresh).
    cache = MemcachedLikeCache("meshes-bridge-memcached-like", {})
    cache.clear()
    store = DjangoCacheStore(cache)
    assert store.owner("abc\n") is None
    store.bind("abc\n", "alice\n", 60)
    assert store.owner("abc\n") == "alice\n"
    assert store.owner("abc") is None
    assert store.sessions_of("alice\n") == ["abc\n"]
    assert store.sessions_of("alice") == []
    assert store.hit("mint:alice\n", 1, 60) is None
    store.begin_logout("alice\n")
    assert store.logout_mark("alice\n") != 0
    store.unbind("abc\n")
    assert store.owner("abc\n") is None


def test_keys_memcached_refuses_are_hashed_and_kept_apart() -> None:
    cache = MemcachedLikeCache("meshes-bridge-memcached-like", {})
    cache.clear()
    store = DjangoCacheStore(cache)
    odd = "user with spaces " + "x" * 300
    store.bind("sess id with spaces", odd, 60)
    store.bind("sess_plain", "user with spaces", 60)
    assert store.owner("sess id with spaces") == odd
    assert store.sessions_of(odd) == ["sess id with spaces"]
    assert store.sessions_of("user with spaces") == ["sess_plain"]


def test_a_live_slot_is_never_overwritten_after_the_counter_is_lost() -> None:
    cache = LocMemCache("meshes-bridge-lost-counter", {})
    cache.clear()
    store = DjangoCacheStore(cache)
    store.bind("sess_a", "alice", 60)
    cache.delete("meshes-bridge:user:alice:n")  # an eviction, a restart of the count
    store.bind("sess_b", "alice", 60)
    assert store.sessions_of("alice") == ["sess_a", "sess_b"]


# -- rate limits -------------------------------------------------------------------------------


def check_costs(limit: int, checks: int) -> list[tuple[int, int, bool]]:
    """(calls, keys read, allowed) of each of `checks` checks at `limit`, one a second."""
    cache = CountingCache(f"meshes-bridge-cost-{limit}")
    cache.clear()
    clock = Clock()
    store = DjangoCacheStore(cache, clock=clock)
    costs = []
    for _ in range(checks):
        cache.reset_counts()
        allowed = store.hit("mint:alice", limit, 60) is None
        costs.append((cache.calls, cache.keys_read, allowed))
        clock.now += 1
    return costs


def test_a_rate_check_costs_the_same_whatever_the_limit() -> None:
    # Counted, not timed: the old store read every one of `limit` keys on each check.
    allowed = check_costs(10, 10)
    assert allowed == check_costs(100_000, 10)
    assert all(ok and calls <= 4 and keys <= 2 for calls, keys, ok in allowed)
    refused = check_costs(10, 15)[10:]  # the window is full
    assert all(not ok and calls <= 4 and keys <= 2 for calls, keys, ok in refused)


def test_the_limit_slides_with_an_injected_clock(new_cache: Callable[[], Any]) -> None:
    clock = Clock()
    store = DjangoCacheStore(new_cache(), clock=clock)
    other = DjangoCacheStore(new_cache(), clock=clock)  # another process, same storage
    start = clock.now
    for second in range(3):
        clock.now = start + second
        assert (store if second % 2 else other).hit("mint:alice", 3, 60) is None
    clock.now = start + 10
    assert store.hit("mint:alice", 3, 60) == pytest.approx(50)  # the first leaves at +60
    assert other.hit("mint:alice", 3, 60) == pytest.approx(50)  # refused: not counted
    assert store.hit("mint:bob", 3, 60) is None  # per bucket
    clock.now = start + 60
    assert other.hit("mint:alice", 3, 60) is None  # the first request left the window
    assert store.hit("mint:alice", 3, 60) == pytest.approx(1)  # the second leaves at +61
    clock.now = start + 61.5
    assert store.hit("mint:alice", 3, 60) is None
    assert store.hit("mint:alice", 3, 60) == pytest.approx(0.5)


def test_racing_stores_allow_exactly_the_limit(new_cache: Callable[[], Any]) -> None:
    clock = Clock()
    threads, attempts, limit = 8, 10, 10
    barrier = threading.Barrier(threads)
    allowed: list[int] = []
    refusals: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        store = DjangoCacheStore(new_cache(), clock=clock)
        barrier.wait(timeout=10)
        answers = [store.hit("mint:alice", limit, 60) for _ in range(attempts)]
        with lock:
            allowed.append(sum(answer is None for answer in answers))
            refusals.extend(answer for answer in answers if answer is not None)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=60)
    assert len(allowed) == threads
    assert sum(allowed) == limit
    assert all(retry > 0 for retry in refusals)


# -- logout marks ------------------------------------------------------------------------------


def test_a_logout_changes_the_mark_every_process_sees(new_cache: Callable[[], Any]) -> None:
    store, other = DjangoCacheStore(new_cache()), DjangoCacheStore(new_cache())
    assert isinstance(store, BindingStore)
    assert store.logout_mark("alice") == other.logout_mark("alice") == 0
    store.begin_logout("alice")
    first = other.logout_mark("alice")
    assert first != 0 and store.logout_mark("alice") == first
    other.begin_logout("alice")
    second = store.logout_mark("alice")
    assert second not in (0, first)
    assert store.logout_mark("bob") == 0  # per user
    assert other.logout_mark("user with spaces " + "x" * 300) == 0


def test_the_logout_mark_lives_its_ttl(redis_server: RedisServer) -> None:
    redis_server.flush()
    store = DjangoCacheStore(RedisCache(redis_server.url, {}))
    store.begin_logout("alice")
    with redis.Redis.from_url(redis_server.url) as raw:
        (key,) = raw.keys("*meshes-bridge:logout:alice")
        assert LOGOUT_MARK_TTL - 5 <= raw.ttl(key) <= LOGOUT_MARK_TTL


def test_a_lost_mark_comes_back_different() -> None:
    # An evicted mark created again must not read as the value a mint saw before it.
    cache = LocMemCache("meshes-bridge-lost-mark", {})
    cache.clear()
    store = DjangoCacheStore(cache)
    marks = set()
    for _ in range(20):
        store.begin_logout("alice")
        marks.add(store.logout_mark("alice"))
        cache.delete("meshes-bridge:logout:alice")
    assert len(marks) > 1 and 0 not in marks


# -- across OS processes ---------------------------------------------------------------------

WORKER = textwrap.dedent(
    """
    import json, sys
    import django
    from django.conf import settings

    url, role = sys.argv[1], sys.argv[2]
    settings.configure(CACHES={"default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}})
    django.setup()
    import redis
    from meshes_bridge.django.store import DjangoCacheStore

    store = DjangoCacheStore("default")
    control = redis.Redis.from_url(url)
    print("ready", flush=True)
    # BLPOP blocks until the test says go (one item per worker): both start together.
    if control.blpop(["test:go"], timeout=30) is None:
        sys.exit("no go signal")
    if role == "bind":
        store.bind("sess_shared", "alice", 60)
        control.rpush("test:bound", 1)
    elif control.blpop(["test:bound"], timeout=30) is None:
        sys.exit("never bound")
    allowed = sum(store.hit("mint:alice", 10, 60) is None for _ in range(8))
    print(json.dumps({"allowed": allowed, "owner": store.owner("sess_shared"),
                      "sessions": store.sessions_of("alice")}))
    """
)


def test_two_processes_share_one_binding_and_one_limit(redis_server: RedisServer) -> None:
    redis_server.flush()
    control = redis.Redis.from_url(redis_server.url)
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, redis_server.url, role],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for role in ("bind", "read")
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None
            assert worker.stdout.readline().strip() == "ready", worker.communicate()[1]
        control.rpush("test:go", 1, 1)  # one go for each worker
        outputs = [w.communicate(timeout=60) for w in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
        control.close()
    results = []
    for (out, err), worker in zip(outputs, workers, strict=True):
        assert worker.returncode == 0, err
        results.append(json.loads(out))
    # 16 hits at one limit of 10 a minute: exactly 10 allowed across both processes.
    assert sum(r["allowed"] for r in results) == 10
    for result in results:
        assert result["owner"] == "alice"
        assert result["sessions"] == ["sess_shared"]
    assert DjangoCacheStore(RedisCache(redis_server.url, {})).owner("sess_shared") == "alice"
