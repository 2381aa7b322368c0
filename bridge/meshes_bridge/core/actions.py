"""What the core asks the adapter to do. Each action is a plain value."""

from meshes_bridge.core.values import Value


class Action(Value):
    """Every action is one of the classes below."""


class SetState(Action):
    """Write `data-state` on the container: one of wire.State."""

    _fields = ("state",)

    def __init__(self, state: str) -> None:
        self.state = state


class StartRequest(Action):
    """POST `body` as JSON to `url` (same-origin; resolved against the page's own URL);
    when both CSRF names are set, send the cookie `csrf_cookie`'s current value in the
    header `csrf_header`. Answer with HttpAnswered/HttpFailed carrying `request_id`."""

    _fields = ("request_id", "url", "body", "csrf_cookie", "csrf_header")

    def __init__(
        self,
        request_id: int,
        url: str,
        body: "dict[str, object] | None" = None,
        csrf_cookie: "str | None" = None,
        csrf_header: "str | None" = None,
    ) -> None:
        self.request_id = request_id
        self.url = url
        self.body: dict[str, object] = body if body is not None else {}
        self.csrf_cookie = csrf_cookie
        self.csrf_header = csrf_header


class StartMint(StartRequest):
    """The mint POST: a StartRequest to the session endpoint."""


class StartRefresh(StartRequest):
    """The refresh POST (the URL already has the session id filled in; the body is {})."""


class AdoptEarlyMint(Action):
    """The loader's early mint request is exactly the one the core would make: carry it on
    as request `request_id` (answer with HttpAnswered/HttpFailed as for StartRequest)."""

    _fields = ("request_id",)

    def __init__(self, request_id: int) -> None:
        self.request_id = request_id


class DiscardEarlyMint(Action):
    """Abort the loader's early mint request and forget it: not the request the core
    would make (or no longer wanted)."""


class AbortRequest(Action):
    _fields = ("request_id",)

    def __init__(self, request_id: int) -> None:
        self.request_id = request_id


class MountIframe(Action):
    """Create the container's iframe with this src and initial height (CSS px)."""

    _fields = ("src", "height")

    def __init__(self, src: str, height: int) -> None:
        self.src = src
        self.height = height


class RemoveIframe(Action):
    pass


class PostAuth(Action):
    """postMessage `message` to the iframe window with exactly `target_origin`."""

    _fields = ("message", "target_origin")

    def __init__(self, message: "dict[str, str]", target_origin: str) -> None:
        self.message = message
        self.target_origin = target_origin

    def __repr__(self) -> str:
        return "PostAuth(message=[redacted], target_origin=" + repr(self.target_origin) + ")"


class SetHeight(Action):
    _fields = ("height",)

    def __init__(self, height: int) -> None:
        self.height = height


class RequestFrame(Action):
    """Call back with FrameTick on the next animation frame."""


class CancelFrame(Action):
    pass


class Emit(Action):
    """Dispatch wire.EVENT_PREFIX + `name` (one of wire.Event) with `detail` on the
    container, and call its hook. An error's `detail["code"]` is one of wire.ErrorCode."""

    _fields = ("name", "detail")

    def __init__(self, name: str, detail: "dict[str, object]") -> None:
        self.name = name
        self.detail = detail


class PostTimings(StartRequest):
    """The timings report: a StartRequest to data-timings-url whose body is the `timings`
    event's detail. Nobody waits on it, so it keeps its place in the step (after what
    reports the authentication); its answer decides a console line at most, and it is
    never retried."""


class Log(Action):
    """A console line; the text is already free of secrets."""

    _fields = ("level", "text")

    def __init__(self, level: str, text: str) -> None:
        self.level = level
        self.text = text
