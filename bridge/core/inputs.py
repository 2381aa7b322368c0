"""What happened, as the adapter tells the core. Each input is a plain value."""

from meshes_bridge.core.values import Value


class Start(Value):
    """The container was found; begin."""


class MessageReceived(Value):
    """A `message` event: its origin, whether its source is this container's iframe
    window, and its data serialised as JSON (None when it could not be serialised)."""

    _fields = ("origin", "from_iframe", "data")

    def __init__(self, origin: str, from_iframe: bool, data: "str | None") -> None:
        self.origin = origin
        self.from_iframe = from_iframe
        self.data = data


class IframeLoaded(Value):
    """The iframe fired `load`: a document (new or reloaded) finished loading."""


class HttpAnswered(Value):
    _fields = ("request_id", "status", "body")

    def __init__(self, request_id: int, status: int, body: str) -> None:
        self.request_id = request_id
        self.status = status
        self.body = body

    def __repr__(self) -> str:
        ident = "request_id=" + str(self.request_id) + ", status=" + str(self.status)
        return "HttpAnswered(" + ident + ", body=[redacted])"


class HttpFailed(Value):
    """No answer: a network error. `reason` is a short description without secrets."""

    _fields = ("request_id", "reason")

    def __init__(self, request_id: int, reason: str) -> None:
        self.request_id = request_id
        self.reason = reason


class FrameTick(Value):
    """The animation frame asked for with RequestFrame."""


class Teardown(Value):
    """The container left the document."""
