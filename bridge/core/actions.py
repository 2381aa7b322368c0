"""What the core asks the adapter to do. Each action is a plain value."""

from meshes_bridge.core.values import Value


class SetState(Value):
    """Write `data-state` on the container."""

    _fields = ("state",)

    def __init__(self, state: str) -> None:
        self.state = state


class StartMint(Value):
    """POST the mint endpoint; answer with HttpAnswered/HttpFailed carrying `request_id`."""

    _fields = ("request_id", "url", "body")

    def __init__(self, request_id: int, url: str, body: dict) -> None:
        self.request_id = request_id
        self.url = url
        self.body = body


class StartRefresh(Value):
    """POST the refresh endpoint (the URL already has the session id filled in)."""

    _fields = ("request_id", "url")

    def __init__(self, request_id: int, url: str) -> None:
        self.request_id = request_id
        self.url = url


class AbortRequest(Value):
    _fields = ("request_id",)

    def __init__(self, request_id: int) -> None:
        self.request_id = request_id


class MountIframe(Value):
    """Create the container's iframe with this src and initial height (CSS px)."""

    _fields = ("src", "height")

    def __init__(self, src: str, height: int) -> None:
        self.src = src
        self.height = height


class RemoveIframe(Value):
    pass


class PostAuth(Value):
    """postMessage `message` to the iframe window with exactly `target_origin`."""

    _fields = ("message", "target_origin")

    def __init__(self, message: dict, target_origin: str) -> None:
        self.message = message
        self.target_origin = target_origin

    def __repr__(self) -> str:
        return "PostAuth(message=[redacted], target_origin=" + repr(self.target_origin) + ")"


class SetHeight(Value):
    _fields = ("height",)

    def __init__(self, height: int) -> None:
        self.height = height


class RequestFrame(Value):
    """Call back with FrameTick on the next animation frame."""


class CancelFrame(Value):
    pass


class Emit(Value):
    """Dispatch `meshes-bridge:<name>` with `detail` on the container (and call its hook)."""

    _fields = ("name", "detail")

    def __init__(self, name: str, detail: dict) -> None:
        self.name = name
        self.detail = detail


class Log(Value):
    """A console line; the text is already free of secrets."""

    _fields = ("level", "text")

    def __init__(self, level: str, text: str) -> None:
        self.level = level
        self.text = text
