"""One embed's whole protocol state, as a single machine (in the manner of h11).

`EmbedSession.handle(event, now)` takes an input from `meshes_bridge.core.inputs` and
the current monotonic time in seconds, and returns the actions
(`meshes_bridge.core.actions`) the adapter must carry out, in order (the `Outbox` puts
what someone waits on first: the token posted, a request sent). `next_deadline()`
says when the machine next needs `handle_timer(now)`; it is the earliest of its parts'
deadlines (the mint and refresh flights, the ready watchdog), so nothing here sleeps or
reads a clock.

Every move of `state` is a cell of the table in `meshes_bridge.core.transitions`: a
handler names what happened (`self._move(TOKEN_EXPIRED)`) and the table says where that
leads from the current state. The parts keep their own state: `Backend` (the mint and
the refresh requests, each a `Flight`: a request, its timeout, retries and budget),
`MessageGate` (which messages may be acted on; the rejections), `ReadyWatchdog` (the
iframe's document), `ResizeCoalescer`. Every action goes out through one `Outbox`, which
redacts the tokens from what it writes.

Like h11, the machine fails safe: an unexpected exception while handling an input (a
missing cell of the table among them) leaves it in `error` (code `internal`) with its
token dropped, its iframe removed and its timers and requests cancelled, and it ignores
every later input.
"""

from meshes_bridge.core import actions as act
from meshes_bridge.core import inputs as inp
from meshes_bridge.core import messages as msg
from meshes_bridge.core import timings as tm
from meshes_bridge.core import transitions as tr
from meshes_bridge.core.backend import Backend
from meshes_bridge.core.config import ConfigError, ContainerConfig, parse_container
from meshes_bridge.core.gate import MessageGate
from meshes_bridge.core.limits import MAX_REMOUNTS
from meshes_bridge.core.mint import MintRefused, accept_session
from meshes_bridge.core.outbox import Outbox
from meshes_bridge.core.redact import redact_fields
from meshes_bridge.core.resize import ResizeCoalescer, clamp_height
from meshes_bridge.core.responses import ResponseError, failure_text, parse_refresh
from meshes_bridge.core.retry import SESSION_GONE
from meshes_bridge.core.tokens import Tokens
from meshes_bridge.core.transitions import DROPPED, StateError
from meshes_bridge.core.watchdog import ReadyWatchdog

# handle_timer's input: the deadlines are data here, so a timer is one more input.
_TIMER = inp.Input()


class EmbedSession:
    _table = tr.TABLE  # an attribute, so that a test can give one session a cell less

    def __init__(
        self,
        config: "ContainerConfig | None" = None,
        debug: bool = False,
        runtime: "str | None" = None,
        timings_url: "str | None" = None,
    ) -> None:
        self._config = config
        self.debug = debug
        # The script tag's data-timings-url (checked same-origin): each mount's timings are
        # POSTed there too.
        self.timings_url = timings_url
        self.state = tr.BOOTING
        self.session_id: str | None = None
        self.expires_at: str | None = None
        self.embed_origin: str | None = None
        self._tokens = Tokens()
        self._out = Outbox(self._tokens)
        self._closed = False
        self._timings = tm.Timings(runtime)
        self._backend = Backend(self._out, self._timings)
        self._gate = MessageGate(self._out)
        self._early_open = False  # the loader's early mint is neither adopted nor discarded
        self._remounts = 0
        self._watchdog = ReadyWatchdog()
        self._resize = ResizeCoalescer()

    @property
    def config(self) -> ContainerConfig:
        if self._config is None:
            raise StateError("not configured yet")
        return self._config

    # -- public verbs -------------------------------------------------------------

    def handle(self, event: inp.Input, now: float) -> "list[act.Action]":
        """Feed one input; returns the actions to carry out, in order."""
        if self._closed:
            return []
        self._out.clear()
        try:
            if event is _TIMER:
                self._timers_due(now)
            else:
                self._dispatch(event, now)
        except Exception as exc:
            self._fail_safe(exc)
        return self._out.take()

    def handle_timer(self, now: float) -> "list[act.Action]":
        """Call at (or after) next_deadline()."""
        return self.handle(_TIMER, now)

    def next_deadline(self) -> "float | None":
        """The earliest time handle_timer() has work to do, or None."""
        if self._closed:
            return None
        # Asked after every input: no list, no min() (MicroPython pays for each).
        best = self._backend.mint.wake_at
        other = self._backend.refresh.wake_at
        if other is not None and (best is None or other < best):
            best = other
        other = self._backend.reports.deadline
        if other is not None and (best is None or other < best):
            best = other
        other = self._watchdog.deadline
        if other is not None and (best is None or other < best):
            best = other
        return best

    def can_post(self) -> bool:
        """Has the iframe's current document said ready (so it may get the token)?"""
        return self._watchdog.can_post()

    def wants_fields(self, origin: str, from_iframe: bool) -> bool:
        """Should the adapter read this message's data in full? Only a message from this
        container's iframe, on the embed origin, can be acted on: of any other the core
        needs no more than its `type` (to decide how loudly to log the rejection)."""
        return from_iframe and self._watchdog.present and origin == self.embed_origin

    # -- inputs -------------------------------------------------------------------

    def _dispatch(self, event: inp.Input, now: float) -> None:
        if isinstance(event, inp.MessageReceived):
            self._on_message(event, now)
        elif isinstance(event, inp.FrameTick):
            height = self._resize.take()
            if height is not None and self._watchdog.present:
                self._out.add(act.SetHeight(height))
                self._out.emit("resize", {"height": height})
        elif isinstance(event, inp.HttpAnswered):
            if self._backend.mint.land(event.request_id):
                self._mint_answered(event.status, event.body, now)
            elif self._backend.refresh.land(event.request_id):
                self._refresh_answered(event.status, event.body, now)
            elif self._backend.reports.land(event.request_id) and not 200 <= event.status < 300:
                self._report_failed("HTTP " + str(event.status))
        elif isinstance(event, inp.HttpFailed):
            self._on_http_failed(event.request_id, event.reason, now)
        elif isinstance(event, inp.IframeLoaded):
            if self._move(tr.LOADED):
                self._watchdog.loaded(now)
                self._timings.mark(tm.IFRAME_LOADED, now)
        elif isinstance(event, inp.IframeLost):
            if self._next(tr.LOST) != DROPPED:
                # Its launch URL is spent: only a new session can bring it back. The same
                # machine carries on, so the remount cap and the mint budget hold.
                text = "the iframe was taken out of the page; minting a fresh session"
                self._out.log("warn", text)
                self._remount(tr.LOST, now)
        elif isinstance(event, inp.Start):
            self._on_start(event, now)
        elif isinstance(event, inp.Teardown):
            self._stop()
            self._backend.cancel_reports()
            self._closed = True
        else:
            raise TypeError("unknown input " + type(event).__name__)

    def _timers_due(self, now: float) -> None:
        backend = self._backend
        for flight in (backend.mint, backend.refresh):
            request_id = flight.overdue(now)
            if request_id is not None:
                self._out.add(act.AbortRequest(request_id))
                self._on_http_failed(request_id, "timed out", now)
        for request_id in backend.reports.overdue(now):
            self._out.add(act.AbortRequest(request_id))
            self._report_failed("timed out")
        if backend.mint.due(now):
            backend.start_mint(self.config, now)
        if backend.refresh.due(now):
            backend.start_refresh(self.session_id, self.config, now)
        if self._watchdog.tripped(now):
            within = " within " + str(self.config.ready_timeout) + " s"
            self._out.log("warn", "no meshes:ready" + within + "; minting a fresh session")
            self._out.report("ready-timeout", "the embed did not say ready" + within)
            self._remount(tr.READY_TIMEOUT, now)

    def _on_start(self, event: inp.Start, now: float) -> None:
        target = self._next(tr.START)
        if target == DROPPED:
            return  # started already: a second start must not mint a second iframe
        self._early_open = event.early is not None
        if event.attributes is not None:
            try:
                self._config = parse_container(event.attributes, event.page_origin or "")
            except ConfigError as exc:
                self._fail("config", exc.message)
                return
        self._enter(target)
        self._early_open = False
        if event.boot is not None:
            self._timings.boot(event.boot.loader, event.boot.runtime_ready)
        self._backend.first_mint(event.early, self.config, now)

    def _on_http_failed(self, request_id: int, reason: str, now: float) -> None:
        if self._backend.mint.land(request_id):
            self._mint_failed(None, "session request failed: " + reason, now)
        elif self._backend.refresh.land(request_id):
            self._refresh_failed(None, "refresh request failed: " + reason, now)
        elif self._backend.reports.land(request_id):
            self._report_failed(reason)

    def _report_failed(self, reason: str) -> None:
        # The host's collector: nothing of the embed depends on it, and what it answered
        # is not ours to log.
        self._out.log("warn", "timings not posted to data-timings-url: " + reason)

    def _on_message(self, event: inp.MessageReceived, now: float) -> None:
        present = self._watchdog.present
        message = self._gate.admit(event, self.embed_origin, present, self.debug, now)
        if message is None:
            return
        if self.debug:
            self._out.log("debug", "received " + str(redact_fields(event.data.fields)))
        if isinstance(message, msg.ResizeAsked):
            config = self.config
            height = clamp_height(message.height, config.min_height, config.max_height)
            if self._resize.ask(height):
                self._out.add(act.RequestFrame())
        elif isinstance(message, msg.TokenRefreshAsked):
            self._on_token_refresh(now)
        elif isinstance(message, msg.Ready):
            self._on_ready(now)
        elif isinstance(message, msg.TokenExpired):
            self._on_token_expired(now)
        elif isinstance(message, msg.NavigateAsked):
            self._out.emit("navigate", self._tokens.scrub(message.fields))
        else:
            raise TypeError("unknown message " + type(message).__name__)

    def _on_ready(self, now: float) -> None:
        self._watchdog.ready(now)
        self._timings.mark(tm.READY, now)
        self._out.emit("ready", {})
        self._settle(tr.READY, now)

    def _on_token_refresh(self, now: float) -> None:
        self._move(tr.REFRESH_ASKED)
        self._backend.want_refresh(self.session_id, self.config, now)

    def _on_token_expired(self, now: float) -> None:
        self._move(tr.TOKEN_EXPIRED)
        self._out.log("warn", "the embed reports its token expired; refreshing")
        self._out.emit("token-expired", {})
        self._backend.want_refresh(self.session_id, self.config, now)

    # -- the answers to the mint and the refresh ----------------------------------

    def _mint_answered(self, status: int, body: str, now: float) -> None:
        if not 200 <= status < 300:
            self._mint_failed(status, failure_text("session endpoint", status, body), now)
            return
        config = self.config
        try:
            session, embed_origin = accept_session(body, config)
        except MintRefused as exc:
            self._fail(exc.code, exc.message)
            return
        self._backend.mint.attempt = 0
        self._timings.mark(tm.MINT_ANSWERED, now)
        self.session_id = session.session_id
        self.expires_at = session.expires_at
        self._tokens.hold(session.access_token)
        self.embed_origin = embed_origin
        self._watchdog.mounted(now, config.ready_timeout)
        height = clamp_height(0, config.min_height, config.max_height)
        self._out.add(act.MountIframe(session.launch_url, height))
        self._timings.mark(tm.IFRAME_CREATED, now)
        self._move(tr.MINTED)
        self._out.log("info", "minted session " + session.session_id + "; iframe mounted")

    def _mint_failed(self, status: "int | None", text: str, now: float) -> None:
        if self._backend.mint.retry_later(status, now):
            self._out.log("warn", text + "; retrying")
        else:
            self._fail("mint-failed", text)

    def _refresh_answered(self, status: int, body: str, now: float) -> None:
        if not 200 <= status < 300:
            self._refresh_failed(status, failure_text("refresh endpoint", status, body), now)
            return
        try:
            refreshed = parse_refresh(body)
        except ResponseError as exc:
            self._out.report("refresh-failed", "refresh response unusable: " + str(exc))
            self._remount(tr.REFRESH_FAILED, now)
            return
        self._backend.refresh.attempt = 0
        self._tokens.hold(refreshed.access_token)
        self.expires_at = refreshed.expires_at
        self._out.log("info", "refreshed session " + str(self.session_id))
        self._out.emit("token-refreshed", {"expires_at": refreshed.expires_at})
        self._settle(tr.REFRESHED if self._watchdog.can_post() else tr.REFRESHED_UNREADY, now)

    def _refresh_failed(self, status: "int | None", text: str, now: float) -> None:
        if status in SESSION_GONE:
            self._out.log("warn", text + ": the session is gone; minting a fresh one")
        elif self._backend.refresh.retry_later(status, now):
            self._out.log("warn", text + "; retrying")
            return
        else:
            self._out.report("refresh-failed", text)
        self._remount(tr.REFRESH_FAILED, now)

    # -- moves --------------------------------------------------------------------

    def _next(self, kind: str) -> str:
        return tr.next_state(self._table, self.state, kind)

    def _move(self, kind: str) -> bool:
        """Take the table's move for `kind`; False when the table drops it here."""
        target = self._next(kind)
        if target == DROPPED:
            return False
        self._enter(target)
        return True

    def _settle(self, kind: str, now: float) -> None:
        """Take the move for `kind`; one to authenticated is the token posted (the first
        time in a mount, its timings go out too)."""
        target = self._next(kind)
        if target != tr.AUTHENTICATED:
            self._enter(target)
            return
        token = self._tokens.token
        origin = self.embed_origin
        if token is None or origin is None or not self._watchdog.can_post():
            raise StateError("authenticated without a token or a ready document")
        self._out.add(act.PostAuth(msg.auth_message(token), origin))
        if self.debug:
            self._out.log("debug", "sent meshes:auth (token [redacted]) to " + origin)
        self._remounts = 0
        self._enter(tr.AUTHENTICATED)
        self._out.emit("authenticated", {})
        timings = self._timings.authenticated(now)
        if timings is not None:
            self._out.emit("timings", timings)
            if self.timings_url is not None:
                self._backend.send_report(self.timings_url, dict(timings), self.config, now)

    def _enter(self, state: str) -> None:
        """The one place `state` changes."""
        if state != self.state:
            self.state = state
            self._out.add(act.SetState(state))

    def _remount(self, kind: str, now: float) -> None:
        """Drop the iframe and the session, then mint and mount afresh."""
        self._remounts += 1
        if self._remounts > MAX_REMOUNTS:
            self._fail("remount-limit", "gave up after " + str(MAX_REMOUNTS) + " fresh sessions")
            return
        self._stop()
        self._timings.mount_again()
        self.session_id = None
        self.expires_at = None
        self.embed_origin = None
        self._move(kind)
        self._backend.start_mint(self.config, now)

    def _stop(self) -> None:
        """Abort the requests, remove the iframe (its frame and watchdog with it), drop
        the token."""
        self._backend.cancel()
        if self._resize.frame_requested:
            self._resize.take()
            self._out.add(act.CancelFrame())
        if self._watchdog.present:
            self._out.add(act.RemoveIframe())
        self._watchdog.removed()
        self._tokens.token = None

    def _fail(self, code: str, message: str) -> None:
        """Give up for good: this container stays in `error` until it is removed."""
        if self._early_open:
            self._early_open = False
            self._out.add(act.DiscardEarlyMint())
        self._stop()
        self._backend.cancel_reports()  # nothing of a container given up stays out
        self._move(tr.FAIL)
        self._out.report(code, message)

    def _fail_safe(self, exc: Exception) -> None:
        """An unexpected exception: whatever the handler had planned is dropped (none of
        it has been carried out), then everything this machine started is undone by hand,
        without trusting the helpers that may have raised. Every state may fail, so the
        move is not looked up: a bad table must not keep the machine from failing."""
        self._out.clear()
        out = self._out.actions
        if self._early_open:
            out.append(act.DiscardEarlyMint())
        self._backend.cancel()
        self._backend.cancel_reports()
        out.append(act.CancelFrame())
        if self._watchdog.present:
            out.append(act.RemoveIframe())
        self._watchdog.removed()
        self._tokens.token = None
        self._early_open = False
        self._closed = True
        self._enter(tr.ERROR)
        # Only the exception's type: its text could quote data we must not log.
        text = "internal error: " + type(exc).__name__
        out.append(act.Log("error", "internal: " + text))
        out.append(act.Emit("error", {"code": "internal", "message": text}))
