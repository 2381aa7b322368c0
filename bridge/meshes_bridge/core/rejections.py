"""Console lines for rejected messages, within a budget.

Every rejection gets its event, but a flood must not become a flood of console.warn
calls (each costs far more than the rest of a rejection): past the budget, rejections are
counted, and the next line that may be written says how many went unlogged.
"""

from meshes_bridge.core.budget import Budget


class RejectionLog:
    def __init__(self, limit: int, window: float) -> None:
        self.budget = Budget(limit, window)
        self.unlogged = 0

    def line(self, origin: str, reason: str, detail: str, now: float) -> "str | None":
        """The console line for this rejection, or None when the budget is spent."""
        if self.budget.next_slot(now) > now:
            self.unlogged += 1
            return None
        self.budget.spend(now)
        text = "rejected a message from " + origin + ": " + reason + " (" + detail + ")"
        if self.unlogged:
            text = text + "; " + str(self.unlogged) + " more rejected before this were not logged"
            self.unlogged = 0
        return text
