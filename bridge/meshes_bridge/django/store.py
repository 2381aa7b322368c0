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
* logout mark: ``<prefix>:logout:<key>``, a counter `incr`-ed by each logout (created by
  `add` at a random value, so a mark lost to eviction and created again differs from the
  one a mint read before), kept LOGOUT_MARK_TTL after the last logout;
* rate limit: a sliding window kept as numbered tickets. Each allowed request claims the
  next number n with `add` of ``<prefix>:limit:<bucket>:<n>`` (its time, expiring with the
  window); ``...:last`` remembers the last number claimed. Request n is allowed only when
  ticket n - limit is gone or older than the window: the `limit` requests before it are
  then the only ones that can be in the window. A check reads ``last`` and one ticket, then
  `add`s one (a few more rounds when another process claimed that number first: the `add`
  fails, and the next number is tried), whatever the limit: its cost does not grow with
  the limit. A refused request claims nothing, so it is not counted; Retry-After is when
  ticket n - limit leaves the window.

  Why never more than `limit` in a window: numbers are claimed in order (a process tries
  n + 1 only once n is taken, as ``last`` only ever names a claimed number), so when n is
  allowed every lower number is claimed and ticket n - limit has left the window; request
  times follow the numbers, so only n - limit + 1 ... n can be in it (a process that
  stalls for a whole window between claiming a number and recording it in ``last`` could
  break that order; nothing else can). The times are the app's clock (`clock`): hosts
  must keep theirs in step (NTP); a host s seconds ahead may let a request through up to
  s seconds early.

What each backend guarantees (processes on one or several hosts):

* ``django.core.cache.backends.redis.RedisCache`` (and django-redis): `add` is SET NX and
  `incr` INCR, both atomic on the server, and Redis expires keys itself: bindings, the
  logout list and the limits hold exactly across every process using that Redis.
* Memcached (PyMemcacheCache, PyLibMCCache): `add` and `incr` are atomic too, with the
  same guarantees; memcached may evict keys under memory pressure (an evicted binding
  means a 404 on refresh, after which the bridge mints afresh; an evicted ticket lets one
  more request through, an evicted ``last`` lets up to `limit` more through in that
  window, or refuses the user for up to one window while ``last`` catches up).
* DatabaseCache: `add` of a new key is guarded by the table's primary key (a concurrent
  insert fails); re-claiming an *expired* row is an UPDATE that two processes can both
  win, so under contention a ticket number can go to two requests and the limit can be
  exceeded by the number of racing processes.
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
import secrets
import time
from collections.abc import Callable
from typing import Any

from django.core.cache import BaseCache, caches

from meshes_bridge.server.stores import DEFAULT_PREFIX, LOGOUT_MARK_TTL

log = logging.getLogger("meshes_bridge.django")

#: The user's slot counter outlives every binding the service makes (at most the token's
#: hour plus a grace period), so it is never restarted while one of its slots lives.
INDEX_TTL = 2 * 3600
MAX_CLAIMS = 32  # slot numbers tried before giving up on add (never reached in practice)
RATE_ROUNDS = 4  # ticket numbers tried when other processes claim them first
_PLAIN = re.compile(r"[A-Za-z0-9_.@:-]{1,100}")


def _part(text: str) -> str:
    """`text` when it is short and plain, else its hash ("~" keeps the two apart)."""
    if _PLAIN.fullmatch(text):
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

    def _rate_key(self, bucket: str, number: int | str) -> str:
        return f"{self._prefix}:limit:{_part(bucket)}:{number}"

    def _logout_key(self, user_key: str) -> str:
        return f"{self._prefix}:logout:{_part(user_key)}"

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

    # -- logout marks --------------------------------------------------------------------

    def begin_logout(self, user_key: str) -> None:
        cache = self.cache
        key = self._logout_key(user_key)
        cache.add(key, secrets.randbelow(1 << 31) + 1, LOGOUT_MARK_TTL)
        try:
            cache.incr(key)
        except ValueError:  # gone between add and incr: a new random mark is a change too
            cache.add(key, secrets.randbelow(1 << 31) + 1, LOGOUT_MARK_TTL)
        cache.touch(key, LOGOUT_MARK_TTL)

    def logout_mark(self, user_key: str) -> int:
        value = self.cache.get(self._logout_key(user_key))
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    # -- rate limits ---------------------------------------------------------------------

    def hit(self, bucket: str, limit: int, window_seconds: int) -> float | None:
        if limit < 1:
            return float(window_seconds)
        cache = self.cache
        timeout = max(1, math.ceil(window_seconds))
        last_key = self._rate_key(bucket, "last")
        last = cache.get(last_key)
        number = last + 1 if isinstance(last, int) and last >= 0 else 1
        for _ in range(RATE_ROUNDS):
            now = self._clock()
            if number > limit:
                oldest = cache.get(self._rate_key(bucket, number - limit))
                if isinstance(oldest, int | float) and oldest > now - window_seconds:
                    return max(0.001, oldest + window_seconds - now)
            if cache.add(self._rate_key(bucket, number), now, timeout):
                cache.set(last_key, number, timeout)
                return None
            number += 1  # another process claimed it: the next number is the next request
        # Every number tried was claimed meanwhile: remember the last (so the next check
        # starts there) and refuse this request, briefly.
        cache.set(last_key, number - 1, timeout)
        return 1.0
