"""FakeMeshes: an in-memory Meshes session store that follows the embed contract.

It plays the Meshes management API (mint, refresh, revoke) for the host backend double and
the session side of the embed (launch tokens, access tokens) for the stub embed. All
methods are thread-safe: the servers' thread and the test thread call them concurrently.

Rules it enforces, as the contract describes them:

* ``create_session`` validates its body like ``POST /api/v1/sessions`` (the fields, their
  ranges and defaults, ``launch_page`` or the older ``launch_path``) and returns the
  session JSON with a single-use ``launch_url`` on the embed origin.
* A launch token works once, and only within ``launch_ttl_seconds``.
* ``refresh`` issues a new access token for the same session; the old one stops working at
  once (a stale token gets a 401 from the embed). It never returns a ``launch_url``.
* ``revoke`` ends the session: its tokens stop working and it cannot be refreshed.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from meshes_bridge.server.contract import CREATE_FIELDS
from meshes_bridge.testing.doubles.transcript import ACCESS_TOKEN_PREFIX, LAUNCH_TOKEN_PREFIX

#: The workspace used when a mint body names none (the real API requires one).
DEFAULT_WORKSPACE_ID = "5f0c3c9e-6d1b-4a57-9a53-2f1d8e0b7a11"
SESSION_TYPES = ("workspace", "resource", "dashboard")
ROLES = ("member", "admin", "owner")
LAUNCH_PAGES = ("dashboard", "connections", "rules", "events")
SCOPES = ("events.payload:read",)
TTL_RANGE = (300, 3600)
TTL_DEFAULT = 1800
LAUNCH_TTL_RANGE = (15, 60)
LAUNCH_TTL_DEFAULT = 30
MAX_ALLOWED_ORIGINS = 10
MAX_ID_LENGTH = 255
#: What a mint body may hold: the contract's fields (see `meshes_bridge.server.contract`).
KNOWN_FIELDS = frozenset({"workspace_id", *CREATE_FIELDS})
_UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)


class MeshesError(Exception):
    """An API error: `status` is the HTTP status the real API would answer."""

    def __init__(self, status: int, code: str, message: str, field_name: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field_name

    def to_json(self) -> dict[str, Any]:
        """The JSON error body: ``{"error": code, "message": ..., "field": ...}``."""
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body


class ValidationError(MeshesError):
    """The mint body broke a rule (HTTP 400, ``validation_error``)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(400, "validation_error", message, field_name)


class SessionNotFound(MeshesError):
    """Unknown or revoked session (HTTP 404, ``session_not_found``)."""

    def __init__(self, session_id: str) -> None:
        super().__init__(404, "session_not_found", "no active session with this id")
        self.session_id = session_id


def iso_utc(timestamp: float) -> str:
    """ISO 8601 UTC with milliseconds and a ``Z``, e.g. ``2026-11-25T06:13:00.123Z``."""
    moment = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_origin(value: Any) -> str | None:
    """`value` as a canonical ``scheme://host[:port]`` origin, or None when it is not one."""
    if not isinstance(value, str) or value != value.strip() or "\\" in value:
        return None
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.path or parts.query or parts.fragment or parts.username or parts.password:
        return None
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    default = 80 if parts.scheme == "http" else 443
    suffix = "" if port in (None, default) else f":{port}"
    return f"{parts.scheme}://{host}{suffix}"


class ManualClock:
    """A clock for tests: ``now()`` returns a time that moves only by ``advance()``."""

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward by `seconds`; returns the new time."""
        with self._lock:
            self._now += seconds
            return self._now


@dataclass(frozen=True)
class SessionFacts:
    """What a session is, fixed when it is minted."""

    session_id: str
    workspace_id: str
    session_type: str
    role: str
    launch_page: str
    host_origin: str
    allowed_origins: tuple[str, ...]
    external_user_id: str | None


@dataclass(frozen=True)
class SessionView(SessionFacts):
    """A read-only snapshot of a session (never holds a token)."""

    created_at: float
    expires_at: float
    token_lifetime: float
    token_generation: int
    revoked: bool
    launch_used: bool


@dataclass(frozen=True)
class TokenCheck:
    """What an access token is: `session` is set only when `valid`.

    `reason` is ``ok``, ``missing``, ``unknown``, ``stale`` (replaced by a refresh),
    ``expired`` or ``revoked``; `session_id` and `generation` are known for every token
    the fake ever issued (1 for the mint's token, +1 per refresh).
    """

    valid: bool
    reason: str
    session: SessionView | None = None
    session_id: str | None = None
    generation: int | None = None


@dataclass
class _Session:
    facts: SessionFacts
    resource: str | None
    resource_id: str | None
    scopes: tuple[str, ...]
    ttl_seconds: int
    launch_ttl_seconds: int
    created_at: float
    access_token: str
    issued_at: float
    expires_at: float
    launch_token: str
    launch_expires_at: float
    token_generation: int = 1
    launch_used: bool = False
    revoked: bool = False
    old_tokens: dict[str, int] = field(default_factory=dict)

    @property
    def session_id(self) -> str:
        return self.facts.session_id

    def view(self) -> SessionView:
        return SessionView(
            **asdict(self.facts),
            created_at=self.created_at,
            expires_at=self.expires_at,
            token_lifetime=self.expires_at - self.issued_at,
            token_generation=self.token_generation,
            revoked=self.revoked,
            launch_used=self.launch_used,
        )


def _choice(body: dict[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = body.get(name, default)
    if value not in allowed:
        raise ValidationError(name, f"{name} must be one of: {', '.join(allowed)}")
    return str(value)


def _int_in(body: dict[str, Any], name: str, bounds: tuple[int, int], default: int) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(name, f"{name} must be an integer")
    if not bounds[0] <= value <= bounds[1]:
        raise ValidationError(name, f"{name} must be between {bounds[0]} and {bounds[1]}")
    return value


def _opt_string(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH:
        raise ValidationError(name, f"{name} must be a non-empty string (max {MAX_ID_LENGTH})")
    return value


def _launch_page(body: dict[str, Any]) -> str:
    page = body.get("launch_page")
    path = body.get("launch_path")
    if page is not None and page not in LAUNCH_PAGES:
        raise ValidationError(
            "launch_page", f"launch_page must be one of: {', '.join(LAUNCH_PAGES)}"
        )
    if path is not None:
        if not isinstance(path, str) or not path.startswith("/workspace/"):
            raise ValidationError("launch_path", "launch_path must start with /workspace/")
        from_path = path[len("/workspace/") :]
        if from_path not in LAUNCH_PAGES:
            raise ValidationError(
                "launch_path",
                "launch_path must be /workspace/ followed by one of: " + ", ".join(LAUNCH_PAGES),
            )
        if page is not None and page != from_path:
            raise ValidationError("launch_path", "launch_path and launch_page disagree")
        return from_path
    return page or "dashboard"


def _allowed_origins(body: dict[str, Any], host_origin: str) -> tuple[str, ...]:
    value = body.get("allowed_origins")
    if value is None:
        return (host_origin,) if host_origin else ()
    if not isinstance(value, list) or not value or len(value) > MAX_ALLOWED_ORIGINS:
        raise ValidationError(
            "allowed_origins",
            f"allowed_origins must be a list of 1 to {MAX_ALLOWED_ORIGINS} origins",
        )
    origins: list[str] = []
    for item in value:
        origin = parse_origin(item)
        if origin is None:
            raise ValidationError(
                "allowed_origins", "allowed_origins holds a value that is not an origin"
            )
        if origin not in origins:
            origins.append(origin)
    return tuple(origins)


def _scopes(body: dict[str, Any]) -> tuple[str, ...]:
    value = body.get("scopes", [])
    if not isinstance(value, list) or any(item not in SCOPES for item in value):
        raise ValidationError("scopes", f"scopes may only hold: {', '.join(SCOPES)}")
    return tuple(value)


class FakeMeshes:
    """An in-memory Meshes: sessions, access tokens and single-use launch tokens.

    `embed_url` is the stub embed's base URL (launch URLs point there); `now` is the clock
    (inject a :class:`ManualClock` to expire things without sleeping).

    Knobs tests may set at any time:

    * ``ttl_override_seconds``: access tokens live this long (mint and refresh), ignoring
      the 300 s minimum, e.g. 5 for refresh tests. None = the session's ``ttl_seconds``.
    * ``launch_ttl_override_seconds``: the same for launch tokens.
    * ``ready_delay_ms``: the stub embed posts ``meshes:ready`` this long after its ``load``
      event (like an SPA); 0 = synchronously while the page loads.
    * ``launch_base_url``: where ``launch_url`` points (default `embed_url`); another
      origin tests a mint that names a foreign embed.
    """

    def __init__(
        self, embed_url: str = "http://127.0.0.1:8001", now: Callable[[], float] = time.time
    ) -> None:
        self.embed_url = embed_url.rstrip("/")
        self.now = now
        self.ttl_override_seconds: float | None = None
        self.launch_ttl_override_seconds: float | None = None
        self.ready_delay_ms: int = 0
        self.launch_base_url: str | None = None
        self._lock = threading.RLock()
        self._sessions: dict[str, _Session] = {}
        self._by_token: dict[str, str] = {}
        self._by_launch: dict[str, str] = {}

    # -- management API ---------------------------------------------------------------

    def create_session(self, body: dict[str, Any], allowed_origin: str | None) -> dict[str, Any]:
        """Mint a session like ``POST /api/v1/sessions``; raise :class:`ValidationError`.

        `allowed_origin` is the host origin that asked (the stub embed posts to it; None:
        unknown, and the stub embed refuses to launch the session);
        ``allowed_origins`` in the body, when given, is what may frame the embed.
        Returns ``session_id``, ``access_token``, ``expires_at``, ``launch_url``,
        ``workspace_id``, ``role`` and ``session_type``.
        """
        if not isinstance(body, dict):
            raise ValidationError("body", "the request body must be a JSON object")
        unknown = sorted(set(body) - KNOWN_FIELDS)
        if unknown:
            raise ValidationError(unknown[0], f"unknown field: {unknown[0]}")
        host_origin = "" if allowed_origin is None else parse_origin(allowed_origin)
        if host_origin is None:
            raise ValueError("allowed_origin must be an origin like http://127.0.0.1:8000")
        workspace_id = body.get("workspace_id", DEFAULT_WORKSPACE_ID)
        if not isinstance(workspace_id, str) or not _UUID_RE.match(workspace_id):
            raise ValidationError("workspace_id", "workspace_id must be a UUID")
        session_type = _choice(body, "session_type", SESSION_TYPES, "workspace")
        role = _choice(body, "role", ROLES, "member")
        external_user_id = _opt_string(body, "external_user_id")
        ttl = _int_in(body, "ttl_seconds", TTL_RANGE, TTL_DEFAULT)
        launch_ttl = _int_in(body, "launch_ttl_seconds", LAUNCH_TTL_RANGE, LAUNCH_TTL_DEFAULT)
        launch_page = _launch_page(body)
        resource = _opt_string(body, "resource")
        resource_id = _opt_string(body, "resource_id")
        if session_type == "resource" and (resource is None or resource_id is None):
            raise ValidationError("resource", "resource sessions need resource and resource_id")
        if session_type != "resource" and (resource is not None or resource_id is not None):
            raise ValidationError(
                "resource", "resource and resource_id are for resource sessions only"
            )
        allowed_origins = _allowed_origins(body, host_origin)
        scopes = _scopes(body)

        with self._lock:
            now = self.now()
            lifetime = self._token_lifetime(ttl)
            launch_lifetime = (
                launch_ttl
                if self.launch_ttl_override_seconds is None
                else self.launch_ttl_override_seconds
            )
            session = _Session(
                SessionFacts(
                    session_id=f"sess_{uuid.uuid4()}",
                    workspace_id=workspace_id.lower(),
                    session_type=session_type,
                    role=role,
                    launch_page=launch_page,
                    host_origin=host_origin,
                    allowed_origins=allowed_origins,
                    external_user_id=external_user_id,
                ),
                resource=resource,
                resource_id=resource_id,
                scopes=scopes,
                ttl_seconds=ttl,
                launch_ttl_seconds=launch_ttl,
                created_at=now,
                access_token=_new_access_token(),
                issued_at=now,
                expires_at=now + lifetime,
                launch_token=LAUNCH_TOKEN_PREFIX + secrets.token_urlsafe(24),
                launch_expires_at=now + launch_lifetime,
            )
            self._sessions[session.session_id] = session
            self._by_token[session.access_token] = session.session_id
            self._by_launch[session.launch_token] = session.session_id
            base = (self.launch_base_url or self.embed_url).rstrip("/")
            return {
                "session_id": session.session_id,
                "access_token": session.access_token,
                "expires_at": iso_utc(session.expires_at),
                "launch_url": f"{base}/workspace/{launch_page}?launch={session.launch_token}",
                "workspace_id": session.facts.workspace_id,
                "role": session.facts.role,
                "session_type": session.facts.session_type,
            }

    def refresh(self, session_id: str) -> dict[str, Any]:
        """A new access token for the same session (``session_id``, ``access_token``,
        ``expires_at``; no ``launch_url``). The previous token stops working at once.
        Raises :class:`SessionNotFound` for an unknown or revoked session."""
        with self._lock:
            session = self._live(session_id)
            now = self.now()
            session.old_tokens[session.access_token] = session.token_generation
            session.access_token = _new_access_token()
            session.token_generation += 1
            session.issued_at = now
            session.expires_at = now + self._token_lifetime(session.ttl_seconds)
            self._by_token[session.access_token] = session.session_id
            return {
                "session_id": session.session_id,
                "access_token": session.access_token,
                "expires_at": iso_utc(session.expires_at),
            }

    def revoke(self, session_id: str) -> None:
        """End a session (``DELETE /api/v1/sessions/{id}``); raises :class:`SessionNotFound`
        when it is unknown or already revoked."""
        with self._lock:
            self._live(session_id).revoked = True

    # -- the embed's side ---------------------------------------------------------------

    def consume_launch(self, token: str | None) -> SessionView | str:
        """Use a launch token (once). Returns the session, or why not: ``missing``,
        ``unknown``, ``used``, ``expired`` or ``revoked``."""
        if not token:
            return "missing"
        with self._lock:
            session_id = self._by_launch.get(token)
            if session_id is None:
                return "unknown"
            session = self._sessions[session_id]
            if session.launch_used:
                return "used"
            session.launch_used = True
            if self.now() >= session.launch_expires_at:
                return "expired"
            if session.revoked:
                return "revoked"
            return session.view()

    def inspect_token(self, token: str | None) -> TokenCheck:
        """Everything the fake knows about an access token (see :class:`TokenCheck`)."""
        if not token:
            return TokenCheck(False, "missing")
        with self._lock:
            session_id = self._by_token.get(token)
            if session_id is None:
                return TokenCheck(False, "unknown")
            session = self._sessions[session_id]
            if token != session.access_token:
                return TokenCheck(False, "stale", None, session_id, session.old_tokens.get(token))
            generation = session.token_generation
            if session.revoked:
                return TokenCheck(False, "revoked", None, session_id, generation)
            if self.now() >= session.expires_at:
                return TokenCheck(False, "expired", None, session_id, generation)
            return TokenCheck(True, "ok", session.view(), session_id, generation)

    def check_access(self, token: str | None) -> SessionView | None:
        """The session of a valid access token (current, not expired, not revoked), else None."""
        return self.inspect_token(token).session

    # -- inspection for tests -----------------------------------------------------------

    def session(self, session_id: str) -> SessionView:
        """A snapshot of one session (revoked ones too); KeyError when unknown."""
        with self._lock:
            return self._sessions[session_id].view()

    def sessions(self) -> list[SessionView]:
        """Snapshots of every session, oldest first."""
        with self._lock:
            return [s.view() for s in self._sessions.values()]

    def access_token(self, session_id: str) -> str:
        """The session's current access token (for tests that drive the embed directly)."""
        with self._lock:
            return self._sessions[session_id].access_token

    def issued_tokens(self) -> list[str]:
        """Every access and launch token ever issued: scan pages, URLs and logs for them."""
        with self._lock:
            return list(self._by_token) + list(self._by_launch)

    def reset_knobs(self) -> None:
        """Put every test knob back to its default."""
        self.ttl_override_seconds = None
        self.launch_ttl_override_seconds = None
        self.ready_delay_ms = 0
        self.launch_base_url = None

    def reset(self) -> None:
        """Forget every session and token (the knobs keep their values)."""
        with self._lock:
            self._sessions.clear()
            self._by_token.clear()
            self._by_launch.clear()

    # -- internals ----------------------------------------------------------------------

    def _live(self, session_id: str) -> _Session:
        session = self._sessions.get(session_id)
        if session is None or session.revoked:
            raise SessionNotFound(session_id)
        return session

    def _token_lifetime(self, ttl_seconds: int) -> float:
        if self.ttl_override_seconds is not None:
            return float(self.ttl_override_seconds)
        return float(ttl_seconds)


def _new_access_token() -> str:
    return ACCESS_TOKEN_PREFIX + secrets.token_urlsafe(32)
