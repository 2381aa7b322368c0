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

    Bindings: ``<prefix>:session:<id>`` -> user key, with the session's TTL; a set
    ``<prefix>:user:<key>`` of that user's session ids (members are checked against their
    binding when read, so expired ones drop out). Rate limits: a sorted set of request
    times per bucket, trimmed and counted by one Lua script (a sliding window).
    """

    def __init__(
        self, url: str | None = None, *, client: Any = None, prefix: str = DEFAULT_PREFIX
    ) -> None:
        if client is None:
            if not url:
                raise ValueError("RedisStore needs a url or a client")
            try:
                import redis
            except ImportError as exc:  # the extra was not installed
                raise ImportError(
                    'RedisStore needs redis-py: pip install "meshes-bridge[redis]"'
                ) from exc
            client = redis.Redis.from_url(url, decode_responses=True)
        self._redis = client
        self._prefix = prefix
        self._limit_script: Any = None
        self._bind_script: Any = None

    def __repr__(self) -> str:
        return f"RedisStore(prefix={self._prefix!r})"

    def _session_key(self, session_id: str) -> str:
        return f"{self._prefix}:session:{session_id}"

    def _user_key(self, user_key: str) -> str:
        return f"{self._prefix}:user:{user_key}"

    def ping(self) -> None:
        """Raise if Redis cannot be reached (called at start-up)."""
        self._redis.ping()

    def bind(self, session_id: str, user_key: str, ttl_seconds: float) -> None:
        ttl = max(1, math.ceil(ttl_seconds))
        if self._bind_script is None:
            self._bind_script = self._redis.register_script(_BIND_LUA)
        self._bind_script(
            keys=[self._session_key(session_id), self._user_key(user_key)],
            args=[user_key, session_id, ttl],
        )

    def owner(self, session_id: str) -> str | None:
        value: str | bytes | None = self._redis.get(self._session_key(session_id))
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        return value

    def unbind(self, session_id: str) -> None:
        user = self.owner(session_id)
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(self._session_key(session_id))
        if user is not None:
            pipe.srem(self._user_key(user), session_id)
        pipe.execute()

    def sessions_of(self, user_key: str) -> list[str]:
        members = sorted(
            m.decode("utf-8") if isinstance(m, bytes) else m
            for m in self._redis.smembers(self._user_key(user_key))
        )
        live = [m for m in members if self.owner(m) == user_key]
        stale = [m for m in members if m not in live]
        if stale:
            self._redis.srem(self._user_key(user_key), *stale)
        return live

    def _logout_key(self, user_key: str) -> str:
        return f"{self._prefix}:logout:{user_key}"

    def begin_logout(self, user_key: str) -> None:
        pipe = self._redis.pipeline(transaction=True)
        pipe.incr(self._logout_key(user_key))
        pipe.expire(self._logout_key(user_key), LOGOUT_MARK_TTL)
        pipe.execute()

    def logout_mark(self, user_key: str) -> int:
        value = self._redis.get(self._logout_key(user_key))
        return int(value) if value is not None else 0

    def hit(self, bucket: str, limit: int, window_seconds: int) -> float | None:
        # One atomic script with Redis' own clock: every process counts against the same
        # window, whatever their clocks say.
        if self._limit_script is None:
            self._limit_script = self._redis.register_script(_SLIDING_WINDOW_LUA)
        answer = self._limit_script(
            keys=[f"{self._prefix}:rate:{bucket}"],
            args=[window_seconds, limit, uuid.uuid4().hex],
        )
        if answer is None:
            return None
        return max(0.001, float(answer))


# The binding and the user's set in one step; the set lives as long as the longest
# binding in it (EXPIRE's GT/NX options would need Redis 7: this runs on any 5+).
_BIND_LUA = """
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
redis.call('SADD', KEYS[2], ARGV[2])
if redis.call('TTL', KEYS[2]) < tonumber(ARGV[3]) then
  redis.call('EXPIRE', KEYS[2], ARGV[3])
end
return 1
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
