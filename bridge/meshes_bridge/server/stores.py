"""Where session bindings and rate-limit counters live, shared by every app process.

A `BindingStore` answers three questions: whose is this session (`owner`), which live
sessions does this user have (`sessions_of`, for revoke on logout), and may this user
make another request this minute (`hit`). Implementations:

* `MemoryStore`: in this process only (development, tests, one worker);
* `RedisStore`: redis-py (`pip install "meshes-bridge[redis]"`), for several processes;
* `meshes_bridge.django.store.DjangoCacheStore`: Django's cache framework.

Keys are namespaced with `prefix` so one Redis or cache can serve several apps.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

DEFAULT_PREFIX = "meshes-bridge"
#: How long a user's logout mark is kept: far longer than any mint can take, so a mint
#: never sees it vanish between its start and its end (which would look like a logout).
LOGOUT_MARK_TTL = 24 * 3600
#: Seconds a member of a user's set (RedisStore) outlives its binding's TTL: its time is
#: taken before the binding is written, so it is never swept while the binding lives.
MEMBER_MARGIN = 60


@runtime_checkable
class BindingStore(Protocol):
    """The store interface the service needs."""

    def bind(self, session_id: str, user_key: str, ttl_seconds: float) -> None:
        """Record that `session_id` belongs to `user_key` for `ttl_seconds` (again: extend)."""

    def owner(self, session_id: str) -> str | None:
        """The user key bound to `session_id`, or None (unknown or expired)."""

    def unbind(self, session_id: str) -> None:
        """Forget `session_id` (its user's list too)."""

    def sessions_of(self, user_key: str) -> list[str]:
        """The live session ids bound to `user_key`."""

    def begin_logout(self, user_key: str) -> None:
        """A logout of `user_key` begins: change its `logout_mark`, for every process."""

    def logout_mark(self, user_key: str) -> int:
        """A number that changes each time a logout of `user_key` begins (0: none known).
        A mint reads it before asking Meshes and again once its session is bound: if it
        changed, the user logged out meanwhile and the session is revoked, not handed out."""

    def hit(self, bucket: str, limit: int, window_seconds: int) -> float | None:
        """A sliding-window limit: None (and the request is counted) when `bucket` had
        fewer than `limit` requests in the last `window_seconds`; else the seconds until
        one of them leaves the window (for `Retry-After`); a refused request is not
        counted."""


class MemoryStore:
    """A dict behind a lock: correct for one process. With several workers (gunicorn -w 4)
    each would see only its own bindings and limits: use Redis or Django's cache there."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._owners: dict[str, tuple[str, float]] = {}
        self._hits: dict[str, deque[float]] = {}  # bucket -> request times, oldest first
        self._logouts: dict[str, int] = {}

    def bind(self, session_id: str, user_key: str, ttl_seconds: float) -> None:
        with self._lock:
            self._owners[session_id] = (user_key, self._clock() + ttl_seconds)
            self._sweep()

    def owner(self, session_id: str) -> str | None:
        with self._lock:
            entry = self._owners.get(session_id)
            if entry is None or entry[1] <= self._clock():
                return None
            return entry[0]

    def unbind(self, session_id: str) -> None:
        with self._lock:
            self._owners.pop(session_id, None)

    def sessions_of(self, user_key: str) -> list[str]:
        now = self._clock()
        with self._lock:
            return [s for s, (u, until) in self._owners.items() if u == user_key and until > now]

    def begin_logout(self, user_key: str) -> None:
        with self._lock:
            self._logouts[user_key] = self._logouts.get(user_key, 0) + 1

    def logout_mark(self, user_key: str) -> int:
        with self._lock:
            return self._logouts.get(user_key, 0)

    def hit(self, bucket: str, limit: int, window_seconds: int) -> float | None:
        now = self._clock()
        with self._lock:
            times = self._hits.setdefault(bucket, deque())
            while times and times[0] <= now - window_seconds:
                times.popleft()
            if len(times) >= limit:
                return max(0.001, times[0] + window_seconds - now)
            times.append(now)
            if len(self._hits) > 10_000:  # drop idle buckets (none in the window) now and then
                since = now - window_seconds
                self._hits = {k: v for k, v in self._hits.items() if v and v[-1] > since}
        return None

    def _sweep(self) -> None:
        # Called under the lock on bind: expired bindings do not pile up.
        if len(self._owners) % 256 == 0:
            now = self._clock()
            self._owners = {s: e for s, e in self._owners.items() if e[1] > now}


class RedisStore:
    """Bindings and counters in Redis (redis-py), shared by every process using `url`.

    Runs on one Redis, behind Sentinel and on Redis Cluster: every script and command
    touches one key, so no operation spans two hash slots.

    * ``<prefix>:session:<id>`` -> user key, with the session's TTL: the binding, the only
      key `owner` reads (a session whose binding is gone has no owner, whatever else is
      left).
    * ``<prefix>:sessions:<user key>``: a sorted set of that user's session ids, each
      scored with the Redis time until which it may be live (a little past its binding's
      TTL); `sessions_of` reads it at logout and keeps the members whose binding still
      names that user. Members past their time are swept on each bind and each read, never
      by looking for a missing binding, so a bind in progress is never swept.
    * ``<prefix>:logout:<user key>``: the user's logout mark (INCR).
    * ``<prefix>:rate:<bucket>``: a sorted set of request times, trimmed and counted by one
      Lua script with Redis' own clock (a sliding window).

    `bind` writes two keys (two slots on a cluster), in the order that keeps logout
    complete if the process dies between the two writes: the user's set first, then the
    binding. A member without a binding is harmless (`sessions_of` skips it and it is
    swept at its time); a binding missing from its user's set cannot happen. `unbind`
    deletes the binding first, then the member, for the same reason.

    Upgrading from the earlier layout (a plain set ``<prefix>:user:<user key>`` written
    with the binding in one script): `sessions_of` also reads that set, so sessions bound
    before the upgrade are still found at logout; the set expires with its last binding.

    `client` may be any redis-py client: ``redis.Redis``, ``redis.RedisCluster`` (or
    ``cluster=True`` with a `url` naming one node), or a Sentinel's
    ``Sentinel(...).master_for(name)``.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: Any = None,
        prefix: str = DEFAULT_PREFIX,
        cluster: bool = False,
    ) -> None:
        if client is None:
            if not url:
                raise ValueError("RedisStore needs a url or a client")
            try:
                import redis
                import redis.cluster
            except ImportError as exc:  # the extra was not installed
                raise ImportError(
                    'RedisStore needs redis-py: pip install "meshes-bridge[redis]"'
                ) from exc
            if cluster:
                client = redis.cluster.RedisCluster.from_url(url, decode_responses=True)
            else:
                client = redis.Redis.from_url(url, decode_responses=True)
        self._redis = client
        self._prefix = prefix
        self._scripts: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"RedisStore(prefix={self._prefix!r})"

    def _script(self, source: str) -> Any:
        script = self._scripts.get(source)
        if script is None:
            script = self._scripts[source] = self._redis.register_script(source)
        return script

    def _session_key(self, session_id: str) -> str:
        return f"{self._prefix}:session:{session_id}"

    def _sessions_key(self, user_key: str) -> str:
        return f"{self._prefix}:sessions:{user_key}"

    def _legacy_user_key(self, user_key: str) -> str:
        return f"{self._prefix}:user:{user_key}"

    def _logout_key(self, user_key: str) -> str:
        return f"{self._prefix}:logout:{user_key}"

    def ping(self) -> None:
        """Raise if Redis cannot be reached (called at start-up)."""
        self._redis.ping()

    def close(self) -> None:
        """Close the client's connections."""
        self._redis.close()

    def cluster_enabled(self) -> bool:
        """Whether the server answering is a Redis Cluster node (``INFO cluster``)."""
        info = self._redis.info("cluster")
        if isinstance(info, dict) and "cluster_enabled" not in info:
            # RedisCluster answers per node: {node name: {...}}
            info = next(iter(info.values()), {})
        return bool(int(info.get("cluster_enabled", 0)))

    def cluster_state(self) -> str:
        """``cluster_state`` of ``CLUSTER INFO`` on the node answering (``ok`` or ``fail``)."""
        raw: Any = self._redis.execute_command("CLUSTER", "INFO")
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8")
        if isinstance(raw, dict):  # redis-py may parse it
            return str(raw.get("cluster_state", ""))
        for line in (raw or "").splitlines():
            if line.startswith("cluster_state:"):
                return line.split(":", 1)[1].strip()
        return ""

    def bind(self, session_id: str, user_key: str, ttl_seconds: float) -> None:
        ttl = max(1, math.ceil(ttl_seconds))
        # The member first: a process dying before the binding leaves a member that
        # sessions_of skips, never a binding that logout cannot find.
        self.add_member(session_id, user_key, ttl)
        self._redis.set(self._session_key(session_id), user_key, ex=ttl)

    def add_member(self, session_id: str, user_key: str, ttl_seconds: float) -> None:
        """The first half of `bind`: `session_id` joins `user_key`'s set (and is kept there
        at least `ttl_seconds` and a margin). Public so a test can stop a bind halfway."""
        ttl = max(1, math.ceil(ttl_seconds))
        self._script(_ADD_MEMBER_LUA)(
            keys=[self._sessions_key(user_key)], args=[session_id, ttl + MEMBER_MARGIN]
        )

    def owner(self, session_id: str) -> str | None:
        value: str | bytes | None = self._redis.get(self._session_key(session_id))
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        return value

    def unbind(self, session_id: str) -> None:
        user = self.owner(session_id)
        self._redis.delete(self._session_key(session_id))  # first: owner() answers None
        if user is not None:
            self._redis.zrem(self._sessions_key(user), session_id)
            self._redis.srem(self._legacy_user_key(user), session_id)

    def sessions_of(self, user_key: str) -> list[str]:
        members = _texts(
            self._script(_LIVE_MEMBERS_LUA)(keys=[self._sessions_key(user_key)], args=[])
        )
        legacy_key = self._legacy_user_key(user_key)
        legacy = _texts(self._redis.smembers(legacy_key))
        candidates = sorted(set(members) | set(legacy))
        if not candidates:
            return []
        pipe = self._redis.pipeline(transaction=False)  # one round trip; any slots
        for member in candidates:
            pipe.get(self._session_key(member))
        owners = [_text(value) for value in pipe.execute()]
        live = [m for m, owner in zip(candidates, owners, strict=True) if owner == user_key]
        # The old layout's set gets no new members: one without a binding is stale.
        stale = [m for m in legacy if m not in live]
        if stale:
            self._redis.srem(legacy_key, *stale)
        return live

    def begin_logout(self, user_key: str) -> None:
        self._script(_INCR_LUA)(keys=[self._logout_key(user_key)], args=[LOGOUT_MARK_TTL])

    def logout_mark(self, user_key: str) -> int:
        value = self._redis.get(self._logout_key(user_key))
        return int(value) if value is not None else 0

    def hit(self, bucket: str, limit: int, window_seconds: int) -> float | None:
        # One atomic script with Redis' own clock: every process counts against the same
        # window, whatever their clocks say.
        answer = self._script(_SLIDING_WINDOW_LUA)(
            keys=[f"{self._prefix}:rate:{bucket}"],
            args=[window_seconds, limit, uuid.uuid4().hex],
        )
        if answer is None:
            return None
        return max(0.001, float(answer))


def _text(value: str | bytes | None) -> str | None:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _texts(values: Any) -> list[str]:
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values or ()]


# One key: the user's sorted set. The member's score is the Redis time until which it may
# be live (raised, never lowered: a short rebind does not shorten it); members past their
# time are swept; the set lives as long as its latest member (EXPIRE's GT option would
# need Redis 7: this runs on any 5+).
_ADD_MEMBER_LUA = """
local now = tonumber(redis.call('TIME')[1])
local ttl = tonumber(ARGV[2])
local until_ = now + ttl
local old = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not old or tonumber(old) < until_ then
  redis.call('ZADD', KEYS[1], until_, ARGV[1])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('TTL', KEYS[1]) < ttl then
  redis.call('EXPIRE', KEYS[1], ttl)
end
return 1
"""

# One key: sweep the members past their time, return the rest.
_LIVE_MEMBERS_LUA = """
local now = tonumber(redis.call('TIME')[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""

_INCR_LUA = """
local value = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
return value
"""

_SLIDING_WINDOW_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return tostring(tonumber(oldest[2]) + window - now)
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('EXPIRE', KEYS[1], math.ceil(window) + 1)
return false
"""
