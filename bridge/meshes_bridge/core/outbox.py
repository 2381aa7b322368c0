"""The actions one input leads to, in the order the session plans them.

Log lines and error messages are redacted here, of every token the embed has held, so
that no part writing one can forget to.
"""

from meshes_bridge.core import actions as act
from meshes_bridge.core.tokens import Tokens


class Outbox:
    def __init__(self, tokens: Tokens) -> None:
        self.actions: list[act.Action] = []
        self._tokens = tokens

    def add(self, action: act.Action) -> None:
        self.actions.append(action)

    def take(self) -> "list[act.Action]":
        """The actions planned so far; the outbox is empty again."""
        actions = self.actions
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
