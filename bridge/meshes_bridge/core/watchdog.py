"""The iframe document's own lifecycle: has the document now in the iframe said ready?

The iframe may reload (a hard reload, a crash) while the embed stays mounted, and only a
document that has said `meshes:ready` may be sent the token. A ready usually comes just
before its document's `load` event, so a ready is held until a load claims it:

    no document --load--> awaiting ready --ready--> credited
                 (ready within the timeout before the load: credited at once)

A document that does not say ready within the timeout of its load (or of the mount)
trips the watchdog: `deadline` passes, and the session mints a fresh session.
"""

NO_DOCUMENT = "none"
AWAITING_READY = "pending"
CREDITED = "credited"


class ReadyWatchdog:
    def __init__(self) -> None:
        self.present = False  # is there an iframe at all
        self.document = NO_DOCUMENT
        self.ready_at: float | None = None  # a ready no loaded document has claimed yet
        self.deadline: float | None = None
        self.timeout = 0.0

    def mounted(self, now: float, timeout: float) -> None:
        self.present = True
        self.document = NO_DOCUMENT
        self.ready_at = None
        self.timeout = timeout
        self.deadline = now + timeout

    def removed(self) -> None:
        self.present = False
        self.deadline = None

    def loaded(self, now: float) -> None:
        # "Within the timeout" matters: a repeated ready from the previous document, long
        # before a hard reload, must not vouch for the reloaded one.
        ready_at = self.ready_at
        self.ready_at = None
        if ready_at is not None and now - ready_at <= self.timeout:
            self.document = CREDITED
        else:
            self.document = AWAITING_READY
            self.deadline = now + self.timeout

    def ready(self, now: float) -> None:
        if self.document == AWAITING_READY:
            self.document = CREDITED
        else:
            self.ready_at = now
        self.deadline = None

    def can_post(self) -> bool:
        """Has the iframe's current document said ready (so it may get the token)?"""
        return self.present and (self.document == CREDITED or self.ready_at is not None)

    def tripped(self, now: float) -> bool:
        if self.deadline is None or self.deadline > now:
            return False
        self.deadline = None
        return True
