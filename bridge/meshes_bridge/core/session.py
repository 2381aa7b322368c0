"""One embed's whole protocol state, as a single machine (in the manner of h11).

`EmbedSession.handle(event, now)` takes an input from `meshes_bridge.core.inputs` and
the current monotonic time in seconds, and returns the actions
(`meshes_bridge.core.actions`) the adapter must carry out, in order. `next_deadline()`
says when the machine next needs `handle_timer(now)`; retries, request timeouts, budgets
and the ready watchdog are all deadlines, so nothing here sleeps or reads a clock.

Like h11, the machine fails safe: an unexpected exception while handling an input
leaves it in `error` (code `internal`) with its token dropped, its iframe removed and
its timers and requests cancelled, and it ignores every later input.
"""

import json

from meshes_bridge.core import actions as act
from meshes_bridge.core import inputs as inp
from meshes_bridge.core import messages as msg
from meshes_bridge.core.budget import Budget
from meshes_bridge.core.config import ConfigError, ContainerConfig, parse_container
from meshes_bridge.core.origins import OriginError, check_embed_origin, quote_component, split_url
from meshes_bridge.core.redact import redact, redact_fields
from meshes_bridge.core.resize import ResizeCoalescer, clamp_height
from meshes_bridge.core.responses import ResponseError, parse_refresh, parse_session
from meshes_bridge.core.retry import SESSION_GONE, backoff_delay, can_retry, is_retriable

BOOTING = "booting"
MINTING = "minting"
MOUNTED = "mounted"
AUTHENTICATED = "authenticated"
REFRESHING = "refreshing"
EXPIRED = "expired"
ERROR = "error"

# The legal moves, read top to bottom. Anything else is a bug and raises StateError.
TRANSITIONS = {
    BOOTING: (MINTING, ERROR),
    MINTING: (MOUNTED, ERROR),
    MOUNTED: (AUTHENTICATED, REFRESHING, EXPIRED, MINTING, ERROR),
    # -> MOUNTED: a refresh answered after a hard reload whose document has not said
    # ready yet (a ready during the refresh had made the state authenticated again).
    AUTHENTICATED: (MOUNTED, REFRESHING, EXPIRED, MINTING, ERROR),
    REFRESHING: (AUTHENTICATED, MOUNTED, EXPIRED, MINTING, ERROR),
    EXPIRED: (AUTHENTICATED, MOUNTED, MINTING, ERROR),
    ERROR: (),
}

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
# Console lines for rejected messages per container within BUDGET_WINDOW: every rejection
# still gets its event, but a flood must not become a flood of console.warn calls (each
# costs far more than the rest of a rejection).
REJECTION_LOG_BUDGET = 25
# Old tokens kept for redaction only; a handful covers any iframe that lags behind.
MAX_SECRETS = 8

# Where the document in the iframe stands with respect to meshes:ready.
_NO_DOCUMENT = "none"
_AWAITING_READY = "pending"
_READY = "credited"


class StateError(RuntimeError):
    pass


class EmbedSession:
    def __init__(self, config: "ContainerConfig | None" = None, debug: bool = False) -> None:
        self._config = config
        self.debug = debug
        self.state = BOOTING
        self.session_id: str | None = None
        self.expires_at: str | None = None
        self.embed_origin: str | None = None
        self._token: str | None = None  # the access token, held here and nowhere else
        # Every token this embed has held (the iframe may echo an old one): for redaction.
        self._secrets: list[str] = []
        self._closed = False
        self._out: list[act.Action] = []
        self._next_id = 0
        self._mint_id: int | None = None
        self._refresh_id: int | None = None
        self._request_deadlines: dict[int, float] = {}
        self._mint_attempt = 0
        self._refresh_attempt = 0
        self._mint_retry_at: float | None = None
        self._refresh_retry_at: float | None = None
        self._mint_budget = Budget(MINT_BUDGET, BUDGET_WINDOW)
        self._refresh_budget = Budget(REFRESH_BUDGET, BUDGET_WINDOW)
        self._refresh_loop_reported = False
        self._rejection_logs = Budget(REJECTION_LOG_BUDGET, BUDGET_WINDOW)
        self._rejections_unlogged = 0
        self._early_open = False  # the loader's early mint is neither adopted nor discarded
        self._remounts = 0
        self._iframe = False
        self._document = _NO_DOCUMENT
        self._next_ready_at: float | None = None  # a ready no loaded document claimed
        self._ready_deadline: float | None = None
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
            self._dispatch(event, now)
        except Exception as exc:
            self._fail_safe(exc)
        return self._take()

    def handle_timer(self, now: float) -> "list[act.Action]":
        """Call at (or after) next_deadline()."""
        if self._closed:
            return []
        self._out = []
        try:
            self._timers_due(now)
        except Exception as exc:
            self._fail_safe(exc)
        return self._take()

    def next_deadline(self) -> "float | None":
        """The earliest time handle_timer() has work to do, or None."""
        if self._closed:
            return None
        # Asked after every input: no list, no min() (MicroPython pays for each).
        best: float | None = None
        for when in self._request_deadlines.values():
            if best is None or when < best:
                best = when
        for other in (self._mint_retry_at, self._refresh_retry_at, self._ready_deadline):
            if other is not None and (best is None or other < best):
                best = other
        return best

    def can_post(self) -> bool:
        """Has the iframe's current document said ready (so it may get the token)?"""
        return self._iframe and (self._document == _READY or self._next_ready_at is not None)

    def wants_fields(self, origin: str, from_iframe: bool) -> bool:
        """Should the adapter read this message's data in full? Only a message from this
        container's iframe, on the embed origin, can be acted on: of any other the core
        needs no more than its `type` (to decide how loudly to log the rejection)."""
        return from_iframe and self._iframe and origin == self.embed_origin

    # -- inputs -------------------------------------------------------------------

    def _dispatch(self, event: inp.Input, now: float) -> None:
        if isinstance(event, inp.MessageReceived):
            self._on_message(event, now)
        elif isinstance(event, inp.FrameTick):
            self._on_frame(now)
        elif isinstance(event, inp.HttpAnswered):
            self._on_http_answered(event, now)
        elif isinstance(event, inp.HttpFailed):
            self._on_http_failed(event, now)
        elif isinstance(event, inp.IframeLoaded):
            self._on_iframe_loaded(now)
        elif isinstance(event, inp.IframeLost):
            self._on_iframe_lost(now)
        elif isinstance(event, inp.Start):
            self._on_start(event, now)
        elif isinstance(event, inp.Teardown):
            self._on_teardown()
        else:
            raise TypeError("unknown input " + type(event).__name__)

    def _timers_due(self, now: float) -> None:
        for request_id in list(self._request_deadlines):
            if self._request_deadlines[request_id] <= now:
                self._out.append(act.AbortRequest(request_id))
                self._on_http_failed(inp.HttpFailed(request_id, "timed out"), now)
        if self._mint_retry_at is not None and self._mint_retry_at <= now:
            self._mint_retry_at = None
            self._begin_mint(now)
        if self._refresh_retry_at is not None and self._refresh_retry_at <= now:
            self._refresh_retry_at = None
            self._begin_refresh(now)
        if self._ready_deadline is not None and self._ready_deadline <= now:
            self._ready_deadline = None
            seconds = str(self.config.ready_timeout)
            self._log("warn", "no meshes:ready within " + seconds + " s; minting a fresh session")
            self._report("ready-timeout", "the embed did not say ready within " + seconds + " s")
            self._remount(now)

    def _on_start(self, event: inp.Start, now: float) -> None:
        if self.state != BOOTING:
            return  # started already: a second start must not mint a second iframe
        self._early_open = event.early is not None
        if event.attributes is not None:
            try:
                self._config = parse_container(event.attributes, event.page_origin or "")
            except ConfigError as exc:
                self._fail("config", exc.message)
                return
        self._set_state(MINTING)
        early = event.early
        if early is not None:
            self._early_open = False
            if self._early_matches(early):
                self._mint_budget.spend(now)
                self._mint_id = self._new_request(now, MINT_TIMEOUT)
                self._out.append(act.AdoptEarlyMint(self._mint_id))
                return
            self._out.append(act.DiscardEarlyMint())
            self._log("debug", "the loader's early mint request is not this one; minting again")
        self._begin_mint(now)

    def _early_matches(self, early: inp.EarlyMint) -> bool:
        """Is the loader's early request exactly the one _begin_mint would send?"""
        config = self.config
        if early.url.strip() != config.session_url:
            return False
        # The page's URL may have changed since (history.pushState): same resolution too.
        if early.href_now is None or early.href != early.href_now:
            return False
        if early.csrf_cookie != config.csrf_cookie or early.csrf_header != config.csrf_header:
            return False
        if config.csrf_cookie is not None and early.csrf_value != early.cookie_now:
            return False
        try:
            body = json.loads(early.body_text)
        except (ValueError, RuntimeError):
            return False
        return isinstance(body, dict) and body == config.session_body

    def _on_message(self, event: inp.MessageReceived, now: float) -> None:
        if self.embed_origin is None or event.origin != self.embed_origin:
            self._reject(event, msg.Rejection("origin", "not the embed origin"), now)
            return
        # Without an iframe (gone after an error) nothing can come from it, whatever
        # the adapter says.
        if not event.from_iframe or not self._iframe:
            self._reject(event, msg.Rejection("source", "not this container's iframe"), now)
            return
        message = msg.parse_message(event.data)
        if isinstance(message, msg.Rejection):
            self._reject(event, message, now)
            return
        if self.debug:
            self._log("debug", "received " + self._describe(event.data))
        if isinstance(message, msg.ResizeAsked):
            self._on_resize(message)
        elif isinstance(message, msg.TokenRefreshAsked):
            self._on_token_refresh(now)
        elif isinstance(message, msg.Ready):
            self._on_ready(now)
        elif isinstance(message, msg.TokenExpired):
            self._on_token_expired(now)
        elif isinstance(message, msg.NavigateAsked):
            self._on_navigate(message)
        else:
            raise TypeError("unknown message " + type(message).__name__)

    def _on_iframe_loaded(self, now: float) -> None:
        if not self._iframe:
            return
        # A ready that came shortly before this load belonged to the document that just
        # loaded; otherwise this document still owes us one, and the watchdog starts now.
        # "Shortly" matters: a repeated ready from the previous document, long before a
        # hard reload, must not vouch for the reloaded one.
        ready_at = self._next_ready_at
        self._next_ready_at = None
        if ready_at is not None and now - ready_at <= self.config.ready_timeout:
            self._document = _READY
        else:
            self._document = _AWAITING_READY
            self._ready_deadline = now + self.config.ready_timeout

    def _on_iframe_lost(self, now: float) -> None:
        if not self._iframe:
            return
        # Its launch URL is spent: only a new session can bring it back. The same machine
        # carries on, so the remount cap and the mint budget hold across swaps.
        self._log("warn", "the iframe was taken out of the page; minting a fresh session")
        self._remount(now)

    def _on_http_answered(self, event: inp.HttpAnswered, now: float) -> None:
        self._request_deadlines.pop(event.request_id, None)
        if event.request_id == self._mint_id:
            self._mint_id = None
            self._mint_answered(event.status, event.body, now)
        elif event.request_id == self._refresh_id:
            self._refresh_id = None
            self._refresh_answered(event.status, event.body, now)

    def _on_http_failed(self, event: inp.HttpFailed, now: float) -> None:
        self._request_deadlines.pop(event.request_id, None)
        if event.request_id == self._mint_id:
            self._mint_id = None
            self._mint_failed(None, "session request failed: " + event.reason, now)
        elif event.request_id == self._refresh_id:
            self._refresh_id = None
            self._refresh_failed(None, "refresh request failed: " + event.reason, now)

    def _on_frame(self, now: float) -> None:
        height = self._resize.take()
        if height is not None and self._iframe:
            self._out.append(act.SetHeight(height))
            self._emit("resize", {"height": height})

    def _on_teardown(self) -> None:
        self._abort_requests()
        self._drop_iframe()
        self._clear_deadlines()
        self._token = None
        self._closed = True

    # -- messages from the iframe -------------------------------------------------

    def _on_ready(self, now: float) -> None:
        if self._document == _AWAITING_READY:
            self._document = _READY
        else:
            self._next_ready_at = now
        self._ready_deadline = None
        self._emit("ready", {})
        if self.state != EXPIRED:
            self._post_auth()

    def _on_token_refresh(self, now: float) -> None:
        if self.state in (MOUNTED, AUTHENTICATED):
            self._set_state(REFRESHING)
        self._want_refresh(now)

    def _on_token_expired(self, now: float) -> None:
        self._set_state(EXPIRED)
        self._log("warn", "the embed reports its token expired; refreshing")
        self._emit("token-expired", {})
        self._want_refresh(now)

    def _on_navigate(self, message: msg.NavigateAsked) -> None:
        detail: dict[str, object] = {}
        for key in message.fields:
            value = message.fields[key]
            # Whatever the iframe sends, a token must not reach an event detail.
            if self._holds_secret(key) or (isinstance(value, str) and self._holds_secret(value)):
                continue
            detail[key] = value
        self._emit("navigate", detail)

    def _on_resize(self, message: msg.ResizeAsked) -> None:
        config = self.config
        height = clamp_height(message.height, config.min_height, config.max_height)
        if self._resize.ask(height):
            self._out.append(act.RequestFrame())

    # -- minting and mounting -----------------------------------------------------

    def _begin_mint(self, now: float) -> None:
        when = self._mint_budget.next_slot(now)
        if when > now:
            self._mint_retry_at = when
            wait = str(int(when - now + 0.999))
            text = " sessions in " + str(int(BUDGET_WINDOW)) + " s; the next one in " + wait + " s"
            self._log("warn", "minted " + str(MINT_BUDGET) + text)
            return
        self._mint_budget.spend(now)
        config = self.config
        self._mint_id = self._new_request(now, MINT_TIMEOUT)
        self._out.append(
            act.StartMint(
                self._mint_id,
                config.session_url,
                config.session_body,
                config.csrf_cookie,
                config.csrf_header,
            )
        )

    def _mint_answered(self, status: int, body: str, now: float) -> None:
        if not 200 <= status < 300:
            self._mint_failed(status, "session endpoint answered HTTP " + str(status), now)
            return
        try:
            session = parse_session(body)
            origin, _ = split_url(session.launch_url)
            check_embed_origin(origin)
        except ResponseError as exc:
            self._fail("mint-invalid", "session response unusable: " + str(exc))
            return
        except OriginError as exc:
            self._fail("launch-url", "launch_url refused: " + exc.message)
            return
        embed_origin = origin.serialize()
        if self.config.embed_origin is not None and embed_origin != self.config.embed_origin:
            text = "launch_url origin " + embed_origin + " is not data-embed-origin"
            self._fail("embed-origin", text)
            return
        self._mint_attempt = 0
        self.session_id = session.session_id
        self.expires_at = session.expires_at
        self._hold(session.access_token)
        self.embed_origin = embed_origin
        self._mount(session.launch_url, session.session_id, now)

    def _mint_failed(self, status: "int | None", text: str, now: float) -> None:
        if is_retriable(status) and can_retry(self._mint_attempt + 1):
            self._mint_attempt += 1
            self._mint_retry_at = now + backoff_delay(self._mint_attempt)
            self._log("warn", text + "; retrying")
            return
        self._fail("mint-failed", text)

    def _mount(self, launch_url: str, session_id: str, now: float) -> None:
        self._iframe = True
        self._document = _NO_DOCUMENT
        self._next_ready_at = None
        self._ready_deadline = now + self.config.ready_timeout
        height = clamp_height(0, self.config.min_height, self.config.max_height)
        self._out.append(act.MountIframe(launch_url, height))
        self._set_state(MOUNTED)
        self._log("info", "minted session " + session_id + "; iframe mounted")

    def _remount(self, now: float) -> None:
        """Drop the iframe and the session, then mint and mount afresh."""
        self._remounts += 1
        if self._remounts > MAX_REMOUNTS:
            self._fail("remount-limit", "gave up after " + str(MAX_REMOUNTS) + " fresh sessions")
            return
        self._abort_requests()
        self._clear_deadlines()
        self._drop_iframe()
        self._token = None
        self.session_id = None
        self.expires_at = None
        self.embed_origin = None
        self._mint_attempt = 0
        self._refresh_attempt = 0
        self._set_state(MINTING)
        self._begin_mint(now)

    # -- refreshing ---------------------------------------------------------------

    def _want_refresh(self, now: float) -> None:
        # Single flight: asks while a request (or its retry) is pending share its answer.
        if self._refresh_id is None and self._refresh_retry_at is None:
            self._begin_refresh(now)

    def _begin_refresh(self, now: float) -> None:
        session_id = self.session_id
        if session_id is None:
            return
        budget = self._refresh_budget
        when = budget.next_slot(now)
        if when > now:
            # An iframe asking in a loop: the backend gets at most the budget, the asks
            # meanwhile share the one refresh that waits for the next free slot.
            self._refresh_retry_at = when
            if not self._refresh_loop_reported:
                self._refresh_loop_reported = True
                limit = str(REFRESH_BUDGET) + " token refreshes within " + str(int(BUDGET_WINDOW))
                wait = str(int(when - now + 0.999))
                self._report(
                    "refresh-loop",
                    "the embed asked for more than "
                    + limit
                    + " s; the next refresh waits "
                    + wait
                    + " s",
                )
            return
        if budget.used(now) < REFRESH_BUDGET // 2:
            self._refresh_loop_reported = False
        budget.spend(now)
        url = self.config.refresh_url.replace("{session_id}", quote_component(session_id))
        self._refresh_id = self._new_request(now, REFRESH_TIMEOUT)
        config = self.config
        self._out.append(
            act.StartRefresh(self._refresh_id, url, {}, config.csrf_cookie, config.csrf_header)
        )

    def _refresh_answered(self, status: int, body: str, now: float) -> None:
        if not 200 <= status < 300:
            self._refresh_failed(status, "refresh endpoint answered HTTP " + str(status), now)
            return
        try:
            refreshed = parse_refresh(body)
        except ResponseError as exc:
            self._report("refresh-failed", "refresh response unusable: " + str(exc))
            self._remount(now)
            return
        self._refresh_attempt = 0
        self._hold(refreshed.access_token)
        self.expires_at = refreshed.expires_at
        self._log("info", "refreshed session " + str(self.session_id))
        self._emit("token-refreshed", {"expires_at": refreshed.expires_at})
        if self.can_post():
            self._post_auth()
        else:
            self._set_state(MOUNTED)

    def _refresh_failed(self, status: "int | None", text: str, now: float) -> None:
        if status in SESSION_GONE:
            self._log("warn", text + ": the session is gone; minting a fresh one")
            self._remount(now)
            return
        if is_retriable(status) and can_retry(self._refresh_attempt + 1):
            self._refresh_attempt += 1
            self._refresh_retry_at = now + backoff_delay(self._refresh_attempt)
            self._log("warn", text + "; retrying")
            return
        self._report("refresh-failed", text)
        self._remount(now)

    # -- helpers ------------------------------------------------------------------

    def _post_auth(self) -> None:
        token = self._token
        target = self.embed_origin
        if not self.can_post() or token is None or target is None:
            return
        self._out.append(act.PostAuth(msg.auth_message(token), target))
        if self.debug:
            self._log("debug", "sent meshes:auth (token [redacted]) to " + target)
        self._remounts = 0
        self._set_state(AUTHENTICATED)
        self._emit("authenticated", {})

    def _reject(self, event: inp.MessageReceived, rejection: msg.Rejection, now: float) -> None:
        self._emit("rejected", {"reason": rejection.reason, "origin": event.origin})
        kind = msg.message_type(event.data)
        loud = event.origin == self.embed_origin or (kind or "").startswith("meshes:")
        if not loud and not self.debug:
            return  # a debug line nobody prints: a junk flood must cost as little as it can
        if self._rejection_logs.next_slot(now) > now:
            self._rejections_unlogged += 1
            return
        self._rejection_logs.spend(now)
        text = "rejected a message from " + event.origin + ": " + rejection.reason
        text = text + " (" + rejection.detail + ")"
        if self._rejections_unlogged:
            unlogged = str(self._rejections_unlogged)
            text = text + "; " + unlogged + " more rejected before this were not logged"
            self._rejections_unlogged = 0
        self._log("warn" if loud else "debug", text)

    def _fail(self, code: str, message: str) -> None:
        """Give up for good: this container stays in `error` until it is removed."""
        if self._early_open:
            self._early_open = False
            self._out.append(act.DiscardEarlyMint())
        self._abort_requests()
        self._clear_deadlines()
        self._drop_iframe()
        self._token = None
        self._set_state(ERROR)
        self._report(code, message)

    def _fail_safe(self, exc: Exception) -> None:
        """An unexpected exception: whatever the handler had planned is dropped (none of
        it has been carried out), then everything this machine started is undone by hand,
        without trusting the helpers that may have raised."""
        self._out = []
        out = self._out
        if self._early_open:
            out.append(act.DiscardEarlyMint())
        pending = list(self._request_deadlines)
        for request_id in (self._mint_id, self._refresh_id):
            if request_id is not None and request_id not in pending:
                pending.append(request_id)
        for request_id in pending:
            out.append(act.AbortRequest(request_id))
        out.append(act.CancelFrame())
        if self._iframe:
            out.append(act.RemoveIframe())
        self._token = None
        self._iframe = False
        self._early_open = False
        self._mint_id = None
        self._refresh_id = None
        self._request_deadlines = {}
        self._clear_deadlines()
        self._closed = True
        if self.state != ERROR:
            self.state = ERROR
            out.append(act.SetState(ERROR))
        # Only the exception's type: its text could quote data we must not log.
        text = "internal error: " + type(exc).__name__
        out.append(act.Log("error", "internal: " + text))
        out.append(act.Emit("error", {"code": "internal", "message": text}))

    def _report(self, code: str, message: str) -> None:
        message = self._redact(message)
        self._log("error", code + ": " + message)
        self._emit("error", {"code": code, "message": message})

    def _hold(self, token: str) -> None:
        self._token = token
        self._secrets.append(token)
        if len(self._secrets) > MAX_SECRETS:
            self._secrets.pop(0)

    def _holds_secret(self, text: str) -> bool:
        for secret in self._secrets:
            if secret in text:
                return True
        return False

    def _drop_iframe(self) -> None:
        """Remove the iframe, and with it any height still waiting for a frame."""
        if self._resize.frame_requested:
            self._resize.take()
            self._out.append(act.CancelFrame())
        if self._iframe:
            self._out.append(act.RemoveIframe())
            self._iframe = False

    def _new_request(self, now: float, timeout: float) -> int:
        self._next_id += 1
        self._request_deadlines[self._next_id] = now + timeout
        return self._next_id

    def _abort_requests(self) -> None:
        for request_id in (self._mint_id, self._refresh_id):
            if request_id is not None:
                self._out.append(act.AbortRequest(request_id))
        self._mint_id = None
        self._refresh_id = None
        self._request_deadlines = {}

    def _clear_deadlines(self) -> None:
        self._mint_retry_at = None
        self._refresh_retry_at = None
        self._ready_deadline = None

    def _set_state(self, state: str) -> None:
        if state == self.state:
            return
        if state not in TRANSITIONS[self.state]:
            raise StateError("illegal move from " + self.state + " to " + state)
        self.state = state
        self._out.append(act.SetState(state))

    def _emit(self, name: str, detail: "dict[str, object]") -> None:
        self._out.append(act.Emit(name, detail))

    def _log(self, level: str, text: str) -> None:
        self._out.append(act.Log(level, self._redact(text)))

    def _redact(self, text: str) -> str:
        return redact(text, self._secrets)

    def _describe(self, data: inp.MessageData) -> str:
        return str(redact_fields(data.fields))

    def _take(self) -> "list[act.Action]":
        out = self._out
        self._out = []
        return out
