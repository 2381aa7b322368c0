"""The API origin: a fake Meshes management API over real HTTP.

It is what a host backend's server-side client talks to (``MESHES_API_URL``), so the
client's real HTTP, JWT signing, retries and error handling run against something that
answers as Meshes does (``meshes-embed-contract.md``). Sessions live in the shared
:class:`FakeMeshes`, so a session minted here launches in the stub
embed, and one minted by the host backend double shows up in a list.

Routes (every one needs ``Authorization: Bearer <machine JWT>``, else 401
``invalid_token``):

* ``POST /api/v1/sessions`` -> 201 the session JSON; 400 ``validation_error``; 403
  ``forbidden`` when ``workspace_id`` is not a workspace of the key's organization.
* ``POST /api/v1/sessions/{session_id}/refresh`` -> 200 ``{session_id, access_token,
  expires_at}``; 404 ``session_not_found`` (unknown, revoked, or another org's).
* ``GET /api/v1/sessions?workspace_id=&status=&limit=&cursor=`` -> 200 ``{data,
  next_cursor}``, newest first, never a token or launch URL.
* ``DELETE /api/v1/sessions/{session_id}`` -> 204; 404 as for refresh.

A workspace belongs to the organization of the machine keys that list it; a session
belongs to the organization of its workspace. Injected faults (:meth:`ManagementAPI.fail_next`,
:meth:`~ManagementAPI.delay`, :meth:`~ManagementAPI.hang_next`) act before authentication,
as a gateway in front of the API would; the call record still holds the verified claims.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import jwt
from aiohttp import web

from meshes_bridge.testing.doubles._http import add_diagnostics
from meshes_bridge.testing.doubles.fake_meshes import (
    DEFAULT_WORKSPACE_ID,
    FakeMeshes,
    MeshesError,
    SessionNotFound,
    SessionView,
    ValidationError,
    iso_utc,
    parse_origin,
)
from meshes_bridge.testing.doubles.faults import Faults, Hung
from meshes_bridge.testing.doubles.transcript import REDACTED_SUFFIX, Transcript

ApiEndpoint = Literal["create", "refresh", "list", "revoke"]
API_ENDPOINTS: tuple[ApiEndpoint, ...] = ("create", "refresh", "list", "revoke")
SESSIONS_PATH = "/api/v1/sessions"
SESSION_PATH = SESSIONS_PATH + "/{session_id}"
REFRESH_PATH = SESSION_PATH + "/refresh"

JWT_ALGORITHM = "HS256"
JWT_AUDIENCE = "meshes-api"
ISSUER_PREFIX = "urn:meshes:m2m:"
MAX_JWT_LIFETIME = 60
IAT_LEEWAY = 5
LIST_LIMIT_DEFAULT = 20
LIST_LIMIT_MAX = 100
LIST_STATUSES = ("active", "revoked")

#: The test organization, its machine key and its workspace (``DEFAULT_WORKSPACE_ID``).
TEST_ORG_ID = "0b7f4a2e-9c31-4d8e-b5a6-3e1f2c9d7a40"
TEST_ACCESS_KEY = "mak_test_7Q2vK9xR4mN8pL3s"
TEST_SECRET_KEY = "msk_test_Xq8Zt3Lw0Vb6Nc1Rf9Hy2Ju5Km7Pd4Sg0Ea3Wn6Bx8Cv1Tz5Lq9Mr2Ks7Dh4Fj0Gp6Yw3"

_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_DEFAULT_CODES = {
    400: "validation_error",
    401: "invalid_token",
    403: "forbidden",
    404: "session_not_found",
    409: "conflict",
    429: "rate_limited",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}


@dataclass(frozen=True)
class MachineKey:
    """A Meshes machine key: `access_key` is the JWT ``kid``, `secret_key` signs (HS256,
    UTF-8 bytes), `org_id` is the ``org`` claim, `workspace_ids` the org's workspaces it
    may mint in. The secret stays out of ``repr``."""

    access_key: str
    secret_key: str = field(repr=False)
    org_id: str
    workspace_ids: frozenset[str] = frozenset()

    @property
    def issuer(self) -> str:
        """The ``iss`` claim Meshes expects for this key."""
        return ISSUER_PREFIX + self.access_key


#: The key :func:`~meshes_bridge.testing.doubles.servers.start_servers` puts in ``meshes_env()``.
TEST_KEY = MachineKey(
    TEST_ACCESS_KEY, TEST_SECRET_KEY, TEST_ORG_ID, frozenset({DEFAULT_WORKSPACE_ID})
)


def machine_jwt(
    key: MachineKey = TEST_KEY,
    now: float | None = None,
    *,
    lifetime: float = MAX_JWT_LIFETIME,
    claims: Mapping[str, Any] | None = None,
    headers: Mapping[str, Any] | None = None,
    algorithm: str = JWT_ALGORITHM,
    secret: str | None = None,
) -> str:
    """A machine JWT for `key`, as a host backend signs one (for tests of the fake).

    `now` defaults to the wall clock (pass ``servers.fake.now()`` with a ManualClock);
    `claims` / `headers` override or add values (a value None drops it); `algorithm`
    and `secret` make deliberately wrong tokens.
    """
    issued = int(time.time() if now is None else now)
    payload: dict[str, Any] = {
        "iss": key.issuer,
        "aud": JWT_AUDIENCE,
        "org": key.org_id,
        "iat": issued,
        "exp": issued + int(lifetime),
    }
    for name, value in (claims or {}).items():
        if value is None:
            payload.pop(name, None)
        else:
            payload[name] = value
    # Any: PyJWT's hint omits None, the key its "none" algorithm requires (and the hint
    # differs with and without `cryptography` installed).
    signing_key: Any = None if algorithm == "none" else (secret or key.secret_key).encode()
    header = {"kid": key.access_key, **(headers or {})}
    return jwt.encode(
        payload,
        signing_key,
        algorithm=algorithm,
        headers={name: value for name, value in header.items() if value is not None},
    )


@dataclass
class ApiCall:
    """One request to the API, as received. No Authorization value is ever kept.

    `claims` are the verified JWT claims (None when refused; `rejection` then says which
    check failed). `body` is the parsed JSON (the raw text when it was not JSON, None
    when empty). `status` is the answer's status (None while pending or when it hung).
    """

    endpoint: ApiEndpoint
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    time: float
    claims: dict[str, Any] | None = None
    rejection: str | None = None
    session_id: str | None = None
    status: int | None = None

    def text(self) -> str:
        """Request line, headers and body as one string (to scan for leaked secrets)."""
        head = "\n".join(f"{k}: {v}" for k, v in self.headers.items())
        body = self.body if isinstance(self.body, str) else json.dumps(self.body)
        return f"{self.method} {self.path}\n{head}\n\n{body}"


class TokenRejected(Exception):
    """The machine JWT failed a check; the message names the check, never the token."""


@dataclass(frozen=True)
class _Cursor:
    org_id: str
    workspace_id: str
    status: str | None
    after: str


class ManagementAPI:
    """The fake management API; :meth:`make_app` is the API origin's application.

    `default_host_origin` is where the stub embed posts when a mint body has no
    ``allowed_origins`` (``start_servers`` sets the HOST origin). Thread-safe: tests call
    the controls from their own thread while the servers' loop answers requests.
    """

    def __init__(
        self,
        fake: FakeMeshes,
        transcript: Transcript,
        default_host_origin: str | None = None,
        keys: Iterable[MachineKey] = (TEST_KEY,),
    ) -> None:
        self.fake = fake
        self.transcript = transcript
        self.default_host_origin = default_host_origin
        self._lock = threading.Lock()
        self._initial_keys = tuple(keys)
        self._keys: dict[str, MachineKey] = {}
        self._calls: list[ApiCall] = []
        self._revoked: list[str] = []
        self._cursors: dict[str, _Cursor] = {}
        self._faults = Faults(API_ENDPOINTS)
        for key in self._initial_keys:
            self._add(key)

    # -- machine keys -------------------------------------------------------------------

    def add_key(
        self,
        access_key: str,
        secret_key: str,
        org_id: str,
        workspace_ids: Iterable[str] = (),
    ) -> MachineKey:
        """Accept another machine key (e.g. a second organization for scoping tests).

        A workspace belongs to one organization: naming one another org owns, or an
        access key already known, is a ValueError. :meth:`reset` forgets added keys.
        """
        key = MachineKey(
            access_key, secret_key, org_id.lower(), frozenset(w.lower() for w in workspace_ids)
        )
        self._add(key)
        return key

    def keys(self) -> list[MachineKey]:
        """The machine keys accepted now."""
        with self._lock:
            return list(self._keys.values())

    def _add(self, key: MachineKey) -> None:
        if not key.access_key or len(key.secret_key) < 32:
            raise ValueError("a machine key needs an access key and a secret of 32+ characters")
        with self._lock:
            if key.access_key in self._keys:
                raise ValueError(f"access key {key.access_key} is already known")
            for other in self._keys.values():
                shared = other.workspace_ids & key.workspace_ids
                if other.org_id != key.org_id and shared:
                    raise ValueError(f"workspace {min(shared)} belongs to org {other.org_id}")
            self._keys[key.access_key] = key
        self.transcript.add_secret(key.secret_key)

    def _org_workspaces(self, org_id: str) -> frozenset[str]:
        with self._lock:
            owned = [k.workspace_ids for k in self._keys.values() if k.org_id == org_id]
        return frozenset().union(*owned)

    # -- fault controls -----------------------------------------------------------------

    def fail_next(
        self,
        endpoint: ApiEndpoint,
        status: int,
        count: int = 1,
        body: str | Mapping[str, Any] | None = None,
        retry_after: float | str | None = None,
    ) -> None:
        """Answer the next `count` requests to `endpoint` with `status`, doing nothing.

        `body` is a JSON object or raw text; by default ``{"error": <code for the status>,
        "message": "injected failure (HTTP N)"}``. `retry_after` becomes a ``Retry-After``
        header (seconds, or an HTTP date as a string). Queued after earlier injections.
        """
        self._faults.fail_next(endpoint, status, count, body, retry_after)

    def delay(self, endpoint: ApiEndpoint, seconds: float) -> None:
        """Wait `seconds` before answering every request to `endpoint` (0 = no delay)."""
        self._faults.delay(endpoint, seconds)

    def hang_next(self, endpoint: ApiEndpoint, count: int = 1) -> None:
        """Never answer the next `count` requests to `endpoint` (until the client gives
        up, or :meth:`release_hung` answers them 503)."""
        self._faults.hang_next(endpoint, count)

    def release_hung(self) -> None:
        """End every hung request now, with a 503."""
        self._faults.release_hung()

    def clear_injections(self) -> None:
        """Drop pending failures, hangs and delays."""
        self._faults.clear()

    def revoke(self, session_id: str) -> None:
        """Revoke a session as if from Meshes' dashboard (not counted in
        :meth:`revoked_ids`); raises SessionNotFound like the fake."""
        self.fake.revoke(session_id)
        self.transcript.add(
            "api",
            "api-revoked",
            f"api revoked session {session_id} (by the test)",
            session_id=session_id,
        )

    def calls(self, endpoint: ApiEndpoint | None = None) -> list[ApiCall]:
        """Every request received by `endpoint` (or by all), oldest first."""
        with self._lock:
            return [c for c in self._calls if endpoint is None or c.endpoint == endpoint]

    def revoked_ids(self) -> list[str]:
        """The session ids revoked through ``DELETE``, in order."""
        with self._lock:
            return list(self._revoked)

    def reset(self) -> None:
        """Back to defaults: no injections (hung requests released), no recorded calls or
        revocations, no cursors, only the initial machine keys."""
        self.release_hung()
        self.clear_injections()
        with self._lock:
            self._calls.clear()
            self._revoked.clear()
            self._cursors.clear()
            self._keys = {k.access_key: k for k in self._initial_keys}

    # -- authentication -----------------------------------------------------------------

    def verify(self, authorization: str | None) -> tuple[MachineKey, dict[str, Any]]:
        """Check an ``Authorization`` header as Meshes does; the key and the claims, or
        :class:`TokenRejected` naming the failed check."""
        if not authorization:
            raise TokenRejected("missing Authorization header")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise TokenRejected("Authorization scheme is not Bearer")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenRejected("malformed token") from None
        alg = header.get("alg")
        if alg != JWT_ALGORITHM:
            raise TokenRejected(f"alg must be {JWT_ALGORITHM}, not {str(alg)[:20]}")
        if header.get("typ") != "JWT":
            raise TokenRejected("typ must be JWT")
        kid = header.get("kid")
        with self._lock:
            key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise TokenRejected("unknown kid" if kid else "missing kid")
        try:
            claims = jwt.decode(
                token,
                key.secret_key.encode(),
                algorithms=[JWT_ALGORITHM],
                audience=JWT_AUDIENCE,
                issuer=key.issuer,
                options={
                    "require": ["iss", "aud", "iat", "exp"],
                    "verify_exp": False,  # the times are checked below, on the fake's clock
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.InvalidSignatureError:
            raise TokenRejected("bad signature") from None
        except jwt.MissingRequiredClaimError as error:
            raise TokenRejected(f"missing claim {error.claim}") from None
        except jwt.InvalidAudienceError:
            raise TokenRejected(f"aud must be {JWT_AUDIENCE}") from None
        except jwt.InvalidIssuerError:
            raise TokenRejected("iss does not match the kid") from None
        except jwt.PyJWTError as error:
            raise TokenRejected(f"invalid token ({type(error).__name__})") from None
        self._check_claims(key, claims)
        return key, claims

    def _check_claims(self, key: MachineKey, claims: dict[str, Any]) -> None:
        org = claims.get("org")
        if org is None:
            raise TokenRejected("missing claim org")
        if not isinstance(org, str) or org.lower() != key.org_id:
            raise TokenRejected("wrong org")
        iat, exp = claims["iat"], claims["exp"]
        for name, value in (("iat", iat), ("exp", exp)):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TokenRejected(f"{name} must be a number")
        now = self.fake.now()
        if iat > now + IAT_LEEWAY:
            raise TokenRejected("iat is in the future")
        if exp <= iat:
            raise TokenRejected("exp is not after iat")
        if exp - iat > MAX_JWT_LIFETIME:
            raise TokenRejected(f"exp is more than {MAX_JWT_LIFETIME} s after iat")
        if now >= exp:
            raise TokenRejected("token expired")
        nbf = claims.get("nbf")
        if isinstance(nbf, int | float) and nbf > now + IAT_LEEWAY:
            raise TokenRejected("token not valid yet (nbf)")

    # -- the aiohttp application -------------------------------------------------------

    def make_app(self) -> web.Application:
        """The aiohttp application for the API origin."""
        app = web.Application()
        add_diagnostics(app)
        app.router.add_post(SESSIONS_PATH, self._create)
        app.router.add_get(SESSIONS_PATH, self._list)
        app.router.add_post(REFRESH_PATH, self._refresh)
        app.router.add_delete(SESSION_PATH, self._revoke)
        app.on_startup.append(self._on_startup)
        return app

    async def _on_startup(self, _app: web.Application) -> None:
        self._faults.bind_loop()

    async def _handle(self, endpoint: ApiEndpoint, request: web.Request) -> web.StreamResponse:
        """Record, inject, authenticate, then run the endpoint's own logic."""
        call = await self._record(endpoint, request)
        try:
            key, claims = self.verify(request.headers.get("Authorization"))
        except TokenRejected as rejected:
            key, claims = None, None
            call.rejection = str(rejected)
        else:
            call.claims = claims
        response = await self._injected(call)
        if response is None:
            if key is None:
                self._note_refusal(call, "request", "invalid_token", call.rejection or "")
                response = web.json_response(
                    {"error": "invalid_token", "message": call.rejection},
                    status=401,
                    headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
                )
            else:
                response = self._answer(endpoint, call, key, request)
        call.status = response.status
        return response

    def _answer(
        self, endpoint: ApiEndpoint, call: ApiCall, key: MachineKey, request: web.Request
    ) -> web.Response:
        try:
            if endpoint == "create":
                return self._do_create(call, key)
            if endpoint == "list":
                return self._do_list(call, key, request)
            if endpoint == "refresh":
                return self._do_refresh(call, key)
            return self._do_revoke(call, key)
        except MeshesError as error:
            if isinstance(error, SessionNotFound):
                reason = error.session_id
            elif error.field is not None:
                reason = f"{error.field}: {error.message}"
            else:
                reason = error.message
            self._note_refusal(call, _VERBS[endpoint], error.code, reason)
            return web.json_response(error.to_json(), status=error.status)

    async def _create(self, request: web.Request) -> web.StreamResponse:
        return await self._handle("create", request)

    async def _list(self, request: web.Request) -> web.StreamResponse:
        return await self._handle("list", request)

    async def _refresh(self, request: web.Request) -> web.StreamResponse:
        return await self._handle("refresh", request)

    async def _revoke(self, request: web.Request) -> web.StreamResponse:
        return await self._handle("revoke", request)

    def _do_create(self, call: ApiCall, key: MachineKey) -> web.Response:
        body = call.body
        if not isinstance(body, dict):
            raise ValidationError("body", "the request body must be a JSON object")
        workspace_id = body.get("workspace_id")
        if workspace_id is None:
            raise ValidationError("workspace_id", "workspace_id is required")
        if not isinstance(workspace_id, str) or not _UUID_RE.match(workspace_id.lower()):
            raise ValidationError("workspace_id", "workspace_id must be a UUID")
        if workspace_id.lower() not in self._org_workspaces(key.org_id):
            raise MeshesError(403, "forbidden", "the workspace is not in this organization")
        answer = self.fake.create_session(body, allowed_origin=self._host_origin(body))
        session = self.fake.session(answer["session_id"])
        call.session_id = session.session_id
        user = session.external_user_id or "(none)"
        self.transcript.add(
            "api",
            "api-minted",
            f"api minted session {session.session_id} for user {user} (page {session.launch_page})",
            session_id=session.session_id,
            role=session.role,
            expires_at=answer["expires_at"],
            external_user_id=session.external_user_id,
            launch_page=session.launch_page,
            workspace_id=session.workspace_id,
            org_id=key.org_id,
        )
        return web.json_response(answer, status=201, headers={"Cache-Control": "no-store"})

    def _host_origin(self, body: dict[str, Any]) -> str | None:
        """The origin the stub embed posts to: the first allowed origin, else the default
        (None: no page can host this session's embed)."""
        origins = body.get("allowed_origins")
        if isinstance(origins, list) and origins:
            first = parse_origin(origins[0])
            if first is not None:
                return first
        return self.default_host_origin

    def _do_refresh(self, call: ApiCall, key: MachineKey) -> web.Response:
        session_id = call.session_id or ""
        self._owned_session(session_id, key)
        answer = self.fake.refresh(session_id)
        generation = self.fake.session(session_id).token_generation
        self.transcript.add(
            "api",
            "api-refreshed",
            f"api refreshed session {session_id} (token #{generation}, "
            f"expires {answer['expires_at']})",
            session_id=session_id,
            generation=generation,
            expires_at=answer["expires_at"],
        )
        return web.json_response(answer, headers={"Cache-Control": "no-store"})

    def _do_revoke(self, call: ApiCall, key: MachineKey) -> web.Response:
        session_id = call.session_id or ""
        self._owned_session(session_id, key)
        self.fake.revoke(session_id)
        with self._lock:
            self._revoked.append(session_id)
        self.transcript.add(
            "api", "api-revoked", f"api revoked session {session_id}", session_id=session_id
        )
        return web.Response(status=204)

    def _owned_session(self, session_id: str, key: MachineKey) -> SessionView:
        """The session when it is live and in the key's organization, else SessionNotFound
        (the same answer for another org's session: nothing to probe)."""
        try:
            session = self.fake.session(session_id)
        except KeyError:
            raise SessionNotFound(session_id) from None
        if session.revoked or session.workspace_id not in self._org_workspaces(key.org_id):
            raise SessionNotFound(session_id)
        return session

    def _do_list(self, call: ApiCall, key: MachineKey, request: web.Request) -> web.Response:
        query = request.query
        workspace_id = query.get("workspace_id", "").lower()
        if not workspace_id:
            raise ValidationError("workspace_id", "workspace_id is required")
        if not _UUID_RE.match(workspace_id):
            raise ValidationError("workspace_id", "workspace_id must be a UUID")
        if workspace_id not in self._org_workspaces(key.org_id):
            raise MeshesError(403, "forbidden", "the workspace is not in this organization")
        status = query.get("status") or None
        if status is not None and status not in LIST_STATUSES:
            raise ValidationError("status", f"status must be one of: {', '.join(LIST_STATUSES)}")
        limit = _limit(query.get("limit"))
        ordered = list(reversed(self.fake.sessions()))  # newest first
        start = 0
        cursor_text = query.get("cursor")
        if cursor_text:
            with self._lock:
                cursor = self._cursors.get(cursor_text)
            if cursor is None or (cursor.org_id, cursor.workspace_id, cursor.status) != (
                key.org_id,
                workspace_id,
                status,
            ):
                raise ValidationError("cursor", "unknown cursor")
            ids = [s.session_id for s in ordered]
            start = ids.index(cursor.after) + 1 if cursor.after in ids else len(ids)
        matching = [
            s
            for s in ordered[start:]
            if s.workspace_id == workspace_id and (status is None or _status(s) == status)
        ]
        page, more = matching[:limit], len(matching) > limit
        next_cursor = None
        if more:
            next_cursor = "cur_" + secrets.token_urlsafe(12)
            with self._lock:
                self._cursors[next_cursor] = _Cursor(
                    key.org_id, workspace_id, status, page[-1].session_id
                )
        self.transcript.add(
            "api",
            "api-listed",
            f"api listed {len(page)} sessions of workspace {workspace_id} "
            f"(status {status or 'any'}, {'more' if more else 'last page'})",
            workspace_id=workspace_id,
            count=len(page),
            more=more,
        )
        return web.json_response(
            {"data": [_list_item(s) for s in page], "next_cursor": next_cursor}
        )

    # -- internals ----------------------------------------------------------------------

    async def _record(self, endpoint: ApiEndpoint, request: web.Request) -> ApiCall:
        text = await request.text()
        body: Any = None
        if text:
            try:
                body = json.loads(text)
            except json.JSONDecodeError:
                body = text
        headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
        if "Authorization" in request.headers:
            scheme = request.headers["Authorization"].partition(" ")[0][:20]
            headers["Authorization"] = f"{scheme} {REDACTED_SUFFIX}"
        call = ApiCall(
            endpoint=endpoint,
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers=headers,
            body=body,
            time=time.time(),
            session_id=request.match_info.get("session_id"),
        )
        with self._lock:
            self._calls.append(call)
        return call

    async def _injected(self, call: ApiCall) -> web.Response | None:
        """A hang, a delay or a queued failure for this call; None means "go ahead"."""
        endpoint = call.endpoint
        outcome = await self._faults.take(
            endpoint,
            on_hang=lambda: self.transcript.add(
                "api", "api-hang", f"api {endpoint} request hangs (injected)"
            ),
        )
        if outcome is None:
            return None
        if isinstance(outcome, Hung):
            return web.json_response(
                {"error": "service_unavailable", "message": "hung request released"}, status=503
            )
        self.transcript.add(
            "api", "api-injected", f"api {endpoint} answered HTTP {outcome.status} (injected)"
        )
        code = _DEFAULT_CODES.get(outcome.status, "injected")
        message = f"injected failure (HTTP {outcome.status})"
        return outcome.response({"error": code, "message": message})

    def _note_refusal(self, call: ApiCall, what: str, code: str, reason: str) -> None:
        self.transcript.add(
            "api",
            "api-refused",
            f"api refused a {what}: {code} ({reason})",
            endpoint=call.endpoint,
            code=code,
            reason=reason,
            session_id=call.session_id,
        )


_VERBS: dict[str, str] = {
    "create": "mint",
    "refresh": "refresh",
    "list": "list",
    "revoke": "revoke",
}


def _limit(value: str | None) -> int:
    if value is None or value == "":
        return LIST_LIMIT_DEFAULT
    if not value.isdigit() or not 1 <= int(value) <= LIST_LIMIT_MAX:
        raise ValidationError("limit", f"limit must be an integer from 1 to {LIST_LIMIT_MAX}")
    return int(value)


def _status(session: SessionView) -> str:
    return "revoked" if session.revoked else "active"


def _list_item(session: SessionView) -> dict[str, Any]:
    """A session as the list shows it: metadata only, never a token or launch URL."""
    return {
        "session_id": session.session_id,
        "workspace_id": session.workspace_id,
        "session_type": session.session_type,
        "role": session.role,
        "external_user_id": session.external_user_id,
        "status": _status(session),
        "created_at": iso_utc(session.created_at),
        "expires_at": iso_utc(session.expires_at),
    }
