"""The two endpoints the bridge calls, framework-free: every decision is made here.

A framework adapter turns its request into an `EndpointRequest` (who is logged in, the
`Origin` and `Content-Type` headers, the raw body), calls `EmbedService.mint` or
`EmbedService.refresh`, and turns the `EndpointReply` back into its own response. So the
rules below are written (and tested) once for Flask, Django and FastAPI:

1. no logged-in user -> 401 ``login-required`` (`meshes_bridge.server.identity` says who is
   logged in, the same way for every adapter);
2. an `Origin` header not in MESHES_ALLOWED_ORIGINS -> 403 ``origin-not-allowed`` (with
   ``origin``, the refused origin, when it is one), logged naming the setting and its list;
3. a `Content-Type` other than application/json -> 415 ``unsupported-media-type``
   (a cross-site HTML form can send neither 2 nor 3);
4. over the per-user limit -> 429 ``rate-limited`` with `Retry-After`;
5. mint: the body may choose only `launch_page` (and `resource` + `resource_id` where the
   policy allows); anything else -> 400 ``field-not-allowed`` / ``bad-value`` with the
   field, and nothing is minted. User, workspace, role, TTLs and origins come from the
   host's policy, never from the browser;
6. refresh: the body is empty or ``{}`` (anything else -> 400, as for a mint); a session
   not bound to this user -> 404 ``not-found`` (the same answer as an unknown id); Meshes
   says it is gone -> 404 ``session-gone``;
7. Meshes down or 5xx after retries -> 502 ``meshes-unavailable``; Meshes refusing our
   credentials -> 500 ``meshes-credentials`` and a log line naming the cause.

A mint during which its user's logout began hands out no token: its session is revoked and
the answer is 401 ``login-required``. A logout returns within REVOKE_DEADLINE seconds,
whatever Meshes does.

Every reply carries `Cache-Control: no-store`; no error body or log line holds a token,
a launch URL, the JWT or the secret.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for_futures
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from meshes_bridge.core.origins import OriginError, parse_origin_only
from meshes_bridge.server.client import NO_RETRY, MeshesClient
from meshes_bridge.server.errors import (
    MeshesAPIError,
    MeshesCredentialsError,
    MeshesNotFoundError,
    MeshesRateLimitedError,
    MeshesUnavailableError,
)
from meshes_bridge.server.identity import UserKeyError, normalize_key
from meshes_bridge.server.redaction import redact_text
from meshes_bridge.server.render import LAUNCH_PAGES
from meshes_bridge.server.settings import ConfigurationError, MeshesSettings
from meshes_bridge.server.stores import BindingStore, MemoryStore, RedisStore

log = logging.getLogger("meshes_bridge.server")

ROLES = ("member", "admin", "owner")
SESSION_TYPES = ("workspace", "dashboard", "resource")
BROWSER_FIELDS = ("launch_page", "resource", "resource_id")
MAX_BODY_BYTES = 4096
RATE_WINDOW = 60
REVOKE_TIMEOUT = 3.0  # seconds for one revoke on logout (no retries)
REVOKE_DEADLINE = 10.0  # seconds a logout may spend revoking
REVOKE_WORKERS = 4  # revokes of one logout in flight at once
BINDING_GRACE = 120  # seconds a binding outlives the token's expiry (clock skew, late refresh)
FALLBACK_BINDING_TTL = 3600
_SESSION_ID_RE = re.compile(r"[A-Za-z0-9_\-]{1,200}")  # always fullmatch: "$" allows "\n"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@dataclass(frozen=True)
class MintPolicy:
    """What a minted session is: the host's decision, never the browser's.

    `workspace_id` None = MESHES_WORKSPACE_ID. `launch_pages` are the pages the browser
    may ask for (`data-session-body`), `default_launch_page` the one used when it asks for
    none (None = Meshes' default). `allowed_resources` names the resource types a
    `resource` session may be minted for; `authorize_resource(resource, resource_id)`
    says whether this user may see that one (required when resources are allowed).
    """

    workspace_id: str | None = None
    role: str = "member"
    session_type: str = "workspace"
    ttl_seconds: int | None = None
    launch_ttl_seconds: int | None = None
    launch_pages: tuple[str, ...] = LAUNCH_PAGES
    default_launch_page: str | None = None
    allowed_resources: tuple[str, ...] = ()
    authorize_resource: Callable[[str, str], bool] | None = None
    scopes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        if self.session_type not in SESSION_TYPES:
            raise ValueError(f"session_type must be one of {SESSION_TYPES}")
        unknown = [p for p in self.launch_pages if p not in LAUNCH_PAGES]
        if unknown:
            raise ValueError(f"unknown launch page {unknown[0]!r}")
        if self.default_launch_page is not None and self.default_launch_page not in LAUNCH_PAGES:
            raise ValueError(f"unknown launch page {self.default_launch_page!r}")
        if self.ttl_seconds is not None and not 300 <= self.ttl_seconds <= 3600:
            raise ValueError("ttl_seconds must be 300-3600")
        if self.launch_ttl_seconds is not None and not 15 <= self.launch_ttl_seconds <= 60:
            raise ValueError("launch_ttl_seconds must be 15-60")
        if self.allowed_resources and self.authorize_resource is None:
            raise ValueError("allowed_resources needs authorize_resource(resource, resource_id)")


#: A policy, or a callback `(user, request) -> MintPolicy` for per-user policies.
PolicySource = MintPolicy | Callable[[Any, Any], MintPolicy]


@dataclass(frozen=True)
class EndpointRequest:
    """A request to one of the two endpoints, as the framework adapter saw it.

    `user_key` is the logged-in user's id as a string (None = anonymous); `user` and
    `native` (the framework's user and request objects) are passed to a policy callback.
    """

    user_key: str | None
    origin: str | None
    content_type: str | None
    body: bytes = b""
    user: Any = field(default=None, repr=False)
    native: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        # One notion of the key everywhere (binding, limits, external_user_id, logout): an
        # int or UUID id becomes its text; None, False and "" are anonymous; anything else
        # raises UserKeyError rather than become a user.
        key: object = self.user_key  # as the adapter gave it, perhaps not a str
        object.__setattr__(self, "user_key", normalize_key(key, "the adapter's user key"))


@dataclass(frozen=True)
class EndpointReply:
    """What to answer: `status`, a JSON `body`, and `headers` (always no-store)."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=lambda: dict(NO_STORE))

    def json_bytes(self) -> bytes:
        return json.dumps(self.body, separators=(",", ":")).encode("utf-8")

    def __repr__(self) -> str:  # the body may hold a token
        return f"EndpointReply(status={self.status}, error={self.body.get('error')!r})"


def error_reply(status: int, code: str, **extra: Any) -> EndpointReply:
    """A JSON error answer, `{"error": code, **extra}`, no-store (`retry_after=` seconds
    becomes a Retry-After header): the adapters' own refusals look like the service's."""
    headers = dict(NO_STORE)
    retry_after = extra.pop("retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return EndpointReply(status, {"error": code, **extra}, headers)


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _canonical_origin(value: str) -> str | None:
    try:
        return parse_origin_only(value.strip()).serialize()
    except (OriginError, AttributeError):
        return None


def _json_object(raw: bytes) -> dict[str, Any] | EndpointReply:
    """A request body as a JSON object (empty body: {}), or the 400 to answer."""
    if len(raw) > MAX_BODY_BYTES:
        return error_reply(400, "bad-value", field="body")
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        # RecursionError: a few KB of "[[[[..." nest deeper than the decoder goes.
        return error_reply(400, "bad-value", field="body")
    if not isinstance(body, dict):
        return error_reply(400, "bad-value", field="body")
    return body


def _refresh_body_refused(raw: bytes) -> EndpointReply | None:
    """The browser chooses nothing on refresh: its body is empty or {}; else the 400."""
    body = _json_object(raw)
    if isinstance(body, EndpointReply):
        return body
    if body:
        return error_reply(400, "field-not-allowed", field=str(min(body))[:64])
    return None


def refuse_user_key(endpoint: str, exc: UserKeyError) -> EndpointReply:
    """The answer when the host's user gave no usable key: a set-up mistake, so a 500 and a
    log line naming the option to set (the error's text holds no user data)."""
    log.error("%s refused: %s", endpoint, exc)
    return error_reply(500, "internal")


def _seconds_until(expires_at: str, now: float) -> float | None:
    try:
        moment = datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.timestamp() - now


#: The events `Hooks` reports, each with what its callbacks are given.
HOOK_EVENTS = {
    "minted": ("user_key", "session_id"),
    "refreshed": ("user_key", "session_id"),
    "revoked": ("user_key", "count"),
}


class Hooks:
    """Callbacks on what the service did, as plain lists a host appends to (each adapter
    also offers them in its framework's idiom: blinker signals on Flask, Django signals,
    decorators on FastAPI):

    * `minted`: ``callback(user_key=..., session_id=...)`` after a session was minted;
    * `refreshed`: ``callback(user_key=..., session_id=...)`` after a token refresh;
    * `revoked`: ``callback(user_key=..., count=...)`` after a logout's revokes (`count`:
      how many Meshes revoked, perhaps 0).

    They are given ids, never a token or a launch URL, so they may log what they get. A
    failing callback is logged and skipped: it cannot undo a mint or stop a logout.
    """

    def __init__(self) -> None:
        self.minted: list[Callable[..., object]] = []
        self.refreshed: list[Callable[..., object]] = []
        self.revoked: list[Callable[..., object]] = []

    def fire(self, event: str, **details: Any) -> None:
        callbacks: list[Callable[..., object]] = getattr(self, event)
        for callback in list(callbacks):
            try:
                callback(**details)
            except Exception as exc:
                log.error("a meshes-bridge %s hook failed (%s)", event, type(exc).__name__)
                log.debug("%s hook failure", event, exc_info=True)


class EmbedService:
    """Mint and refresh, bound to the logged-in user; revoke on logout.

    `client` defaults to a `MeshesClient` built from `settings`; `store` to a
    `RedisStore` when MESHES_BRIDGE_REDIS_URL is set, else a `MemoryStore` (with a
    start-up warning: it suits one process only). `policy` is a `MintPolicy` or a
    callback `(user, native_request) -> MintPolicy`.
    """

    def __init__(
        self,
        settings: MeshesSettings,
        *,
        client: MeshesClient | None = None,
        store: BindingStore | None = None,
        policy: PolicySource | None = None,
        clock: Callable[[], float] = time.time,
        revoke_deadline: float = REVOKE_DEADLINE,
    ) -> None:
        self.settings = settings
        self.client = client or MeshesClient.from_settings(settings)
        self.store = store if store is not None else default_store(settings)
        self.policy: PolicySource = policy if policy is not None else MintPolicy()
        self._clock = clock
        self._revoke_deadline = revoke_deadline
        self._secrets = (settings.secret_key,)
        self.hooks = Hooks()

    # -- the endpoints -------------------------------------------------------------------

    def mint(self, request: EndpointRequest) -> EndpointReply:
        """`POST <prefix>/session` -> 200 {session_id, access_token, expires_at, launch_url}."""
        return self._guarded("mint", self._mint, request)

    def refresh(self, request: EndpointRequest, session_id: str) -> EndpointReply:
        """`POST <prefix>/session/{session_id}/refresh` -> 200 {access_token, expires_at}."""
        return self._guarded("refresh", self._refresh, request, session_id)

    def _guarded(
        self, endpoint: str, handler: Callable[..., EndpointReply], *args: Any
    ) -> EndpointReply:
        # A failing store, policy callback or bug answers a JSON 500 with no-store, and is
        # logged by type only: an exception's text could quote a request or a response.
        try:
            return handler(*args)
        except Exception as exc:
            log.error("%s failed: internal error (%s)", endpoint, type(exc).__name__)
            log.debug("%s failure", endpoint, exc_info=True)
            return error_reply(500, "internal")

    def _mint(self, request: EndpointRequest) -> EndpointReply:
        refused = self._gate(request, "mint", self.settings.mint_limit)
        if refused is not None:
            return refused
        assert request.user_key is not None  # _gate refused anonymous requests
        policy = self._policy_for(request)
        chosen = self._browser_choices(request.body, policy)
        if isinstance(chosen, EndpointReply):
            return chosen
        fields: dict[str, Any] = {
            "session_type": policy.session_type,
            "role": policy.role,
            "external_user_id": request.user_key,
            "ttl_seconds": policy.ttl_seconds,
            "launch_ttl_seconds": policy.launch_ttl_seconds,
            "launch_page": policy.default_launch_page,
            "allowed_origins": list(self.settings.allowed_origins),
            "scopes": list(policy.scopes) or None,
            **chosen,
        }
        if "resource" in chosen:
            fields["session_type"] = "resource"
        logouts = self.store.logout_mark(request.user_key)
        try:
            session = self.client.create_session(
                workspace_id=policy.workspace_id or self.settings.workspace_id, **fields
            )
        except MeshesAPIError as exc:
            return self._meshes_failed("mint", exc)
        try:
            self.store.bind(
                session.session_id, request.user_key, self._binding_ttl(session.expires_at)
            )
        except Exception:
            # Unbound, no logout could find it: take it back rather than leave it live.
            self._revoke_quietly(session.session_id)
            raise
        if self.store.logout_mark(request.user_key) != logouts:
            # The user logged out while Meshes was minting: that logout could not see this
            # session, so it is taken back here and no token leaves.
            self._revoke_quietly(session.session_id)
            self.store.unbind(session.session_id)
            log.info("mint for user %s ended by a logout; session revoked", request.user_key)
            return error_reply(401, "login-required")
        log.info("minted Meshes session %s for user %s", session.session_id, request.user_key)
        self.hooks.fire("minted", user_key=request.user_key, session_id=session.session_id)
        return EndpointReply(200, session.browser_json())

    def _refresh(self, request: EndpointRequest, session_id: str) -> EndpointReply:
        refused = self._gate(request, "refresh", self.settings.refresh_limit)
        if refused is not None:
            return refused
        bad_body = _refresh_body_refused(request.body)
        if bad_body is not None:
            return bad_body
        # Unknown, malformed and someone else's: one answer, so ids cannot be probed.
        if not _SESSION_ID_RE.fullmatch(session_id or "") or (
            self.store.owner(session_id) != request.user_key
        ):
            log.info("refresh of a session not bound to user %s refused", request.user_key)
            return error_reply(404, "not-found")
        try:
            token = self.client.refresh_session(session_id)
        except MeshesNotFoundError:
            self.store.unbind(session_id)
            log.info("Meshes session %s is gone; the bridge will mint afresh", session_id)
            return error_reply(404, "session-gone")
        except MeshesAPIError as exc:
            return self._meshes_failed("refresh", exc)
        assert request.user_key is not None
        self.store.bind(session_id, request.user_key, self._binding_ttl(token.expires_at))
        self.hooks.fire("refreshed", user_key=request.user_key, session_id=session_id)
        return EndpointReply(200, token.browser_json())

    def revoke_user(self, user_key: object) -> int:
        """Revoke every live session bound to `user_key` (call on logout); returns how many
        Meshes revoked. Never raises: logout must not fail.

        First the user's logout mark changes, so a mint already in flight revokes its own
        session instead of handing out a token. Then the bound sessions are revoked at
        once, each one quick call (REVOKE_TIMEOUT, no retries), and the logout returns after
        at most `revoke_deadline` seconds whatever Meshes does: a revoke still unanswered
        then goes on in the background and its session stays bound, so the next logout
        tries again (and it ends with its TTL anyway)."""
        try:
            key = normalize_key(user_key, "the key given to revoke_user")
        except UserKeyError as exc:
            log.error("logout: %s", exc)
            return 0
        if key is None:
            return 0
        count = self._revoke_key(key)
        self.hooks.fire("revoked", user_key=key, count=count)
        return count

    def _revoke_key(self, key: str) -> int:
        try:
            self.store.begin_logout(key)
            session_ids = self.store.sessions_of(key)
        except Exception as exc:
            log.error("logout of user %s: the store failed (%s)", key, type(exc).__name__)
            return 0
        if not session_ids:
            return 0
        outcomes = self._revoke_all(session_ids)
        revoked = 0
        for session_id in session_ids:
            outcome = outcomes.get(session_id)
            if outcome is None:
                log.warning("logout of user %s: Meshes too slow, %s left bound", key, session_id)
                continue
            revoked += outcome == "revoked"
            if outcome in ("revoked", "gone"):
                try:
                    self.store.unbind(session_id)
                except Exception as exc:
                    log.error("logout: could not unbind %s (%s)", session_id, type(exc).__name__)
        if revoked:
            log.info("revoked %d Meshes session(s) of user %s on logout", revoked, key)
        return revoked

    def _revoke_all(self, session_ids: list[str]) -> dict[str, str]:
        """Each session's revoke outcome, for those Meshes answered within the deadline.
        Only the Meshes calls run in worker threads; the store is used by the caller."""
        pool = ThreadPoolExecutor(
            max_workers=min(REVOKE_WORKERS, len(session_ids)),
            thread_name_prefix="meshes-bridge-revoke",
        )
        try:
            futures: dict[Future[str], str] = {
                pool.submit(self._revoke_quietly, session_id): session_id
                for session_id in session_ids
            }
            done, _late = wait_for_futures(futures, timeout=self._revoke_deadline)
            return {futures[future]: future.result() for future in done}
        finally:
            # Late revokes end on their own (REVOKE_TIMEOUT); queued ones never start.
            pool.shutdown(wait=False, cancel_futures=True)

    def _revoke_quietly(self, session_id: str) -> str:
        """ "revoked", "gone" (already) or "failed"; logged, never raised."""
        try:
            self.client.revoke_session(session_id, retry=NO_RETRY, timeout=REVOKE_TIMEOUT)
            return "revoked"
        except MeshesNotFoundError:
            return "gone"
        except Exception as exc:
            text = str(exc) if isinstance(exc, MeshesAPIError) else type(exc).__name__
            log.warning(
                "could not revoke Meshes session %s: %s",
                session_id,
                redact_text(text, self._secrets),
            )
            return "failed"

    # -- the rules -----------------------------------------------------------------------

    def _gate(self, request: EndpointRequest, endpoint: str, limit: int) -> EndpointReply | None:
        if request.user_key is None or request.user_key == "":
            return error_reply(401, "login-required")
        if request.origin is not None and request.origin != "":
            origin = _canonical_origin(request.origin)
            allowed = self.settings.allowed_origins
            if origin is None or origin not in allowed:
                log.warning(
                    "%s refused: Origin %r is not in MESHES_ALLOWED_ORIGINS (%s); if that page "
                    "is yours, add its origin there",
                    endpoint,
                    request.origin[:100],
                    ", ".join(allowed),
                )
                # The origin as the server read it, for the bridge's console line; it is
                # the requesting page's own, so nothing is disclosed.
                named = {"origin": origin} if origin is not None else {}
                return error_reply(403, "origin-not-allowed", **named)
        if _media_type(request.content_type) != "application/json":
            return error_reply(415, "unsupported-media-type")
        retry_after = self.store.hit(f"{endpoint}:{request.user_key}", limit, RATE_WINDOW)
        if retry_after is not None:
            log.warning("%s rate limit reached for user %s", endpoint, request.user_key)
            return error_reply(429, "rate-limited", retry_after=retry_after)
        return None

    def _policy_for(self, request: EndpointRequest) -> MintPolicy:
        if isinstance(self.policy, MintPolicy):
            return self.policy
        policy = self.policy(request.user, request.native)
        if not isinstance(policy, MintPolicy):
            raise TypeError("the policy callback must return a MintPolicy")
        return policy

    def _browser_choices(self, raw: bytes, policy: MintPolicy) -> dict[str, Any] | EndpointReply:
        """The fields the browser may choose, checked; or the 400 to answer."""
        body = _json_object(raw)
        if isinstance(body, EndpointReply):
            return body
        for name in sorted(body):
            allowed = name == "launch_page" or (
                name in ("resource", "resource_id") and policy.allowed_resources
            )
            if not allowed:
                return error_reply(400, "field-not-allowed", field=str(name)[:64])
        chosen: dict[str, Any] = {}
        if "launch_page" in body:
            page = body["launch_page"]
            if not isinstance(page, str) or page not in policy.launch_pages:
                return error_reply(400, "bad-value", field="launch_page")
            chosen["launch_page"] = page
        if "resource" in body or "resource_id" in body:
            resource, resource_id = body.get("resource"), body.get("resource_id")
            if not isinstance(resource, str) or resource not in policy.allowed_resources:
                return error_reply(400, "bad-value", field="resource")
            if not isinstance(resource_id, str) or not 0 < len(resource_id) <= 255:
                return error_reply(400, "bad-value", field="resource_id")
            assert policy.authorize_resource is not None
            if not policy.authorize_resource(resource, resource_id):
                # Not this user's resource: the same 400 as a malformed id (no probing).
                return error_reply(400, "bad-value", field="resource_id")
            chosen.update(resource=resource, resource_id=resource_id)
        return chosen

    def _meshes_failed(self, endpoint: str, exc: MeshesAPIError) -> EndpointReply:
        text = redact_text(str(exc), self._secrets)
        if isinstance(exc, MeshesCredentialsError):
            log.error(
                "Meshes refused the machine credentials on %s (%s): check MESHES_ORG_ID, "
                "MESHES_ACCESS_KEY and MESHES_SECRET_KEY",
                endpoint,
                text,
            )
            return error_reply(500, "meshes-credentials")
        if isinstance(exc, MeshesUnavailableError | MeshesRateLimitedError):
            log.warning("Meshes unavailable on %s: %s", endpoint, text)
            retry_after = exc.retry_after if isinstance(exc, MeshesRateLimitedError) else None
            return error_reply(502, "meshes-unavailable", retry_after=retry_after)
        log.error("Meshes refused the %s request (%s): check the mint policy", endpoint, text)
        return error_reply(500, "meshes-rejected")

    def _binding_ttl(self, expires_at: str) -> float:
        left = _seconds_until(expires_at, self._clock())
        if left is None or left <= 0:
            return FALLBACK_BINDING_TTL
        return left + BINDING_GRACE


def default_store(settings: MeshesSettings) -> BindingStore:
    """Redis when MESHES_BRIDGE_REDIS_URL is set (a Redis Cluster when
    MESHES_BRIDGE_REDIS_CLUSTER is true), else in-process (with a warning). Reaches Redis
    now and checks that it is a cluster exactly when the settings say so: a wrong URL or
    mode fails the start, not the first request (with a MOVED or CROSSSLOT error)."""
    if settings.redis_url:
        return _checked_redis_store(settings.redis_url, cluster=settings.redis_cluster)
    log.warning(
        "meshes-bridge keeps session bindings and rate limits in this process only: fine "
        "for development and one worker; set MESHES_BRIDGE_REDIS_URL for several processes"
    )
    return MemoryStore()


def _checked_redis_store(url: str, *, cluster: bool) -> RedisStore:
    # The node the URL names is asked first, as a plain Redis: whether it is a cluster
    # node (INFO cluster) decides between the two clear errors below.
    probe = RedisStore(url)
    try:
        probe.ping()
        is_cluster = probe.cluster_enabled()
        state = probe.cluster_state() if is_cluster and cluster else "ok"
    except Exception as exc:
        raise ConfigurationError(
            [f"MESHES_BRIDGE_REDIS_URL: cannot reach Redis ({_redis_failure(exc)})"]
        ) from None
    finally:
        probe.close()
    if cluster and not is_cluster:
        raise ConfigurationError(
            [
                "MESHES_BRIDGE_REDIS_CLUSTER is true but MESHES_BRIDGE_REDIS_URL names a "
                "Redis that is not a cluster node (INFO cluster: cluster_enabled:0): set "
                "MESHES_BRIDGE_REDIS_CLUSTER=false"
            ]
        )
    if is_cluster and not cluster:
        raise ConfigurationError(
            [
                "MESHES_BRIDGE_REDIS_URL names a node of a Redis Cluster (INFO cluster: "
                "cluster_enabled:1) but MESHES_BRIDGE_REDIS_CLUSTER is not true: set "
                "MESHES_BRIDGE_REDIS_CLUSTER=true"
            ]
        )
    if not cluster:
        return RedisStore(url)
    if state != "ok":
        raise ConfigurationError(
            [
                f"MESHES_BRIDGE_REDIS_URL names a node of a Redis Cluster that is not "
                f"serving (CLUSTER INFO: cluster_state:{state}): fix the cluster first"
            ]
        )
    try:
        store = RedisStore(url, cluster=True)  # reads the cluster's slots from that node
        store.ping()
    except Exception as exc:
        raise ConfigurationError(
            [f"MESHES_BRIDGE_REDIS_URL: cannot use the Redis Cluster ({_redis_failure(exc)})"]
        ) from None
    return store


def _redis_failure(exc: BaseException) -> str:
    """The error's type, and its text when that cannot hold the URL's password."""
    name = type(exc).__name__
    text = str(exc).splitlines()[0][:160] if str(exc) else ""
    if not text or "@" in text or "redis://" in text or "rediss://" in text:
        return name
    return f"{name}: {text}"


__all__ = [
    "MAX_BODY_BYTES",
    "EmbedService",
    "EndpointReply",
    "EndpointRequest",
    "Hooks",
    "MintPolicy",
    "PolicySource",
    "default_store",
    "error_reply",
    "refuse_user_key",
]
