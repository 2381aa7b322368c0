"""What happened, as the adapter tells the core. Each input is a plain value.

The adapter reports facts only (what an attribute says, where a message came from, what
its data looks like, that a request answered); the core decides what they mean.
"""

from meshes_bridge.core.values import Value

# How much of a message's data the adapter could read, already sorted by shape. Only a
# message from the container's own iframe on its embed origin is read in full: the core
# decides so (`EmbedSession.wants_fields`), the adapter hands the decision to the loader's
# relay with the iframe's window, and the relay carries it out for each message. Reading
# a foreign window's data costs time, and any window may post to us.
OBJECT = "object"  # a plain object: `fields` holds its flat fields
NOT_OBJECT = "not-object"  # a string, number, array, null, Date, Blob...
TOO_LARGE = "too-large"  # over the size limit: not read at all
UNREADABLE = "unreadable"  # too many keys, or it could not be read
TYPE_ONLY = "type-only"  # only its `type` was read: `fields` is {"type": ...} or {}
MESSAGE_KINDS = (OBJECT, NOT_OBJECT, TOO_LARGE, UNREADABLE, TYPE_ONLY)


class Input(Value):
    """Every input is one of the subclasses below."""


class Nested(Value):
    """A field whose value is an object or array: contract messages are flat."""


NESTED = Nested()


class MessageData(Value):
    """A message's data as the adapter read it: a kind from MESSAGE_KINDS and, for OBJECT
    and TYPE_ONLY, its fields (str -> None, bool, int, float, str or NESTED)."""

    _fields = ("kind", "fields")

    def __init__(self, kind: str, fields: "dict[str, object] | None" = None) -> None:
        self.kind = kind
        self.fields: dict[str, object] = fields if fields is not None else {}


class EarlyMint(Value):
    """The mint request the loader started at page load, before the runtime booted, as the
    adapter found it: what was sent (the raw `data-session-url`, the URL it resolved to, the
    body text, the CSRF cookie/header names and the value sent), and what the adapter sees
    now for the same (`href_now`: that attribute resolved now; `cookie_now`: the CSRF
    cookie's value now). The core adopts it only when it is exactly the request it would
    have made; otherwise the adapter aborts it and the core mints itself."""

    _fields = (
        "url",
        "href",
        "body_text",
        "csrf_cookie",
        "csrf_header",
        "csrf_value",
        "href_now",
        "cookie_now",
    )

    def __init__(
        self,
        url: str,
        href: str,
        body_text: str,
        csrf_cookie: "str | None",
        csrf_header: "str | None",
        csrf_value: "str | None",
        href_now: "str | None",
        cookie_now: "str | None",
    ) -> None:
        self.url = url
        self.href = href
        self.body_text = body_text
        self.csrf_cookie = csrf_cookie
        self.csrf_header = csrf_header
        self.csrf_value = csrf_value
        self.href_now = href_now
        self.cookie_now = cookie_now

    def __repr__(self) -> str:
        # The CSRF value is a credential of sorts: never in a log or a traceback.
        return "EarlyMint(url=" + repr(self.url) + ", csrf=[redacted])"


class BootTimes(Value):
    """What only the loader knows of the `timings` event's steps: when loader.js began and
    when the interpreter was up (seconds on the core's clock; None: not known)."""

    _fields = ("loader", "runtime_ready")

    def __init__(self, loader: "float | None", runtime_ready: "float | None") -> None:
        self.loader = loader
        self.runtime_ready = runtime_ready


class Start(Input):
    """The container was found; begin. `attributes` (name -> string or None, for every
    name in config.CONTAINER_ATTRIBUTES) and `page_origin` are parsed by the core; a session
    built with a config already may be started with neither. `boot`: the loader's stamps,
    for a container found when the bridge started (one added later has none)."""

    _fields = ("attributes", "page_origin", "early", "boot")

    def __init__(
        self,
        attributes: "dict[str, str | None] | None" = None,
        page_origin: "str | None" = None,
        early: "EarlyMint | None" = None,
        boot: "BootTimes | None" = None,
    ) -> None:
        self.attributes = attributes
        self.page_origin = page_origin
        self.early = early
        self.boot = boot


class MessageReceived(Input):
    """A `message` event: its origin, whether its source is this container's iframe
    window, and its data as read by the adapter."""

    _fields = ("origin", "from_iframe", "data")

    def __init__(self, origin: str, from_iframe: bool, data: MessageData) -> None:
        self.origin = origin
        self.from_iframe = from_iframe
        self.data = data


class IframeLoaded(Input):
    """The iframe fired `load`: a document (new or reloaded) finished loading."""


class IframeLost(Input):
    """The container's iframe is no longer in the document (a DOM morph, an htmx swap, a
    script) while the container still is."""


class HttpAnswered(Input):
    _fields = ("request_id", "status", "body")

    def __init__(self, request_id: int, status: int, body: str) -> None:
        self.request_id = request_id
        self.status = status
        self.body = body

    def __repr__(self) -> str:
        ident = "request_id=" + str(self.request_id) + ", status=" + str(self.status)
        return "HttpAnswered(" + ident + ", body=[redacted])"


class HttpFailed(Input):
    """No answer: a network error. `reason` is a short description without secrets."""

    _fields = ("request_id", "reason")

    def __init__(self, request_id: int, reason: str) -> None:
        self.request_id = request_id
        self.reason = reason


class FrameTick(Input):
    """The animation frame asked for with RequestFrame."""


class Teardown(Input):
    """The container left the document."""
