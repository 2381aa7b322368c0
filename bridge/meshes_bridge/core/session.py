"""One embed's whole protocol state, as a single machine (in the manner of h11).

`EmbedSession.handle(event, now)` takes an input from `meshes_bridge.core.inputs` and
the current monotonic time in seconds, and returns the actions
(`meshes_bridge.core.actions`) the adapter must carry out, in order. `next_deadline()`
says when the machine next needs `handle_timer(now)`; it is the earliest of its parts'
deadlines (the mint and refresh flights, the ready watchdog), so nothing here sleeps or
reads a clock.

Every move of `state` is a cell of the table in `meshes_bridge.core.transitions`: a
handler names what happened (`self._move(TOKEN_EXPIRED)`) and the table says where that
leads from the current state. The parts keep their own state: `Flight` (a request, its
timeout, retries and budget), `ReadyWatchdog` (the iframe's document), `ResizeCoalescer`.

Like h11, the machine fails safe: an unexpected exception while handling an input (a
missing cell of the table among them) leaves it in `error` (code `internal`) with its
token dropped, its iframe removed and its timers and requests cancelled, and it ignores
every later input.
"""

from meshes_bridge.core import actions as act
from meshes_bridge.core import inputs as inp
from meshes_bridge.core import messages as msg
from meshes_bridge.core import transitions as tr
from meshes_bridge.core.config import ConfigError, ContainerConfig, parse_container
from meshes_bridge.core.flight import Flight
from meshes_bridge.core.mint import MintRefused, accept_session, is_same_request
from meshes_bridge.core.origins import quote_component
from meshes_bridge.core.redact import redact_fields
from meshes_bridge.core.rejections import RejectionLog
from meshes_bridge.core.resize import ResizeCoalescer, clamp_height
from meshes_bridge.core.responses import ResponseError, failure_text, parse_refresh
from meshes_bridge.core.retry import SESSION_GONE
from meshes_bridge.core.tokens import Tokens
from meshes_bridge.core.transitions import DROPPED, StateError
from meshes_bridge.core.watchdog import ReadyWatchdog

MINT_TIMEOUT = 15.0
REFRESH_TIMEOUT = 10.0
# Fresh sessions minted in a row without the iframe ever authenticating; then give up.
MAX_REMOUNTS = 3
# Backend requests per container, whatever asks for them (retries included), within any
# BUDGET_WINDOW seconds; past it a request waits for a free slot. Across iframe swaps
# too: the machine outlives its iframe.
BUDGET_WINDOW = 60.0
MINT_BUDGET = 5
REFRESH_BUDGET = 6
# Console lines for rejected messages per container within BUDGET_WINDOW (see rejections).
REJECTION_LOG_BUDGET = 25
# handle_timer's input: the deadlines are data here, so a timer is one more input.
_TIMER = inp.Input()


class EmbedSession:
    _table = tr.TABLE  # an attribute, so that a test can give one session a cell less

    def __init__(self, config: "ContainerConfig | None" = None, debug: bool = False) -> None:
        self._config = config
        self.debug = debug
        self.state = tr.BOOTING
        self.session_id: str | None = None
        self.expires_at: str | None = None
        self.embed_origin: str | None = None
        self._tokens = Tokens()
        self._closed = False
        self._out: list[act.Action] = []
        self._next_id = 0
        self._mint = Flight(MINT_BUDGET, BUDGET_WINDOW, MINT_TIMEOUT)
        self._refresh = Flight(REFRESH_BUDGET, BUDGET_WINDOW, REFRESH_TIMEOUT)
        self._refresh_loop_reported = False
        self._rejections = RejectionLog(REJECTION_LOG_BUDGET, BUDGET_WINDOW)
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
        self._out = []
        try:
            if event is _TIMER:
                self._timers_due(now)
            else:
                self._dispatch(event, now)
        except Exception as exc:
            self._fail_safe(exc)
        out = self._out
        self._out = []
        return out

    def handle_timer(self, now: float) -> "list[act.Action]":
        """Call at (or after) next_deadline()."""
        return self.handle(_TIMER, now)

    def next_deadline(self) -> "float | None":
        """The earliest time handle_timer() has work to do, or None."""
        if self._closed:
            return None
        # Asked after every input: no list, no min() (MicroPython pays for each).
        best = self._mint.wake_at
        other = self._refresh.wake_at
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
                self._out.append(act.SetHeight(height))
                self._emit("resize", {"height": height})
        elif isinstance(event, inp.HttpAnswered):
            if self._mint.land(event.request_id):
                self._mint_answered(event.status, event.body, now)
            elif self._refresh.land(event.request_id):
                self._refresh_answered(event.status, event.body, now)
        elif isinstance(event, inp.HttpFailed):
            self._on_http_failed(event.request_id, event.reason, now)
        elif isinstance(event, inp.IframeLoaded):
            if self._move(tr.LOADED):
                self._watchdog.loaded(now)
        elif isinstance(event, inp.IframeLost):
            if self._next(tr.LOST) != DROPPED:
                # Its launch URL is spent: only a new session can bring it back. The same
                # machine carries on, so the remount cap and the mint budget hold.
                self._log("warn", "the iframe was taken out of the page; minting a fresh session")
                self._remount(tr.LOST, now)
        elif isinstance(event, inp.Start):
            self._on_start(event, now)
        elif isinstance(event, inp.Teardown):
            self._stop()
            self._closed = True
        else:
            raise TypeError("unknown input " + type(event).__name__)

    def _timers_due(self, now: float) -> None:
        for flight in (self._mint, self._refresh):
            request_id = flight.overdue(now)
            if request_id is not None:
                self._out.append(act.AbortRequest(request_id))
                self._on_http_failed(request_id, "timed out", now)
        if self._mint.due(now):
            self._begin_mint(now)
        if self._refresh.due(now):
            self._begin_refresh(now)
        if self._watchdog.tripped(now):
            seconds = str(self.config.ready_timeout)
            self._log("warn", "no meshes:ready within " + seconds + " s; minting a fresh session")
            self._report("ready-timeout", "the embed did not say ready within " + seconds + " s")
            self._remount(tr.READY_TIMEOUT, now)

    def _on_start(self, event: inp.Start, now: float) -> None:
        target = self._next(tr.START)
        if target == DROPPED:
            return  # started already: a second start must not mint a second iframe
        early = event.early
        self._early_open = early is not None
        if event.attributes is not None:
            try:
                self._config = parse_container(event.attributes, event.page_origin or "")
            except ConfigError as exc:
                self._fail("config", exc.message)
                return
        self._enter(target)
        if early is not None:
            self._early_open = False
            if is_same_request(early, self.config):
                self._next_id += 1
                self._mint.send(self._next_id, now)
                self._out.append(act.AdoptEarlyMint(self._next_id))
                return
            self._out.append(act.DiscardEarlyMint())
            self._log("debug", "the loader's early mint request is not this one; minting again")
        self._begin_mint(now)

    def _on_http_failed(self, request_id: int, reason: str, now: float) -> None:
        if self._mint.land(request_id):
            self._mint_failed(None, "session request failed: " + reason, now)
        elif self._refresh.land(request_id):
            self._refresh_failed(None, "refresh request failed: " + reason, now)

    def _on_message(self, event: inp.MessageReceived, now: float) -> None:
        if self.embed_origin is None or event.origin != self.embed_origin:
            self._reject(event, msg.Rejection("origin", "not the embed origin"), now)
            return
        # Without an iframe (gone after an error) nothing can come from it, whatever
        # the adapter says.
        if not event.from_iframe or not self._watchdog.present:
            self._reject(event, msg.Rejection("source", "not this container's iframe"), now)
            return
        message = msg.parse_message(event.data)
        if isinstance(message, msg.Rejection):
            self._reject(event, message, now)
            return
        if self.debug:
            self._log("debug", "received " + str(redact_fields(event.data.fields)))
        if isinstance(message, msg.ResizeAsked):
            config = self.config
            height = clamp_height(message.height, config.min_height, config.max_height)
            if self._resize.ask(height):
                self._out.append(act.RequestFrame())
        elif isinstance(message, msg.TokenRefreshAsked):
            self._on_token_refresh(now)
        elif isinstance(message, msg.Ready):
            self._on_ready(now)
        elif isinstance(message, msg.TokenExpired):
            self._on_token_expired(now)
        elif isinstance(message, msg.NavigateAsked):
            self._emit("navigate", self._tokens.scrub(message.fields))
        else:
            raise TypeError("unknown message " + type(message).__name__)

    def _on_ready(self, now: float) -> None:
        self._watchdog.ready(now)
        self._emit("ready", {})
        self._settle(tr.READY)

    def _on_token_refresh(self, now: float) -> None:
        self._move(tr.REFRESH_ASKED)
        self._want_refresh(now)

    def _on_token_expired(self, now: float) -> None:
        self._move(tr.TOKEN_EXPIRED)
        self._log("warn", "the embed reports its token expired; refreshing")
        self._emit("token-expired", {})
        self._want_refresh(now)

    def _reject(self, event: inp.MessageReceived, rejection: msg.Rejection, now: float) -> None:
        self._emit("rejected", {"reason": rejection.reason, "origin": event.origin})
        kind = msg.message_type(event.data)
        loud = event.origin == self.embed_origin or (kind or "").startswith("meshes:")
        if not loud and not self.debug:
            return  # a debug line nobody prints: a junk flood must cost as little as it can
        text = self._rejections.line(event.origin, rejection.reason, rejection.detail, now)
        if text is not None:
            self._log("warn" if loud else "debug", text)

    # -- the mint and the refresh -------------------------------------------------

    def _send(
        self,
        flight: Flight,
        kind: "type[act.StartRequest]",
        url: str,
        body: "dict[str, object]",
        now: float,
    ) -> None:
        config = self.config
        self._next_id += 1
        flight.send(self._next_id, now)
        self._out.append(kind(self._next_id, url, body, config.csrf_cookie, config.csrf_header))

    def _begin_mint(self, now: float) -> None:
        when = self._mint.wait_for_budget(now)
        if when > now:
            wait = str(int(when - now + 0.999))
            text = " sessions in " + str(int(BUDGET_WINDOW)) + " s; the next one in " + wait + " s"
            self._log("warn", "minted " + str(MINT_BUDGET) + text)
            return
        config = self.config
        self._send(self._mint, act.StartMint, config.session_url, config.session_body, now)

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
        self._mint.attempt = 0
        self.session_id = session.session_id
        self.expires_at = session.expires_at
        self._tokens.hold(session.access_token)
        self.embed_origin = embed_origin
        self._watchdog.mounted(now, config.ready_timeout)
        height = clamp_height(0, config.min_height, config.max_height)
        self._out.append(act.MountIframe(session.launch_url, height))
        self._move(tr.MINTED)
        self._log("info", "minted session " + session.session_id + "; iframe mounted")

    def _mint_failed(self, status: "int | None", text: str, now: float) -> None:
        if self._mint.retry_later(status, now):
            self._log("warn", text + "; retrying")
        else:
            self._fail("mint-failed", text)

    def _want_refresh(self, now: float) -> None:
        # Single flight: asks while a request (or its retry) is pending share its answer.
        if self._refresh.idle():
            self._begin_refresh(now)

    def _begin_refresh(self, now: float) -> None:
        session_id = self.session_id
        if session_id is None:
            raise StateError("a refresh without a session")
        flight = self._refresh
        when = flight.wait_for_budget(now)
        if when > now:
            # An iframe asking in a loop: the backend gets at most the budget, the asks
            # meanwhile share the one refresh that waits for the next free slot.
            if not self._refresh_loop_reported:
                self._refresh_loop_reported = True
                limit = str(REFRESH_BUDGET) + " token refreshes within " + str(int(BUDGET_WINDOW))
                wait = " s; the next refresh waits " + str(int(when - now + 0.999)) + " s"
                self._report("refresh-loop", "the embed asked for more than " + limit + wait)
            return
        if flight.budget.used(now) < REFRESH_BUDGET // 2:
            self._refresh_loop_reported = False
        url = self.config.refresh_url.replace("{session_id}", quote_component(session_id))
        self._send(flight, act.StartRefresh, url, {}, now)

    def _refresh_answered(self, status: int, body: str, now: float) -> None:
        if not 200 <= status < 300:
            self._refresh_failed(status, failure_text("refresh endpoint", status, body), now)
            return
        try:
            refreshed = parse_refresh(body)
        except ResponseError as exc:
            self._report("refresh-failed", "refresh response unusable: " + str(exc))
            self._remount(tr.REFRESH_FAILED, now)
            return
        self._refresh.attempt = 0
        self._tokens.hold(refreshed.access_token)
        self.expires_at = refreshed.expires_at
        self._log("info", "refreshed session " + str(self.session_id))
        self._emit("token-refreshed", {"expires_at": refreshed.expires_at})
        self._settle(tr.REFRESHED if self._watchdog.can_post() else tr.REFRESHED_UNREADY)

    def _refresh_failed(self, status: "int | None", text: str, now: float) -> None:
        if status in SESSION_GONE:
            self._log("warn", text + ": the session is gone; minting a fresh one")
        elif self._refresh.retry_later(status, now):
            self._log("warn", text + "; retrying")
            return
        else:
            self._report("refresh-failed", text)
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

    def _settle(self, kind: str) -> None:
        """Take the move for `kind`; one to authenticated is the token posted."""
        target = self._next(kind)
        if target != tr.AUTHENTICATED:
            self._enter(target)
            return
        token = self._tokens.token
        origin = self.embed_origin
        if token is None or origin is None or not self._watchdog.can_post():
            raise StateError("authenticated without a token or a ready document")
        self._out.append(act.PostAuth(msg.auth_message(token), origin))
        if self.debug:
            self._log("debug", "sent meshes:auth (token [redacted]) to " + origin)
        self._remounts = 0
        self._enter(tr.AUTHENTICATED)
        self._emit("authenticated", {})

    def _enter(self, state: str) -> None:
        """The one place `state` changes."""
        if state != self.state:
            self.state = state
            self._out.append(act.SetState(state))

    def _remount(self, kind: str, now: float) -> None:
        """Drop the iframe and the session, then mint and mount afresh."""
        self._remounts += 1
        if self._remounts > MAX_REMOUNTS:
            self._fail("remount-limit", "gave up after " + str(MAX_REMOUNTS) + " fresh sessions")
            return
        self._stop()
        self.session_id = None
        self.expires_at = None
        self.embed_origin = None
        self._move(kind)
        self._begin_mint(now)

    def _stop(self) -> None:
        """Abort the requests, remove the iframe (its frame and watchdog with it), drop
        the token."""
        self._abort_requests(self._out)
        if self._resize.frame_requested:
            self._resize.take()
            self._out.append(act.CancelFrame())
        if self._watchdog.present:
            self._out.append(act.RemoveIframe())
        self._watchdog.removed()
        self._tokens.token = None

    def _abort_requests(self, out: "list[act.Action]") -> None:
        for flight in (self._mint, self._refresh):
            request_id = flight.cancel()
            if request_id is not None:
                out.append(act.AbortRequest(request_id))

    def _fail(self, code: str, message: str) -> None:
        """Give up for good: this container stays in `error` until it is removed."""
        if self._early_open:
            self._early_open = False
            self._out.append(act.DiscardEarlyMint())
        self._stop()
        self._move(tr.FAIL)
        self._report(code, message)

    def _fail_safe(self, exc: Exception) -> None:
        """An unexpected exception: whatever the handler had planned is dropped (none of
        it has been carried out), then everything this machine started is undone by hand,
        without trusting the helpers that may have raised. Every state may fail, so the
        move is not looked up: a bad table must not keep the machine from failing."""
        self._out = []
        out = self._out
        if self._early_open:
            out.append(act.DiscardEarlyMint())
        self._abort_requests(out)
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

    # -- output -------------------------------------------------------------------

    def _report(self, code: str, message: str) -> None:
        message = self._tokens.redact(message)
        self._log("error", code + ": " + message)
        self._emit("error", {"code": code, "message": message})

    def _emit(self, name: str, detail: "dict[str, object]") -> None:
        self._out.append(act.Emit(name, detail))

    def _log(self, level: str, text: str) -> None:
        self._out.append(act.Log(level, self._tokens.redact(text)))
