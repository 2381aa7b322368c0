"""What the Flask, Django and FastAPI adapters share, so each only translates its framework.

* the endpoint paths: one prefix rule (`url_path`), one refresh template with the literal
  ``{session_id}`` the browser half fills in (`refresh_path`, `refresh_url`);
* the body: `BoundedBody` takes chunks until it holds MAX_BODY_BYTES + 1 bytes, enough for
  the service to answer 400 whatever size (or chunked stream) a client sends;
  `read_bounded` drives it from a blocking `read(n)`, an async adapter from its stream;
* the answer: `reply_to` turns the already-read pieces of a request into the service's
  `EndpointReply` (a user with no usable key -> the logged 500, as the service answers);
  `method_not_allowed` and `not_found` are the JSON answers for the other methods and
  paths below ``<prefix>/session``;
* logout: `revoke_quietly` never raises, whatever the store, Meshes or a hook does.

The adapters' one vocabulary of keyword arguments is `BridgeOptions`, with the older
spellings of its paths in `ALIASES`; `options` checks and resolves what an adapter got.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any, TypedDict

from meshes_bridge.server.client import MeshesClient
from meshes_bridge.server.identity import KeyFunction, UserKeyError
from meshes_bridge.server.service import (
    MAX_BODY_BYTES,
    EmbedService,
    EndpointReply,
    EndpointRequest,
    PolicySource,
    error_reply,
    refuse_user_key,
)
from meshes_bridge.server.stores import BindingStore

log = logging.getLogger("meshes_bridge.server")

DEFAULT_URL_PREFIX = "/meshes"
DEFAULT_STATIC_URL_PATH = "/static/meshes-bridge"
SESSION_ID_PLACEHOLDER = "{session_id}"
#: A URL-safe session id for a framework to build the refresh URL with (url_for, reverse
#: would percent-encode the placeholder's braces); `refresh_url` swaps in the placeholder.
SESSION_ID_STAND_IN = "__meshes_session_id__"
#: Methods the endpoint paths answer with the JSON 405 (POST is the endpoints' own).
METHODS_REFUSED = ("GET", "PUT", "PATCH", "DELETE")
#: Characters a prefix cannot hold: a query, a fragment, a route placeholder or converter.
_NOT_IN_PATH = re.compile(r"[?#{}<>\s]")


class BridgeOptions(TypedDict, total=False):
    """The keyword arguments every adapter's `MeshesBridge` accepts besides `settings` (a
    MeshesSettings; default: from the MESHES_* settings and environment): one vocabulary.

    policy           a MintPolicy, or a callback (user, request) -> MintPolicy
    user_key         a callback (user) -> the user's key (default: id, pk, get_id(), ...)
    store            a BindingStore (default: Redis when MESHES_BRIDGE_REDIS_URL is set)
    client           a MeshesClient (default: one built from the settings)
    url_prefix       the endpoints' path prefix (default "/meshes"); alias `prefix`
    static_url_path  where the asset tree is served (default "/static/meshes-bridge");
                     alias `static_path`
    """

    policy: PolicySource | None
    user_key: KeyFunction | None
    store: BindingStore | None
    client: MeshesClient | None
    url_prefix: str
    static_url_path: str
    prefix: str
    static_path: str


#: Other spellings of the two paths, accepted by every adapter (host code written against
#: FastAPI's `APIRouter(prefix=...)` wording keeps working).
ALIASES = {"prefix": "url_prefix", "static_path": "static_url_path"}
_DEFAULT_PATHS = {"url_prefix": DEFAULT_URL_PREFIX, "static_url_path": DEFAULT_STATIC_URL_PATH}


def options(given: BridgeOptions) -> BridgeOptions:
    """`given` checked: an unknown name, or a path given by both its name and its alias, is
    a TypeError; the paths are resolved (`url_path`, the defaults filled in), under their
    names in the vocabulary, and a bad one is a ValueError naming the argument as given."""
    unknown = sorted(set(given) - set(BridgeOptions.__annotations__))
    if unknown:
        raise TypeError(f"MeshesBridge() got an unexpected keyword argument {unknown[0]!r}")
    values: dict[str, Any] = dict(given)
    for alias, name in ALIASES.items():
        if alias in values and name in values:
            raise TypeError(f"{alias}= and {name}= name one option: give one")
        used = alias if alias in values else name
        path = values.pop(used, None)
        values[name] = url_path(
            _DEFAULT_PATHS[name] if path is None else path,
            used,
            allow_root=name == "url_prefix",
        )
    checked: BridgeOptions = values  # type: ignore[assignment]  # the names were checked
    return checked


def url_path(value: str, what: str, *, allow_root: bool) -> str:
    """A path prefix as the routes use it: a leading slash, none at the end ("" = the root,
    only where `allow_root`); ValueError naming `what` for anything but a plain path."""
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a path like {DEFAULT_URL_PREFIX!r}")
    trimmed = value.strip("/")
    if not trimmed and not allow_root:
        raise ValueError(f"{what} must be a path like {DEFAULT_STATIC_URL_PATH!r}, not the root")
    if _NOT_IN_PATH.search(trimmed):
        raise ValueError(f"{what} must be a plain path (no query, fragment or placeholder)")
    return f"/{trimmed}" if trimmed else ""


def session_path(prefix: str) -> str:
    """The mint endpoint below `prefix` (as `url_path` returns it)."""
    return f"{prefix}/session"


def refresh_path(prefix: str, session_id: str = SESSION_ID_PLACEHOLDER) -> str:
    """The refresh endpoint below `prefix`; by default with the ``{session_id}`` template."""
    return f"{prefix}/session/{session_id}/refresh"


def refresh_url(built: str) -> str:
    """A refresh URL a framework built (url_for, reverse) for SESSION_ID_STAND_IN, with
    the ``{session_id}`` template in its place."""
    return built.replace(SESSION_ID_STAND_IN, SESSION_ID_PLACEHOLDER)


class BoundedBody:
    """A request body taken chunk by chunk, never holding more than MAX_BODY_BYTES + 1
    bytes: `add` says whether more is wanted, `wanted` how much, `value` what was kept."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._size = 0

    @property
    def wanted(self) -> int:
        return max(0, MAX_BODY_BYTES + 1 - self._size)

    def add(self, chunk: bytes) -> bool:
        kept = chunk[: self.wanted]
        self._chunks.append(kept)
        self._size += len(kept)
        return self.wanted > 0

    def value(self) -> bytes:
        return b"".join(self._chunks)


def read_bounded(read: Callable[[int], bytes]) -> bytes:
    """At most MAX_BODY_BYTES + 1 bytes from a blocking `read(n)` (a WSGI input stream);
    a read may return fewer bytes than asked, and b"" at the end."""
    body = BoundedBody()
    while body.wanted:
        chunk = read(body.wanted)
        if not chunk or not body.add(chunk):
            break
    return body.value()


def reply_to(
    service: EmbedService,
    *,
    session_id: str | None,
    identify: Callable[[], tuple[object, Any]],
    origin: str | None,
    content_type: str | None,
    body: bytes,
    native: Any = None,
) -> EndpointReply:
    """The answer to one endpoint request, from its already-read pieces: a mint when
    `session_id` is None, else a refresh of it. `identify()` gives ``(user_key, user)``
    (None as the key = anonymous) and may raise `UserKeyError`: a set-up mistake the
    service answers with a logged 500."""
    endpoint = "mint" if session_id is None else "refresh"
    try:
        key, user = identify()
        request = EndpointRequest(
            user_key=key,  # type: ignore[arg-type]  # EndpointRequest checks and normalizes it
            origin=origin,
            content_type=content_type,
            body=body,
            user=user,
            native=native,
        )
    except UserKeyError as exc:
        return refuse_user_key(endpoint, exc)
    if session_id is None:
        return service.mint(request)
    return service.refresh(request, session_id)


def method_not_allowed() -> EndpointReply:
    """The JSON 405 for a method other than POST on an endpoint path."""
    reply = error_reply(405, "method-not-allowed")
    reply.headers["Allow"] = "POST"
    return reply


def not_found() -> EndpointReply:
    """The JSON 404 for a path below ``<prefix>/session`` that names no endpoint."""
    return error_reply(404, "not-found")


def revoke_quietly(service: EmbedService, identify: Callable[[], object], what: str) -> int:
    """Revoke the live sessions of the user `identify()` names (its key, None for none);
    how many Meshes revoked. Never raises: a logout must go on whatever the user key
    callback, the store or Meshes does (the failure is logged, the sessions expire on
    their own). `what` names the key's source in the log line."""
    try:
        key = identify()
        if key is None:
            return 0
        return service.revoke_user(key)
    except UserKeyError as exc:  # its text names the option to set, never the user
        log.error("could not revoke the Meshes sessions on logout (%s): %s", what, exc)
    except Exception as exc:
        log.error(
            "could not revoke the Meshes sessions on logout (%s): %s", what, type(exc).__name__
        )
    return 0


__all__ = [
    "ALIASES",
    "DEFAULT_STATIC_URL_PATH",
    "DEFAULT_URL_PREFIX",
    "METHODS_REFUSED",
    "BridgeOptions",
    "SESSION_ID_PLACEHOLDER",
    "SESSION_ID_STAND_IN",
    "BoundedBody",
    "method_not_allowed",
    "not_found",
    "read_bounded",
    "refresh_path",
    "refresh_url",
    "reply_to",
    "options",
    "revoke_quietly",
    "session_path",
]
