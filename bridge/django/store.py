"""`DjangoCacheStore`: session bindings and rate limits in Django's cache framework.

Django's cache API has no lists, sets, scripts or compare-and-set; it has `add` (store
only if absent), `incr`, `get_many`, `set_many`, `touch` and per-key timeouts. The store is
built from those alone, so that every cross-process decision rests on `add`:

* binding: ``<prefix>:session:<id>`` -> ``(user_key, slot)`` with the session's TTL;
* the user's session list (for revoke on logout): numbered slots
  ``<prefix>:user:<key>:<n>`` -> session id, each with its binding's TTL. A slot number
  comes from `incr` on ``<prefix>:user:<key>:n`` and is claimed with `add`: should two
  processes ever get the same number (a backend whose `incr` is read-modify-write, or a
  counter evicted and restarted), one `add` fails and that process takes the next number,
  so no session ever overwrites another's slot. ``...:lo`` remembers the first slot that
  may still be live, so reading the list skips long-expired slots;
* rate limit: `limit` slots ``<prefix>:rate:<bucket>:<i>``, each holding one request's
  time and expiring `window` seconds after it: a request is allowed when it can `add` a
  free slot. The live slots are exactly the requests of the last window: a sliding window
  with no read-modify-write, and a refused request is not counted.

What each backend guarantees (processes on one or several hosts):

* ``django.core.cache.backends.redis.RedisCache`` (and django-redis): `add` is SET NX and
  `incr` INCR, both atomic on the server, and Redis expires keys itself: bindings, the
  logout list and the limits hold exactly across every process using that Redis.
* Memcached (PyMemcacheCache, PyLibMCCache): `add` and `incr` are atomic too, with the
  same guarantees; memcached may evict keys under memory pressure (an evicted binding
  means a 404 on refresh, after which the bridge mints afresh; an evicted rate slot lets
  one more request through).
* DatabaseCache: `add` of a new key is guarded by the table's primary key (a concurrent
  insert fails); re-claiming an *expired* row is an UPDATE that two processes can both
  win, so under contention the limit can be exceeded by the number of racing processes.
* FileBasedCache: `add` is "check, then write": not atomic across processes; limits are
  approximate under concurrency. Bindings still work.
* LocMemCache: atomic within one process, invisible to others: one worker only (check
  ``meshes_bridge.W001``).
* DummyCache stores nothing: every refresh answers 404 (the bridge mints afresh each
  time) and nothing is limited (``meshes_bridge.W001``).

Keys are made of safe characters only (memcached refuses spaces and keys over 250
bytes): an id that is not short and plain is replaced by its SHA-256.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import time
from collections.abc import Callable
from typing import Any

from django.core.cache import BaseCache, caches

from meshes_bridge.server.stores import DEFAULT_PREFIX

log = logging.getLogger("meshes_bridge.django")

#: The user's slot counter outlives every binding the service makes (at most the token's
#: hour plus a grace period), so it is never restarted while one of its slots lives.
INDEX_TTL = 2 * 3600
MAX_CLAIMS = 32  # slot numbers tried before giving up on add (never reached in practice)
RATE_ROUNDS = 3  # re-reads when other processes took the free rate slots first
_PLAIN = re.compile(r"^[A-Za-z0-9_.@:-]{1,100}$")


def _part(text: str) -> str:
    """`text` when it is short and plain, else its hash ("~" keeps the two apart)."""
    if _PLAIN.match(text):
        return text
    return "~" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:40]


def _entry(value: Any) -> tuple[str, int] | None:
    """A binding's stored value, or None for anything else (a foreign value, a miss)."""
    if isinstance(value, tuple | list) and len(value) == 2:
        user, slot = value
        if isinstance(user, str) and isinstance(slot, int) and not isinstance(slot, bool):
            return user, slot
    return None


class DjangoCacheStore:
    """A `BindingStore` (meshes_bridge.server.stores) over one Django cache.

    `cache` is a cache alias (looked up on every call, as Django hands out one connection
    per thread) or a cache object. See the module's text for what each backend guarantees.
    """

    def __init__(
        self,
        cache: BaseCache | str = "default",
        *,
        prefix: str = DEFAULT_PREFIX,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._alias = cache if isinstance(cache, str) else None
        self._cache = None if isinstance(cache, str) else cache
        self._prefix = prefix
        self._clock = clock

    def __repr__(self) -> str:
        where = self._alias if self._alias is not None else type(self._cache).__name__
        return f"DjangoCacheStore({where!r}, prefix={self._prefix!r})"

    @property
    def cache(self) -> BaseCache:
        if self._cache is not None:
            return self._cache
        assert self._alias is not None
        return caches[self._alias]

    # -- keys ----------------------------------------------------------------------------

    def _session_key(self, session_id: str) -> str:
        return f"{self._prefix}:session:{_part(session_id)}"

    def _user_key(self, user_key: str, suffix: str | int) -> str:
        return f"{self._prefix}:user:{_part(user_key)}:{suffix}"

    def _rate_key(self, bucket: str, slot: int) -> str:
        return f"{self._prefix}:rate:{_part(bucket)}:{slot}"

    # -- bindings ------------------------------------------------------------------------

    def bind(self, session_id: str, user_key: str, ttl_seconds: float) -> None:
        cache = self.cache
        timeout = max(1, math.ceil(ttl_seconds))
        session_key = self._session_key(session_id)
        entry = _entry(cache.get(session_key))
        if entry is not None and entry[0] == user_key:
            slot = entry[1]  # a refresh: extend the binding and its slot, no new slot
        else:
            if entry is not None:  # bound to someone else: move it, leave no stale slot
                cache.delete(self._user_key(entry[0], entry[1]))
            slot = self._claim_slot(cache, user_key, session_id, timeout)
        cache.set_many(
            {session_key: (user_key, slot), self._user_key(user_key, slot): session_id},
            timeout,
        )
        cache.touch(self._user_key(user_key, "n"), max(timeout, INDEX_TTL))

    def _claim_slot(self, cache: BaseCache, user_key: str, session_id: str, timeout: int) -> int:
        counter = self._user_key(user_key, "n")
        index_ttl = max(timeout, INDEX_TTL)
        slot = 0
        for _ in range(MAX_CLAIMS):
            cache.add(counter, 0, index_ttl)
            try:
                slot = int(cache.incr(counter))
            except ValueError:  # the counter expired between add and incr: start again
                continue
            if cache.add(self._user_key(user_key, slot), session_id, timeout):
                return slot
        # Only a cache that refuses every add gets here; the binding itself still works,
        # at worst this slot's previous session is missed by a later logout.
        log.warning("meshes-bridge could not claim a free session slot in the cache")
        return slot

    def owner(self, session_id: str) -> str | None:
        entry = _entry(self.cache.get(self._session_key(session_id)))
        return entry[0] if entry is not None else None

    def unbind(self, session_id: str) -> None:
        cache = self.cache
        session_key = self._session_key(session_id)
        entry = _entry(cache.get(session_key))
        keys = [session_key]
        if entry is not None:
            keys.append(self._user_key(entry[0], entry[1]))
        cache.delete_many(keys)

    def sessions_of(self, user_key: str) -> list[str]:
        cache = self.cache
        counter = cache.get(self._user_key(user_key, "n"))
        if not isinstance(counter, int) or counter < 1:
            return []
        low = cache.get(self._user_key(user_key, "lo"))
        if not isinstance(low, int) or not 1 <= low <= counter:
            low = 1  # never set, or the counter restarted below it
        slot_keys = {slot: self._user_key(user_key, slot) for slot in range(low, counter + 1)}
        found = cache.get_many(list(slot_keys.values()))
        slots = {slot: found[key] for slot, key in slot_keys.items() if key in found}
        entries = cache.get_many([self._session_key(s) for s in set(slots.values())])
        live: list[str] = []
        for slot, session_id in sorted(slots.items()):
            # A slot counts only while its session's binding points back at it.
            entry = _entry(entries.get(self._session_key(session_id)))
            if entry == (user_key, slot) and session_id not in live:
                live.append(session_id)
        # Skip expired slots next time, but never past the newest number: its session may
        # be between `incr` and `add` in another process right now.
        first = min(slots) if slots else counter
        if first > low:
            cache.set(self._user_key(user_key, "lo"), first, INDEX_TTL)
        return live

    # -- rate limits ---------------------------------------------------------------------

    def hit(self, bucket: str, limit: int, window_seconds: int) -> float | None:
        cache = self.cache
        timeout = max(1, math.ceil(window_seconds))
        keys = [self._rate_key(bucket, slot) for slot in range(limit)]
        taken: dict[str, Any] = {}
        for _ in range(RATE_ROUNDS):
            taken = cache.get_many(keys)
            free = [key for key in keys if key not in taken]
            if not free:
                break
            for key in free:
                if cache.add(key, self._clock(), timeout):
                    return None
            # Every free slot went to another process meanwhile: look again.
        times = [float(v) for v in taken.values() if isinstance(v, int | float)]
        if not times:
            return 1.0  # lost every race for slots that were free: refuse, briefly
        return max(0.001, min(times) + window_seconds - self._clock())
