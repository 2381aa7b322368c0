"""The Meshes management API client, sync (`MeshesClient`) and async (`AsyncMeshesClient`).

    client = MeshesClient.from_settings(MeshesSettings.from_env())
    session = client.create_session(workspace_id=..., external_user_id="42",
                                    launch_page="connections", allowed_origins=[...])
    token = client.refresh_session(session.session_id)
    for summary in client.list_sessions(workspace_id=..., status="active"): ...
    client.revoke_session(session.session_id)

Both share, sans I/O, the request plan (`_Operation`), the reading of answers (`_Api`), the
retry loop (`_Exchange`) and the cursor walk (`_Pages`), so they cannot drift; only the
waiting and the transport differ (httpx's Client / AsyncClient). Every call carries a
machine JWT, has a timeout, and is retried a bounded number of times on 429 (honouring
`Retry-After`), 5xx, timeouts and connection errors; a mint only on what proves Meshes
minted nothing (see `_Operation.idempotent`). Errors are the types of
`meshes_bridge.server.errors`, whose text holds the status, the error code and the client's
own words, never Meshes' message, a token, the JWT or the secret.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from urllib.parse import quote

import httpx

from meshes_bridge.server.contract import CREATE_FIELDS
from meshes_bridge.server.errors import (
    MeshesAPIError,
    MeshesCredentialsError,
    MeshesNotFoundError,
    MeshesRateLimitedError,
    MeshesUnavailableError,
    MeshesValidationError,
)
from meshes_bridge.server.machine_token import MachineTokens
from meshes_bridge.server.models import MintedSession, RefreshedToken, SessionSummary
from meshes_bridge.server.redaction import is_plain_label, redact_text
from meshes_bridge.server.settings import MeshesSettings

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self is 3.11; only for type checkers

T = TypeVar("T")

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
MAX_RETRY_AFTER = 3600.0  # a larger (or non-finite) Retry-After is taken as this
USER_AGENT = "meshes-bridge"
#: Meshes error codes that mean "your machine credentials", not "this session".
CREDENTIAL_CODES = frozenset(
    {"invalid_token", "unauthorized", "forbidden", "invalid_credentials", "invalid_key"}
)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry 429, 5xx, timeouts and connection errors (a mint
    only on some of them: `_Operation.idempotent` says which).

    `retries` extra attempts after the first; waits of `backoff` * 2**n seconds (at most
    `max_backoff`), or Meshes' `Retry-After` when it sent one. A `Retry-After` longer than
    `max_retry_after` is not waited for: the error is raised at once (with `retry_after`).
    """

    retries: int = 2
    backoff: float = 0.25
    max_backoff: float = 2.0
    max_retry_after: float = 5.0

    def wait(self, attempt: int, retry_after: float | None) -> float | None:
        """Seconds to wait before attempt `attempt` + 1, or None to give up."""
        if attempt > self.retries:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_after else None
        return min(self.backoff * 2.0 ** (attempt - 1), self.max_backoff)


NO_RETRY = RetryPolicy(retries=0)

#: Transport errors raised before the request left: retried even for a mint.
NOTHING_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
#: HTTP statuses after which a mint certainly did not happen: retried even for a mint.
NOT_PROCESSED = frozenset({429, 503})


@dataclass(frozen=True)
class _Operation(Generic[T]):
    name: str
    method: str
    path: str
    parse: Callable[[Any], T]
    body: dict[str, Any] | None = None
    params: dict[str, Any] | None = None
    session_scoped: bool = False  # a 401 about the session means "gone", not "credentials"
    # A mint is not idempotent: repeating one that happened mints a second session that is
    # never bound to a user, so no logout revokes it. It is retried only on what proves
    # Meshes did not process it: no connection made (`NOTHING_SENT`), a 429 (the rate
    # limiter refused it) or a 503 (RFC 9110: the server cannot handle requests now).
    # After a 500, a 502 or a 504 (a gateway whose upstream failed or was too slow, maybe
    # after minting), a read timeout or a dropped connection, it may have happened.
    # Refresh, list and revoke are retried on everything: a repeated refresh only rotates
    # the token once more (the caller keeps the last answer), a list reads, and a repeated
    # revoke finds the session gone.
    idempotent: bool = True


@dataclass
class _Retry:
    error: MeshesAPIError
    retry_after: float | None = None


@dataclass
class _Done(Generic[T]):
    value: T


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("Retry-After")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        return None  # an HTTP date: rare from an API; use our own backoff
    if not math.isfinite(seconds):
        return None
    return min(max(0.0, seconds), MAX_RETRY_AFTER)


def _error_fields(response: httpx.Response) -> tuple[str | None, str, str | None]:
    """Meshes' error code, message and field. A code or a field that is not shaped like
    one is dropped: it is text from outside, and only its shape makes it safe to show."""
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None, "", None
    if not isinstance(data, dict):
        return None, "", None
    code, message, field_name = data.get("error"), data.get("message"), data.get("field")
    return (
        code if isinstance(code, str) and is_plain_label(code) else None,
        message if isinstance(message, str) else "",
        field_name if isinstance(field_name, str) and is_plain_label(field_name) else None,
    )


@dataclass
class _Api:
    """What both clients share: where, who, and what an answer means."""

    api_url: str
    tokens: MachineTokens
    secrets: tuple[str, ...] = field(repr=False)

    def request_args(self, op: _Operation[Any], timeout: float | None = None) -> dict[str, Any]:
        headers = {
            "Authorization": f"Bearer {self.tokens.token()}",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        args: dict[str, Any] = {
            "method": op.method,
            "url": self.api_url + op.path,
            "headers": headers,
        }
        if op.body is not None:
            args["json"] = op.body
        if op.params:
            args["params"] = {k: v for k, v in op.params.items() if v is not None}
        if timeout is not None:
            args["timeout"] = timeout
        return args

    def interpret(self, op: _Operation[T], response: httpx.Response) -> _Done[T] | _Retry:
        status = response.status_code
        if 200 <= status < 300:
            if status == 204 or not response.content:
                return _Done(op.parse(None))
            try:
                return _Done(op.parse(response.json()))
            except (
                json.JSONDecodeError,
                UnicodeDecodeError,
                ValueError,
                TypeError,
                AttributeError,
                KeyError,
            ) as exc:
                # A garbled success is not retried: a mint may have happened. Its parse
                # error may quote the answer, so it is kept as `message` only.
                detail = (
                    "the answer is not JSON"
                    if isinstance(exc, json.JSONDecodeError | UnicodeDecodeError)
                    else "the answer does not have the expected fields"
                )
                raise MeshesUnavailableError(
                    op.name,
                    status,
                    "bad_response",
                    redact_text(str(exc), self.secrets),
                    detail=detail,
                ) from None
        code, raw_message, field_name = _error_fields(response)
        message = redact_text(raw_message, self.secrets)
        if status == 429:
            return _Retry(
                MeshesRateLimitedError(
                    op.name, status, code, message, retry_after=_retry_after(response)
                ),
                _retry_after(response),
            )
        if status >= 500:
            error = MeshesUnavailableError(op.name, status, code, message)
            if not op.idempotent and status not in NOT_PROCESSED:
                raise error  # it may have minted: a retry could mint twice
            return _Retry(error, _retry_after(response))
        if status in (401, 403):
            if op.session_scoped and status == 401 and code and code not in CREDENTIAL_CODES:
                raise MeshesNotFoundError(op.name, status, code, message)
            self.tokens.forget()
            raise MeshesCredentialsError(op.name, status, code, message)
        if status in (404, 410):
            raise MeshesNotFoundError(op.name, status, code, message)
        if status in (400, 422):
            raise MeshesValidationError(op.name, status, code, message, field_name)
        raise MeshesAPIError(op.name, status, code, message, field_name)

    def transport_error(self, op: _Operation[Any], exc: Exception) -> _Retry:
        """Any httpx failure (connection, timeout, a garbled encoding): retried when the
        request certainly did not reach Meshes, or when repeating it is harmless."""
        code = "timeout" if isinstance(exc, httpx.TimeoutException) else "unreachable"
        error = MeshesUnavailableError(op.name, None, code, detail=type(exc).__name__)
        if not op.idempotent and not isinstance(exc, NOTHING_SENT):
            raise error from None
        return _Retry(error)


SESSIONS_PATH = "/api/v1/sessions"


def _session_path(session_id: str) -> str:
    return f"{SESSIONS_PATH}/{quote(session_id, safe='')}"


def _create_op(workspace_id: str, fields: dict[str, Any]) -> _Operation[MintedSession]:
    unknown = sorted(set(fields) - set(CREATE_FIELDS))
    if unknown:
        raise TypeError(f"create_session() got an unexpected field {unknown[0]!r}")
    body: dict[str, Any] = {"workspace_id": workspace_id}
    for name in CREATE_FIELDS:
        value = fields.get(name)
        if value is not None:
            body[name] = list(value) if name in ("allowed_origins", "scopes") else value
    parse = MintedSession.from_json
    return _Operation("create_session", "POST", SESSIONS_PATH, parse, body, idempotent=False)


def _refresh_op(session_id: str) -> _Operation[RefreshedToken]:
    path = _session_path(session_id) + "/refresh"
    parse = partial(RefreshedToken.from_json, session_id=session_id)
    return _Operation("refresh_session", "POST", path, parse, body={}, session_scoped=True)


def _revoke_op(session_id: str) -> _Operation[None]:
    path = _session_path(session_id)
    return _Operation("revoke_session", "DELETE", path, lambda _data: None, session_scoped=True)


_Page = tuple[list[SessionSummary], str | None]


def _page(data: Any) -> _Page:
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise ValueError("a list answer has no data list")
    cursor = data.get("next_cursor")
    items = [SessionSummary.from_json(item) for item in data["data"]]
    return items, cursor if isinstance(cursor, str) and cursor else None


class _Pages:
    """The cursor walk of `list_sessions`, sans I/O: `next_op()` is the call for the next
    page (None after the last), `items(page)` takes its answer and gives its sessions."""

    def __init__(self, workspace_id: str, status: str | None, page_size: int | None) -> None:
        self._query = {"workspace_id": workspace_id, "status": status, "limit": page_size}
        self._cursor: str | None = None
        self._seen: set[str] = set()
        self._last = False

    def next_op(self) -> _Operation[_Page] | None:
        if self._last:
            return None
        if self._cursor is not None:
            if self._cursor in self._seen:  # it would page forever: an error instead
                raise MeshesUnavailableError(
                    "list_sessions", None, "bad_response", detail="a cursor repeated"
                )
            self._seen.add(self._cursor)
        params = {**self._query, "cursor": self._cursor}
        return _Operation("list_sessions", "GET", SESSIONS_PATH, _page, params=params)

    def items(self, page: _Page) -> list[SessionSummary]:
        items, self._cursor = page
        self._last = self._cursor is None
        return items


@dataclass(frozen=True)
class _Wait:
    seconds: float


class _Exchange(Generic[T]):
    """One call with its retries, sans I/O (h11's way): `request()` gives the arguments of
    httpx's `request()` for the next attempt; `receive(answer)` takes what came of it (a
    response or httpx's error) and gives the result (`_Done`) or how long to wait before
    the next attempt (`_Wait`), or raises. The sync and the async client only carry the
    steps out, so they cannot disagree."""

    def __init__(
        self, api: _Api, op: _Operation[T], policy: RetryPolicy, timeout: float | None
    ) -> None:
        self._api, self._op, self._policy, self._timeout = api, op, policy, timeout
        self._attempt = 0

    def request(self) -> dict[str, Any]:
        self._attempt += 1
        return self._api.request_args(self._op, self._timeout)

    def receive(self, answer: httpx.Response | httpx.HTTPError) -> _Done[T] | _Wait:
        if isinstance(answer, httpx.Response):
            outcome = self._api.interpret(self._op, answer)
        else:
            outcome = self._api.transport_error(self._op, answer)
        if isinstance(outcome, _Done):
            return outcome
        wait = self._policy.wait(self._attempt, outcome.retry_after)
        if wait is None:
            raise outcome.error
        return _Wait(wait)


H = TypeVar("H", httpx.Client, httpx.AsyncClient)
W = TypeVar("W")  # what `sleep` returns: None, or something to await


class _Client(Generic[H, W]):
    """What the two clients share besides the call plan: construction and its defaults.

    `timeout` is for the httpx client made when `http_client` is not given (one given is
    not closed by `close()`); `retry` the `RetryPolicy` of every call; `clock` the time
    the machine JWTs are dated by; `sleep` what waits between attempts (None:
    `time.sleep`, or `asyncio.sleep` for the async client).
    """

    _http_class: type[H]  # what `http_client` defaults to, given `timeout`
    _default_sleep: Callable[[float], W]

    def __init__(
        self,
        api_url: str,
        org_id: str,
        access_key: str,
        secret_key: str,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy = RetryPolicy(),
        http_client: H | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], W] | None = None,
    ) -> None:
        tokens = MachineTokens(org_id, access_key, secret_key, clock=clock)
        self._api = _Api(api_url.rstrip("/"), tokens, (secret_key,))
        self._http: H = self._http_class(timeout=timeout) if http_client is None else http_client
        self._owns_http = http_client is None
        self._retry = retry
        self._sleep = self._default_sleep if sleep is None else sleep

    @classmethod
    def from_settings(cls, settings: MeshesSettings, **options: Any) -> Self:
        """A client for MESHES_API_URL with the machine key of `settings`; `options` are
        the constructor's keyword arguments (timeout, retry, http_client, ...)."""
        return cls(
            settings.api_url,
            settings.org_id,
            settings.access_key,
            settings.secret_key,
            **options,
        )

    def _exchange(
        self, op: _Operation[T], retry: RetryPolicy | None, timeout: float | None
    ) -> _Exchange[T]:
        return _Exchange(self._api, op, retry or self._retry, timeout)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._api.api_url!r})"


class MeshesClient(_Client[httpx.Client, None]):
    """The synchronous client (httpx.Client). Use as a context manager, or `close()`."""

    _http_class = httpx.Client
    _default_sleep = staticmethod(time.sleep)

    def _call(
        self, op: _Operation[T], retry: RetryPolicy | None = None, timeout: float | None = None
    ) -> T:
        exchange = self._exchange(op, retry, timeout)
        while True:
            try:
                answer: httpx.Response | httpx.HTTPError = self._http.request(**exchange.request())
            except httpx.HTTPError as exc:
                answer = exc
            step = exchange.receive(answer)
            if isinstance(step, _Done):
                return step.value
            self._sleep(step.seconds)

    def create_session(self, *, workspace_id: str, **fields: Any) -> MintedSession:
        """`POST /api/v1/sessions`. `fields`: any of `CREATE_FIELDS` (None = not sent)."""
        return self._call(_create_op(workspace_id, fields))

    def refresh_session(self, session_id: str) -> RefreshedToken:
        """`POST /api/v1/sessions/{id}/refresh`: a new access token for the session."""
        return self._call(_refresh_op(session_id))

    def revoke_session(
        self,
        session_id: str,
        *,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
    ) -> None:
        """`DELETE /api/v1/sessions/{id}`; MeshesNotFoundError when already gone. `retry` and
        `timeout` override the client's for this call (a logout wants a quick answer)."""
        self._call(_revoke_op(session_id), retry, timeout)

    def list_sessions(
        self, *, workspace_id: str, status: str | None = None, page_size: int | None = None
    ) -> Iterator[SessionSummary]:
        """`GET /api/v1/sessions`, following `next_cursor` until the last page."""
        pages = _Pages(workspace_id, status, page_size)
        while (op := pages.next_op()) is not None:
            yield from pages.items(self._call(op))

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> MeshesClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class AsyncMeshesClient(_Client[httpx.AsyncClient, Awaitable[Any]]):
    """The asynchronous client (httpx.AsyncClient): the same methods, awaited."""

    _http_class = httpx.AsyncClient
    _default_sleep = staticmethod(asyncio.sleep)

    async def _call(
        self, op: _Operation[T], retry: RetryPolicy | None = None, timeout: float | None = None
    ) -> T:
        exchange = self._exchange(op, retry, timeout)
        while True:
            try:
                answer: httpx.Response | httpx.HTTPError = await self._http.request(
                    **exchange.request()
                )
            except httpx.HTTPError as exc:
                answer = exc
            step = exchange.receive(answer)
            if isinstance(step, _Done):
                return step.value
            await self._sleep(step.seconds)

    async def create_session(self, *, workspace_id: str, **fields: Any) -> MintedSession:
        return await self._call(_create_op(workspace_id, fields))

    async def refresh_session(self, session_id: str) -> RefreshedToken:
        return await self._call(_refresh_op(session_id))

    async def revoke_session(
        self,
        session_id: str,
        *,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
    ) -> None:
        await self._call(_revoke_op(session_id), retry, timeout)

    async def list_sessions(
        self, *, workspace_id: str, status: str | None = None, page_size: int | None = None
    ) -> AsyncIterator[SessionSummary]:
        pages = _Pages(workspace_id, status, page_size)
        while (op := pages.next_op()) is not None:
            for item in pages.items(await self._call(op)):
                yield item

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncMeshesClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()
