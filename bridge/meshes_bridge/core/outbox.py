"""The actions one input leads to, in the order the adapter must carry them out.

What someone waits on goes first: the token posted to the embed (`PostAuth`, which the
embed waits on) and a request to the backend (`StartRequest`, whose answer the embed or the
host waits on), before the state changes, events and console lines of the same step, which
only report it. The timings report (`PostTimings`) is a request nobody waits on: it keeps
its place. Each group keeps the order in which the session planned it.

Log lines and error messages are redacted here, of every token the embed has held, so
that no part writing one can forget to.
"""

from meshes_bridge.core import actions as act
from meshes_bridge.core.tokens import Tokens

# The actions someone waits on.
_FIRST = (act.PostAuth, act.StartRequest)


class Outbox:
    def __init__(self, tokens: Tokens) -> None:
        self.first: list[act.Action] = []  # _FIRST's, in the order planned
        self.actions: list[act.Action] = []  # the rest, in the order planned
        self._tokens = tokens

    def add(self, action: act.Action) -> None:
        if isinstance(action, _FIRST) and not isinstance(action, act.PostTimings):
            self.first.append(action)
        else:
            self.actions.append(action)

    def abort(self, request_id: int) -> None:
        """Abort a request. One this same step started is not sent at all: both go (a
        retry due in the step that remounts, say), as the request would go out first."""
        first = self.first
        for i in range(len(first)):
            action = first[i]
            if isinstance(action, act.StartRequest) and action.request_id == request_id:
                del first[i]
                return
        self.actions.append(act.AbortRequest(request_id))

    def clear(self) -> None:
        """Drop whatever is planned."""
        self.first = []
        self.actions = []

    def take(self) -> "list[act.Action]":
        """The actions planned so far, what someone waits on first; the outbox is empty
        again."""
        actions = self.actions
        if self.first:
            actions = self.first + actions
            self.first = []
        self.actions = []
        return actions

    def emit(self, name: str, detail: "dict[str, object]") -> None:
        self.actions.append(act.Emit(name, detail))

    def log(self, level: str, text: str) -> None:
        self.actions.append(act.Log(level, self._tokens.redact(text)))

    def report(self, code: str, message: str) -> None:
        """An error for the host: a console line and an `error` event."""
        message = self._tokens.redact(message)
        self.log("error", code + ": " + message)
        self.emit("error", {"code": code, "message": message})
