"""One container on the page: carries out its core machine's actions in the browser."""

import js

from meshes_bridge.browser import ffi
from meshes_bridge.browser.hooks import Hooks
from meshes_bridge.browser.http import post_json, read_cookie
from meshes_bridge.browser.log import Console
from meshes_bridge.core import actions as act
from meshes_bridge.core import inputs as inp
from meshes_bridge.core.config import CONTAINER_ATTRIBUTES
from meshes_bridge.core.session import EmbedSession
from meshes_bridge.core.wire import EVENT_PREFIX, STATE_ATTRIBUTE, ErrorCode, Event, Outcome


class EmbedHandle:
    """What a host hook sees of an embed."""

    def __init__(self, embed: "BrowserEmbed") -> None:
        self._embed = embed
        self.element = embed.element

    @property
    def session_id(self) -> "str | None":
        machine = self._embed.machine
        return machine.session_id if machine is not None else None

    @property
    def state(self) -> str:
        return ffi.attribute(self.element, STATE_ATTRIBUTE) or ""

    @property
    def iframe(self) -> "js.HTMLIFrameElement | None":
        return self._embed.iframe

    def __repr__(self) -> str:
        return "<embed session_id=" + repr(self.session_id) + " state=" + self.state + ">"


class BrowserEmbed:
    def __init__(
        self,
        element: "js.Element",
        debug: bool,
        console: Console,
        hooks: "Hooks | None",
        pump: object,
        timings_url: "str | None" = None,
        boot: "inp.BootTimes | None" = None,
    ) -> None:
        self.element = element
        self._timings_url = timings_url
        self._boot = boot  # the loader's stamps, for a container found at boot
        # Hands the core the messages that came first (Bridge.pump). A callable: no type says
        # so here (MicroPython has no `typing`), hence the ignore where it is called.
        self._pump = pump
        self.debug = debug
        self.console = console
        self.hooks = hooks
        self.machine: EmbedSession | None = None
        self.iframe: js.HTMLIFrameElement | None = None
        # The relay's slot for the iframe's WindowProxy (the same object for every document
        # the iframe loads): how a message says it came from this iframe. -1: none.
        self.slot = -1
        # The loader's early mint record, until adopted or discarded.
        self._early: js.Object | None = None
        self.handle = EmbedHandle(self)
        self._timer: int | None = None
        self._timer_at: float | None = None  # the core deadline self._timer is set for
        self._frame: int | None = None
        # The actions of a step after its PostAuth, carried out a task later (_perform_all),
        # and that task's timer.
        self._rest: list[act.Action] = []
        self._rest_timer: int | None = None
        # By request id: the relay's ticket for each request out (ours, or the adopted
        # early mint), for aborting it; gone once answered.
        self._tickets: dict[int, int] = {}
        self._on_load = ffi.create_proxy(self._loaded)
        # The one callable the relay answers every request of this container with.
        self._on_answer = ffi.create_proxy(self._answered)
        self._on_timer = ffi.create_proxy(self._timer_fired)
        self._on_frame = ffi.create_proxy(self._frame_fired)
        self._on_rest = ffi.create_proxy(self._rest_due)

    # -- lifecycle ----------------------------------------------------------------

    def start(self) -> None:
        attrs = {}
        for name in CONTAINER_ATTRIBUTES:
            attrs[name] = ffi.attribute(self.element, name)
        self.machine = EmbedSession(None, self.debug, ffi.RUNTIME, self._timings_url)
        early = self._take_early()
        self.feed(inp.Start(attrs, str(js.location.origin), early, self._boot))

    def _take_early(self) -> "inp.EarlyMint | None":
        """The mint request the loader started for this element at page load, if any: the
        facts about it, for the core to judge (the record itself stays here)."""
        record = ffi.early_mint(self.element)
        if record is None:
            return None
        self._early = record
        url = ffi.text_field(record, "url") or ""
        cookie = ffi.text_field(record, "csrfCookie")
        href_now = None
        if js.URL.canParse(url.strip(), js.location.href):
            href_now = str(js.URL.new(url.strip(), js.location.href).href)
        return inp.EarlyMint(
            url,
            ffi.text_field(record, "href") or "",
            ffi.text_field(record, "bodyText") or "",
            cookie,
            ffi.text_field(record, "csrfHeader"),
            ffi.text_field(record, "csrfValue"),
            href_now,
            read_cookie(cookie) if cookie else None,
        )

    def teardown(self) -> None:
        if self.machine is not None:
            self.feed(inp.Teardown())
        self._discard_early()
        self._unwatch()
        # The core aborted its requests; none may answer a released callable.
        for request_id in list(self._tickets):
            ffi.abort(self._tickets.pop(request_id))
        if self._timer is not None:
            js.clearTimeout(self._timer)
            self._timer = None
            self._timer_at = None
        if self._rest_timer is not None:
            js.clearTimeout(self._rest_timer)
            self._rest_timer = None
        proxies = (self._on_load, self._on_timer, self._on_frame, self._on_answer, self._on_rest)
        for proxy in proxies:
            ffi.release(proxy)
        # MicroPython's proxies have no destroy(): each stays alive while this object
        # holds it, and keeps this object alive from the interpreter's table of callables
        # JS may call, a cycle across the two heaps that neither collector can break (each
        # torn-down container would stay in memory, its element and its machine with it).
        self._on_load = self._on_timer = self._on_frame = self._on_answer = None
        self._on_rest = None

    def embed_origin(self) -> "str | None":
        return self.machine.embed_origin if self.machine is not None else None

    def present(self) -> bool:
        """Still in the document, and still a container."""
        return bool(self.element.isConnected) and bool(
            self.element.hasAttribute("data-meshes-embed")
        )

    def iframe_lost(self) -> bool:
        return self.iframe is not None and not self.iframe.isConnected

    # -- inputs -------------------------------------------------------------------

    def feed(self, event: inp.Input, now: "float | None" = None) -> None:
        """The one ordered path: every input goes through here synchronously. `now`: when
        a relayed message came (seconds on the core's clock), one of a batch whose caller
        calls schedule_timer() once the batch is through; any other input is now, and the
        messages that came before it go first."""
        if self.machine is None:
            return
        relayed = now is not None
        if now is None:
            self._pump()  # type: ignore[operator]
            now = ffi.now()
        try:
            self._perform_all(self.machine.handle(event, now), schedule=not relayed)
        except Exception as exc:
            self._internal_error(exc)

    def _loaded(self, event: object = None) -> None:
        self.feed(inp.IframeLoaded())

    def _timer_fired(self, *args: object) -> None:
        self._timer = None
        self._timer_at = None
        self._pump()  # type: ignore[operator]
        try:
            # Set by start(), before any timer: never None here.
            self._perform_all(self.machine.handle_timer(ffi.now()))  # type: ignore[union-attr]
        except Exception as exc:
            self._internal_error(exc)

    def _frame_fired(self, *args: object) -> None:
        self._frame = None
        self.feed(inp.FrameTick())

    # -- actions ------------------------------------------------------------------

    def _perform_all(self, actions: "list[act.Action]", schedule: bool = True) -> None:
        if self._rest:
            self._perform_rest()  # an earlier step's actions come before this one's
        last = len(actions) - 1
        for i in range(len(actions)):
            action = actions[i]
            self._perform(action)
            if i < last and isinstance(action, act.PostAuth):
                # The browser sends a message to another process's frame only once the task
                # that posted it has ended: the rest of the step (events, state, console,
                # hooks) waits a task, in order, so the token leaves now.
                self._rest = actions[i + 1 :]
                self._rest_timer = js.setTimeout(self._on_rest, 0)
                break
        if schedule:
            self._schedule_timer()

    def _perform_rest(self) -> None:
        rest = self._rest
        self._rest = []
        if self._rest_timer is not None:
            js.clearTimeout(self._rest_timer)
            self._rest_timer = None
        for action in rest:
            self._perform(action)

    def _rest_due(self, *args: object) -> None:
        self._rest_timer = None
        try:
            self._perform_rest()
        except Exception as exc:
            self._internal_error(exc)

    def schedule_timer(self) -> None:
        """After a batch of messages: the timer for the core's next deadline."""
        try:
            self._schedule_timer()
        except Exception as exc:
            self._internal_error(exc)

    def _perform(self, action: act.Action) -> None:
        # isinstance, not type() is: mypy narrows on it. No action class has a subclass but
        # StartRequest (StartMint, StartRefresh, PostTimings), all sent the same way, so
        # each test still takes one class only.
        if isinstance(action, act.SetState):
            ffi.set_state(self.element, action.state)
        elif isinstance(action, act.Emit):
            self.emit(action.name, action.detail)
        elif isinstance(action, act.Log):
            self.console.write(action.level, action.text)
        elif isinstance(action, act.PostAuth):
            self._post(action)
        elif isinstance(action, act.SetHeight):
            if self.iframe is not None:
                self.iframe.style.height = str(action.height) + "px"
        elif isinstance(action, act.RequestFrame):
            self._frame = js.requestAnimationFrame(self._on_frame)
        elif isinstance(action, act.CancelFrame):
            if self._frame is not None:
                js.cancelAnimationFrame(self._frame)
                self._frame = None
        elif isinstance(action, act.MountIframe):
            self._mount(action)
        elif isinstance(action, act.RemoveIframe):
            self._unmount()
        elif isinstance(action, act.StartRequest):
            self._start_request(action)
        elif isinstance(action, act.AdoptEarlyMint):
            self._adopt_early(action.request_id)
        elif isinstance(action, act.DiscardEarlyMint):
            self._discard_early()
        elif isinstance(action, act.AbortRequest):
            ticket = self._tickets.pop(action.request_id, None)
            if ticket is not None:
                ffi.abort(ticket)
        else:
            raise TypeError("unknown action " + type(action).__name__)

    def _post(self, action: act.PostAuth) -> None:
        iframe = self.iframe
        if iframe is None or not ffi.post(iframe, action.message, action.target_origin):
            self.console.write("warn", "iframe gone before meshes:auth could be sent")

    def _mount(self, action: act.MountIframe) -> None:
        iframe = js.document.createElement("iframe")
        iframe.setAttribute("title", "Meshes")
        # OAuth connection setup may open popups from the iframe: no sandbox attribute.
        iframe.setAttribute("allow", "clipboard-write")
        iframe.setAttribute("referrerpolicy", "strict-origin-when-cross-origin")
        iframe.style.width = "100%"
        iframe.style.border = "0"
        iframe.style.display = "block"
        iframe.style.height = str(action.height) + "px"
        iframe.addEventListener("load", self._on_load)
        iframe.src = action.src
        self.iframe = iframe
        self.element.appendChild(iframe)
        window = iframe.contentWindow
        self._unwatch()
        if not ffi.is_null(window):
            # Whose messages from this window are read in full is the core's decision
            # (wants_fields), taken once here and handed to the relay, which carries it out
            # for each message: no call into Python per message to ask.
            machine = self.machine
            origin = None
            if machine is not None:
                origin = machine.embed_origin
                if origin is not None and not machine.wants_fields(origin, True):
                    origin = None
            self.slot = ffi.watch(window, origin)

    def _unmount(self) -> None:
        iframe = self.iframe
        self.iframe = None
        self._unwatch()
        if iframe is not None:
            iframe.removeEventListener("load", self._on_load)
            iframe.remove()

    def _unwatch(self) -> None:
        if self.slot >= 0:
            ffi.unwatch(self.slot)
            self.slot = -1

    def _schedule_timer(self) -> None:
        deadline = self.machine.next_deadline() if self.machine is not None else None
        if deadline == self._timer_at and (self._timer is not None) == (deadline is not None):
            return  # most inputs (a resize, a rejected message) leave the deadline as it was
        if self._timer is not None:
            js.clearTimeout(self._timer)
            self._timer = None
        self._timer_at = deadline
        if deadline is not None:
            delay = (deadline - ffi.now()) * 1000.0
            self._timer = js.setTimeout(self._on_timer, delay if delay > 0 else 0)

    # -- requests -----------------------------------------------------------------

    def _start_request(self, action: act.StartRequest) -> None:
        self._tickets[action.request_id] = post_json(
            self._on_answer,
            action.request_id,
            action.url,
            action.body,
            action.csrf_cookie,
            action.csrf_header,
        )

    def _adopt_early(self, request_id: int) -> None:
        record = self._early
        self._early = None
        if record is None:
            self.feed(inp.HttpFailed(request_id, "early request gone"))
            return
        self._tickets[request_id] = ffi.adopt(record, self._on_answer, request_id)

    def _answered(self, request_id: int, status: int, text: str) -> None:
        """The relay's answer to a request (core/wire.py, "Requests"): a status and the
        body's text, or an Outcome. One this container no longer waits for is dropped."""
        try:
            if self._tickets.pop(request_id, None) is None:
                return
            status = int(status)
            if status == Outcome.NETWORK_ERROR:
                self.feed(inp.HttpFailed(request_id, "network error"))
            elif status == Outcome.BAD_URL:
                self.feed(inp.HttpFailed(request_id, "URL does not parse"))
            else:
                self.feed(inp.HttpAnswered(request_id, status, str(text)))
        except Exception as exc:
            self._internal_error(exc)

    def _discard_early(self) -> None:
        record = self._early
        self._early = None
        if record is not None:
            record.abort()

    # -- output to the host -------------------------------------------------------

    def emit(self, name: str, detail: "dict[str, object]") -> None:
        ffi.dispatch(self.element, EVENT_PREFIX + name, detail)
        if self.hooks is not None:
            self.hooks.dispatch(self.handle, name, detail)

    def report_hook_error(self, code: str, message: str) -> None:
        self.console.write("error", code + ": " + message)
        self.emit(Event.ERROR, {"code": code, "message": message})

    def _internal_error(self, exc: Exception) -> None:
        # An exception in carrying out (the core's own are handled inside it). Only the
        # exception's type: its text could quote data we must not log.
        text = "internal error: " + type(exc).__name__
        self.console.write("error", text)
        try:
            self.emit(Event.ERROR, {"code": ErrorCode.INTERNAL, "message": text})
        except Exception:
            pass
