"""The checks a message passes before the session acts on it.

First its origin (the embed's), then its source (this container's iframe), then its
shape (`messages.parse_message`). A message that fails one is rejected: always an event,
and a console line within the rejection log's budget.
"""

from meshes_bridge.core import inputs as inp
from meshes_bridge.core import messages as msg
from meshes_bridge.core.limits import BUDGET_WINDOW, REJECTION_LOG_BUDGET
from meshes_bridge.core.outbox import Outbox
from meshes_bridge.core.rejections import RejectionLog
from meshes_bridge.core.values import Value


class MessageGate:
    def __init__(self, out: Outbox) -> None:
        self._out = out
        self._rejections = RejectionLog(REJECTION_LOG_BUDGET, BUDGET_WINDOW)

    def admit(
        self,
        event: inp.MessageReceived,
        embed_origin: "str | None",
        iframe_present: bool,
        debug: bool,
        now: float,
    ) -> "Value | None":
        """The message, parsed, if the session may act on it; None if it was rejected."""
        rejection = None
        if embed_origin is None or event.origin != embed_origin:
            rejection = msg.Rejection("origin", "not the embed origin")
        # Without an iframe (gone after an error) nothing can come from it, whatever
        # the adapter says.
        elif not event.from_iframe or not iframe_present:
            rejection = msg.Rejection("source", "not this container's iframe")
        else:
            message = msg.parse_message(event.data)
            if not isinstance(message, msg.Rejection):
                return message
            rejection = message
        self._reject(event, rejection, embed_origin, debug, now)
        return None

    def _reject(
        self,
        event: inp.MessageReceived,
        rejection: msg.Rejection,
        embed_origin: "str | None",
        debug: bool,
        now: float,
    ) -> None:
        self._out.emit("rejected", {"reason": rejection.reason, "origin": event.origin})
        kind = msg.message_type(event.data)
        loud = event.origin == embed_origin or (kind or "").startswith("meshes:")
        if not loud and not debug:
            return  # a debug line nobody prints: a junk flood must cost as little as it can
        text = self._rejections.line(event.origin, rejection.reason, rejection.detail, now)
        if text is not None:
            self._out.log("warn" if loud else "debug", text)
