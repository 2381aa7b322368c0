"""One kind of backend request (the mint or the refresh) and all its timing, as data.

A flight has at most one request out. It is either idle, waiting (`wake_at` is when to
send: a backoff after a failure, or the budget's next free slot) or out (`request_id` is
set and `wake_at` is the request's timeout). Only one deadline at a time, so the session's
`next_deadline()` reads one field per flight.
"""

from meshes_bridge.core.budget import Budget
from meshes_bridge.core.retry import backoff_delay, can_retry, is_retriable


class Flight:
    def __init__(self, limit: int, window: float, timeout: float) -> None:
        self.budget = Budget(limit, window)
        self.timeout = timeout
        self.request_id: int | None = None
        self.wake_at: float | None = None
        self.attempt = 0  # failed attempts in a row, for the backoff

    def idle(self) -> bool:
        return self.wake_at is None

    def wait_for_budget(self, now: float) -> float:
        """When the budget lets the next request go; past `now`, the flight waits till then."""
        when = self.budget.next_slot(now)
        if when > now:
            self.wake_at = when
        return when

    def send(self, request_id: int, now: float) -> None:
        self.budget.spend(now)
        self.request_id = request_id
        self.wake_at = now + self.timeout

    def land(self, request_id: int) -> bool:
        """Is this answer the one out (a stale or unknown id is not)? If so, it is no more."""
        if request_id != self.request_id:
            return False
        self.request_id = self.wake_at = None
        return True

    def retry_later(self, status: "int | None", now: float) -> bool:
        """After a failure: schedule the next attempt with backoff, if it may succeed."""
        if not is_retriable(status) or not can_retry(self.attempt + 1):
            return False
        self.attempt += 1
        self.wake_at = now + backoff_delay(self.attempt)
        return True

    def overdue(self, now: float) -> "int | None":
        """The request out, if its timeout has passed."""
        if self.request_id is None or self.wake_at is None or self.wake_at > now:
            return None
        return self.request_id

    def due(self, now: float) -> bool:
        """Is it time to send the request the flight waits to send?"""
        if self.request_id is not None or self.wake_at is None or self.wake_at > now:
            return False
        self.wake_at = None
        return True

    def cancel(self) -> "int | None":
        """Forget the flight; returns the request out, if any, for the caller to abort."""
        request_id = self.request_id
        self.request_id = self.wake_at = None
        self.attempt = 0
        return request_id
