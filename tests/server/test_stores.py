"""The `BindingStore` contract, run against every store: `MemoryStore` and
`DjangoCacheStore` over a LocMemCache (both on a clock the test moves), `RedisStore` (on a
private redis-server and on a private 3-node Redis Cluster) and `DjangoCacheStore` over
Django's RedisCache, on one Redis and on the cluster (Redis expires keys on its own
clock); then what only Redis promises:
bindings and rate limits shared by separate OS processes, a bind cut between its two
writes, and the earlier key layout read after an upgrade."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import redis
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache, RedisCacheClient

from meshes_bridge.django.store import DjangoCacheStore
from meshes_bridge.server import BindingStore, MemoryStore, RedisStore
from meshes_bridge.server.stores import LOGOUT_MARK_TTL, MEMBER_MARGIN
from meshes_bridge.testing.doubles.fake_meshes import ManualClock
from meshes_bridge.testing.processes import free_port

ALICE, BOB = "alice", "bob"
WINDOW = 1  # seconds: short, so the Redis runs of the window tests stay quick
REDIS_GRACE = 5.0  # how much longer than a TTL Redis may take to drop a key
PROCESS_TIMEOUT = 30.0


def session_id() -> str:
    return f"sess_{uuid.uuid4()}"


@dataclass
class StoreKit:
    """A store under test and how time passes for it: `elapse` moves the store's injected
    clock (instantly) or, for a store Redis expires, waits; `wait_until` does the same for
    up to `seconds` and then says whether `condition` came true (Redis: polled, never one
    fixed sleep)."""

    store: BindingStore
    elapse: Callable[[float], None]
    real_time: bool

    def wait_until(self, condition: Callable[[], bool], seconds: float) -> bool:
        if not self.real_time:
            self.elapse(seconds)
            return condition()
        deadline = time.monotonic() + seconds + REDIS_GRACE
        while not condition():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True


def memory_kit() -> StoreKit:
    clock = ManualClock(start=5_000.0)
    return StoreKit(MemoryStore(clock=clock), clock.advance, real_time=False)


def redis_kit(url: str, prefix: str = "test-bridge", cluster: bool = False) -> StoreKit:
    return StoreKit(RedisStore(url, prefix=prefix, cluster=cluster), time.sleep, real_time=True)


class ClockedLocMemCache(LocMemCache):
    """A LocMemCache whose entries expire on `clock`, not on the wall clock (LocMemCache
    reads `time.time()` when it stores a timeout and when it checks one)."""

    def __init__(self, name: str, clock: Callable[[], float]) -> None:
        super().__init__(name, {})
        self.clock = clock

    def get_backend_timeout(self, timeout: object = None) -> float | None:
        seconds = super().get_backend_timeout(timeout)  # type: ignore[arg-type]
        return None if seconds is None else seconds - time.time() + self.clock()

    def _has_expired(self, key: str) -> bool:
        expires = self._expire_info.get(key, -1)
        return expires is not None and expires <= self.clock()


def django_locmem_kit(name: str) -> StoreKit:
    clock = ManualClock(start=5_000.0)
    cache = ClockedLocMemCache(name, clock)
    cache.clear()
    return StoreKit(DjangoCacheStore(cache, clock=clock), clock.advance, real_time=False)


def django_redis_kit(url: str, cluster: bool = False) -> StoreKit:
    cache = ClusterRedisCache(url, {}) if cluster else RedisCache(url, {})
    return StoreKit(DjangoCacheStore(cache), time.sleep, real_time=True)


class _ClusterCacheClient(RedisCacheClient):
    """Django's Redis cache client with one `RedisCluster` for every key: Django's own
    backend speaks to single servers only, so a Django site on Redis Cluster uses a backend
    that routes each key to its node, as this one does."""

    def __init__(self, servers: list[str], **options: object) -> None:
        super().__init__(servers, **options)
        self._cluster = redis.RedisCluster.from_url(servers[0])

    def get_client(self, key: object = None, *, write: bool = False) -> redis.RedisCluster:
        return self._cluster

    # Django's own versions send one MGET / MSET for keys of several slots.
    def get_many(self, keys: list[str]) -> dict[str, object]:
        values = self._cluster.mget_nonatomic(keys)
        return {
            k: self._serializer.loads(v) for k, v in zip(keys, values, strict=True) if v is not None
        }

    def set_many(self, data: dict[str, object], timeout: int | None) -> None:
        for key, value in data.items():
            self.set(key, value, timeout)


class ClusterRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, object]) -> None:
        super().__init__(server, params)
        self._class = _ClusterCacheClient


@pytest.fixture(
    params=[
        "memory",
        "redis",
        "redis-cluster",
        "django-locmem",
        "django-redis",
        "django-redis-cluster",
    ]
)
def kit(request: pytest.FixtureRequest) -> StoreKit:
    if request.param == "memory":
        return memory_kit()
    if request.param == "django-locmem":
        return django_locmem_kit(f"meshes-bridge-contract-{request.node.name}")
    if request.param == "redis-cluster":
        return redis_kit(request.getfixturevalue("redis_cluster_url"), cluster=True)
    if request.param == "django-redis-cluster":
        return django_redis_kit(request.getfixturevalue("redis_cluster_url"), cluster=True)
    url = request.getfixturevalue("redis_url")
    return redis_kit(url) if request.param == "redis" else django_redis_kit(url)


@pytest.fixture
def raw_redis(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


def bound(store: BindingStore, session: str, user: str) -> Callable[[], bool]:
    return lambda: store.owner(session) == user


def gone(store: BindingStore, session: str) -> Callable[[], bool]:
    return lambda: store.owner(session) is None


def hits(store: BindingStore, bucket: str, count: int, limit: int) -> list[float | None]:
    return [store.hit(bucket, limit, WINDOW) for _ in range(count)]


def allowed(answers: list[float | None]) -> int:
    return sum(answer is None for answer in answers)


def assert_retry_after_in_window(answers: list[float | None]) -> None:
    for answer in answers:
        assert answer is not None and 0 < answer <= WINDOW, answer


# -- bindings ------------------------------------------------------------------------------


def test_both_stores_implement_the_protocol(kit: StoreKit) -> None:
    assert isinstance(kit.store, BindingStore)


def test_bind_owner_unbind(kit: StoreKit) -> None:
    store, session = kit.store, session_id()
    assert store.owner(session) is None
    store.bind(session, ALICE, 60)
    assert store.owner(session) == ALICE
    assert store.sessions_of(ALICE) == [session]
    store.unbind(session)
    assert store.owner(session) is None
    assert store.sessions_of(ALICE) == []
    store.unbind(session)  # again, and an unknown id: nothing happens
    store.unbind(session_id())


def test_sessions_of_lists_every_live_session_of_the_user(kit: StoreKit) -> None:
    sessions = [session_id() for _ in range(3)]
    for session in sessions:
        kit.store.bind(session, ALICE, 60)
    assert sorted(kit.store.sessions_of(ALICE)) == sorted(sessions)
    kit.store.unbind(sessions[1])
    assert sorted(kit.store.sessions_of(ALICE)) == sorted([sessions[0], sessions[2]])


def test_users_are_isolated(kit: StoreKit) -> None:
    store = kit.store
    alices, bobs = session_id(), session_id()
    store.bind(alices, ALICE, 60)
    store.bind(bobs, BOB, 60)
    assert (store.owner(alices), store.owner(bobs)) == (ALICE, BOB)
    assert (store.sessions_of(ALICE), store.sessions_of(BOB)) == ([alices], [bobs])
    assert store.sessions_of("carol") == []
    store.unbind(alices)
    assert store.sessions_of(BOB) == [bobs] and store.owner(bobs) == BOB


def test_a_binding_expires_after_its_ttl(kit: StoreKit) -> None:
    store, session = kit.store, session_id()
    store.bind(session, ALICE, 1)
    assert store.owner(session) == ALICE
    assert kit.wait_until(gone(store, session), 1.01), "the binding outlived its TTL"
    assert store.sessions_of(ALICE) == []


def test_rebinding_extends_the_ttl(kit: StoreKit) -> None:
    store = kit.store
    extended, short = session_id(), session_id()
    store.bind(extended, ALICE, 1)
    store.bind(short, ALICE, 1)
    store.bind(extended, ALICE, 60)  # a refresh binds again
    assert kit.wait_until(gone(store, short), 1.01)
    assert store.owner(extended) == ALICE
    assert store.sessions_of(ALICE) == [extended]


def test_a_short_binding_does_not_shorten_the_users_list(kit: StoreKit) -> None:
    store = kit.store
    long_lived, short = session_id(), session_id()
    store.bind(long_lived, ALICE, 60)
    store.bind(short, ALICE, 1)  # the list of Alice's sessions must outlive this one
    assert kit.wait_until(gone(store, short), 1.01)
    assert store.sessions_of(ALICE) == [long_lived]


# -- the sliding-window limit --------------------------------------------------------------


def test_the_limit_is_exact(kit: StoreKit) -> None:
    answers = hits(kit.store, "mint:alice", 5, limit=3)
    assert answers[:3] == [None, None, None]
    assert_retry_after_in_window(answers[3:])


def test_buckets_are_independent(kit: StoreKit) -> None:
    hits(kit.store, "mint:alice", 3, limit=3)
    assert kit.store.hit("mint:bob", 3, WINDOW) is None
    assert kit.store.hit("refresh:alice", 3, WINDOW) is None
    assert kit.store.hit("mint:alice", 3, WINDOW) is not None


def test_refused_requests_are_not_counted(kit: StoreKit) -> None:
    store = kit.store
    assert allowed(hits(store, "b", 3, limit=3)) == 3
    kit.elapse(0.3 * WINDOW)
    refused = hits(store, "b", 5, limit=3)
    assert allowed(refused) == 0
    assert_retry_after_in_window(refused)
    wait = max(a for a in refused if a is not None)
    kit.elapse(wait + 0.05)  # the first three have left; refused ones would still be in
    answers = hits(store, "b", 4, limit=3)
    assert answers[:3] == [None, None, None] and answers[3] is not None


def test_retry_after_is_when_the_oldest_request_leaves(kit: StoreKit) -> None:
    store = kit.store
    hits(store, "b", 2, limit=2)
    first = store.hit("b", 2, WINDOW)
    kit.elapse(0.4 * WINDOW)
    later = store.hit("b", 2, WINDOW)
    assert first is not None and later is not None
    assert 0 < later < first <= WINDOW
    if not kit.real_time:  # how much earlier only on a clock the test moves, not Redis'
        assert first - later == pytest.approx(0.4 * WINDOW)


def test_a_logout_changes_the_users_logout_mark_only(kit: StoreKit) -> None:
    store = kit.store
    assert store.logout_mark(ALICE) == store.logout_mark(BOB) == 0
    store.begin_logout(ALICE)
    first = store.logout_mark(ALICE)
    assert first != 0 and store.logout_mark(BOB) == 0
    store.begin_logout(ALICE)
    assert store.logout_mark(ALICE) not in (0, first)


def test_idle_memory_buckets_are_dropped() -> None:
    clock = ManualClock(start=0.0)
    store = MemoryStore(clock=clock)
    for user in range(10_001):
        store.hit(f"mint:{user}", 10, 60)
    clock.advance(61)
    store.hit("mint:latecomer", 10, 60)
    assert len(store._hits) == 1  # only the bucket with a request in the window is kept


# -- Redis only ----------------------------------------------------------------------------


def test_prefixes_isolate_apps_sharing_one_redis(redis_url: str) -> None:
    app_a, app_b = RedisStore(redis_url, prefix="app-a"), RedisStore(redis_url, prefix="app-b")
    session = session_id()
    app_a.bind(session, ALICE, 60)
    assert app_b.owner(session) is None and app_b.sessions_of(ALICE) == []
    app_b.bind(session, BOB, 60)
    assert (app_a.owner(session), app_b.owner(session)) == (ALICE, BOB)
    app_b.unbind(session)
    assert app_a.owner(session) == ALICE
    assert allowed([app_a.hit("mint:alice", 2, 60) for _ in range(3)]) == 2
    assert allowed([app_b.hit("mint:alice", 2, 60) for _ in range(3)]) == 2


def test_redis_keys_carry_the_prefix_and_expire(redis_url: str, raw_redis: redis.Redis) -> None:
    store = RedisStore(redis_url, prefix="app-a")
    store.bind(session_id(), ALICE, 60)
    store.hit("mint:alice", 10, 60)
    keys = raw_redis.keys("*")
    assert keys and all(key.startswith("app-a:") for key in keys)
    assert all(0 < raw_redis.ttl(key) <= 61 + MEMBER_MARGIN for key in keys)  # none forever
    store.begin_logout(ALICE)
    assert 0 < raw_redis.ttl("app-a:logout:alice") <= LOGOUT_MARK_TTL


def test_a_dead_redis_is_an_error_at_every_use() -> None:
    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0")
    for use in (
        lambda: store.owner("sess_x"),
        lambda: store.bind("sess_x", ALICE, 60),
        lambda: store.hit("mint:alice", 10, 60),
    ):
        with pytest.raises(redis.exceptions.ConnectionError):
            use()


# -- Redis Cluster, a bind cut in half, the earlier layout ------------------------------------


@pytest.fixture(params=["redis", "redis-cluster"])
def any_redis(request: pytest.FixtureRequest) -> RedisStore:
    if request.param == "redis":
        return RedisStore(request.getfixturevalue("redis_url"), prefix="app-a")
    return RedisStore(request.getfixturevalue("redis_cluster_url"), prefix="app-a", cluster=True)


class Killed(Exception):
    """The process 'dies' here."""


def test_a_bind_killed_between_its_two_writes_leaves_nothing_logout_would_miss(
    any_redis: RedisStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, handed_out, cut = any_redis, session_id(), session_id()
    store.bind(handed_out, ALICE, 60)

    def die(*args: object, **kwargs: object) -> None:
        raise Killed

    with monkeypatch.context() as patched:
        patched.setattr(store._redis, "set", die)  # the second write: the binding
        with pytest.raises(Killed):
            store.bind(cut, ALICE, 60)
    # The cut session was never handed out (bind raised), has no owner, and the member
    # it left behind is harmless: logout lists only live bindings.
    assert store.owner(cut) is None
    assert store.sessions_of(ALICE) == [handed_out]
    # Whatever a crash leaves, every binding is in its user's set: logout finds it.
    store.add_member(cut, ALICE, 60)  # the first half alone, as a process dying there
    store.bind(cut, ALICE, 60)  # a later bind of the same session completes it
    assert sorted(store.sessions_of(ALICE)) == sorted([handed_out, cut])


def test_unbind_drops_the_binding_first(
    any_redis: RedisStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, session = any_redis, session_id()
    store.bind(session, ALICE, 60)

    def die(*args: object, **kwargs: object) -> None:
        raise Killed

    with monkeypatch.context() as patched:
        patched.setattr(store._redis, "zrem", die)  # dies after deleting the binding
        with pytest.raises(Killed):
            store.unbind(session)
    assert store.owner(session) is None  # the owner check never answers for it
    assert store.sessions_of(ALICE) == []


def test_each_redis_command_touches_one_slot(redis_cluster_url: str) -> None:
    # Users and sessions whose keys hash to different slots: a CROSSSLOT error would show.
    store = RedisStore(redis_cluster_url, cluster=True)
    users = [f"user-{n}" for n in range(20)]
    sessions = {user: [session_id() for _ in range(3)] for user in users}
    for user, ids in sessions.items():
        for session in ids:
            store.bind(session, user, 60)
    for user, ids in sessions.items():
        assert store.sessions_of(user) == sorted(ids)
        store.begin_logout(user)
        assert store.logout_mark(user) == 1
        for session in ids:
            store.unbind(session)
        assert store.sessions_of(user) == []


#: What the store wrote before it ran on Redis Cluster: one script, two keys.
EARLIER_BIND_LUA = """
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
redis.call('SADD', KEYS[2], ARGV[2])
if redis.call('TTL', KEYS[2]) < tonumber(ARGV[3]) then
  redis.call('EXPIRE', KEYS[2], ARGV[3])
end
return 1
"""


def test_bindings_of_the_earlier_layout_are_found_after_an_upgrade(
    redis_url: str, raw_redis: redis.Redis
) -> None:
    before, gone_since, after = session_id(), session_id(), session_id()
    for session in (before, gone_since):
        raw_redis.eval(
            EARLIER_BIND_LUA, 2, f"app-a:session:{session}", "app-a:user:alice", ALICE, session, 60
        )
    raw_redis.delete(f"app-a:session:{gone_since}")  # expired before the upgrade
    store = RedisStore(redis_url, prefix="app-a")
    store.bind(after, ALICE, 60)
    assert store.owner(before) == ALICE
    assert store.sessions_of(ALICE) == sorted([before, after])  # logout revokes both
    assert raw_redis.smembers("app-a:user:alice") == {before}  # the stale one swept
    store.unbind(before)
    assert store.sessions_of(ALICE) == [after]
    assert not raw_redis.exists("app-a:user:alice")


# -- across OS processes -------------------------------------------------------------------

PROCESS_PRELUDE = """
import sys
import redis
from meshes_bridge.server.stores import RedisStore
url = sys.argv[1]
store = RedisStore(url, prefix="shared")
"""

BIND_IN_PROCESS = PROCESS_PRELUDE + "store.bind(sys.argv[2], sys.argv[3], 60)\nprint('bound')"

READ_IN_PROCESS = PROCESS_PRELUDE + "print(store.owner(sys.argv[2]), store.sessions_of('alice'))"

#: Warm up, say "ready", block on the test's go signal (a Redis list), then 6 hits at once.
HIT_IN_PROCESS = (
    PROCESS_PRELUDE
    + """
store.ping()
store.hit("warm-up", 1000, 60)
signal = redis.Redis.from_url(url)
print("ready", flush=True)
if signal.blpop(["test:go"], timeout=20) is None:  # blocks until the test says go
    sys.exit("no go signal")
print(sum(store.hit("mint:alice", 10, 60) is None for _ in range(6)), flush=True)
"""
)


def python(code: str, *args: str) -> list[str]:
    """The argv of a separate Python process running `code` with `args`."""
    return [sys.executable, "-c", code, *args]


def run_in_another_process(code: str, *args: str) -> str:
    done = subprocess.run(
        python(code, *args), capture_output=True, text=True, timeout=PROCESS_TIMEOUT
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_binding_made_in_one_process_is_seen_in_another(redis_url: str) -> None:
    session = session_id()
    assert run_in_another_process(BIND_IN_PROCESS, redis_url, session, ALICE) == "bound"
    seen = run_in_another_process(READ_IN_PROCESS, redis_url, session)
    assert seen == f"alice ['{session}']"
    assert RedisStore(redis_url, prefix="shared").owner(session) == ALICE  # and in this one


def test_two_processes_share_one_rate_limit(redis_url: str, raw_redis: redis.Redis) -> None:
    workers = [
        subprocess.Popen(
            python(HIT_IN_PROCESS, redis_url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None
            assert worker.stdout.readline().strip() == "ready", worker.communicate()[1]
        raw_redis.rpush("test:go", 1, 1)  # one go for each: both hit at once from here
        counts = []
        for worker in workers:
            out, err = worker.communicate(timeout=PROCESS_TIMEOUT)
            assert worker.returncode == 0, err
            counts.append(int(out.strip()))
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    assert sum(counts) == 10, counts  # 12 requests, one limit of 10
    assert raw_redis.zcard("shared:rate:mint:alice") == 10  # the refused two not counted
