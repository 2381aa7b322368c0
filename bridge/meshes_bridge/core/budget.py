"""Sliding-window budgets: how often a container may mint or refresh, whatever asks.

A page runs for hours. A DOM morph that removes the iframe again and again, or an iframe
that asks for a token in a loop, must not turn into a stream of backend requests: each
kind of request has a budget per window, and a request past it waits for a free slot.
"""


class Budget:
    """At most `limit` spends in any `window` seconds. Times are the core's clock."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._times: list[float] = []

    def _prune(self, now: float) -> None:
        times = self._times
        while times and times[0] <= now - self.window:
            times.pop(0)

    def used(self, now: float) -> int:
        """Spends within the window ending now."""
        self._prune(now)
        return len(self._times)

    def next_slot(self, now: float) -> float:
        """When the next spend may happen: `now` if the window has room, else the moment
        its oldest spend leaves it."""
        self._prune(now)
        if len(self._times) < self.limit:
            return now
        return self._times[len(self._times) - self.limit] + self.window

    def spend(self, now: float) -> None:
        self._times.append(now)
        if len(self._times) > self.limit:
            self._times.pop(0)
