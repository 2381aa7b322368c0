"""The timings reports out (data-timings-url), as data.

A report is sent once per authentication and never retried; each is out until it is
answered or its timeout passes, whatever happens to the mount it is about (a newer one
does not replace it: the host asked for each). They are sent in order with one timeout,
so the first one out is the first one due.
"""


class Reports:
    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._out: list[tuple[int, float]] = []  # (request id, deadline), oldest first

    @property
    def deadline(self) -> "float | None":
        return self._out[0][1] if self._out else None

    def send(self, request_id: int, now: float) -> None:
        self._out.append((request_id, now + self.timeout))

    def land(self, request_id: int) -> bool:
        """Is this answer one of the reports out? If so, it is no more."""
        for i in range(len(self._out)):
            if self._out[i][0] == request_id:
                del self._out[i]
                return True
        return False

    def overdue(self, now: float) -> "list[int]":
        """The reports whose timeout has passed, no longer out."""
        due = []
        while self._out and self._out[0][1] <= now:
            due.append(self._out.pop(0)[0])
        return due

    def cancel(self) -> "list[int]":
        """Forget every report; returns those that were out, for the caller to abort."""
        ids = [request_id for request_id, _ in self._out]
        self._out = []
        return ids
