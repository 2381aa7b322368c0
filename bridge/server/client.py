"""The Meshes management API client, sync (`MeshesClient`) and async (`AsyncMeshesClient`).

    client = MeshesClient.from_settings(MeshesSettings.from_env())
    session = client.create_session(workspace_id=..., external_user_id="42",
                                    launch_page="connections", allowed_origins=[...])
    token = client.refresh_session(session.session_id)
    for summary in client.list_sessions(workspace_id=..., status="active"): ...
    client.revoke_session(session.session_id)

Both share one request plan and one interpretation of answers (`_Operation`,
`_interpret`), so they cannot drift; only the waiting and the transport differ (httpx's
Client / AsyncClient). Every call carries a machine JWT, has a timeout, and is retried a
bounded number of times on 429 (honouring `Retry-After`), 5xx, timeouts and connection
errors. Errors are the types of `meshes_bridge.server.errors`, whose text never holds a
token, the JWT or the secret.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx

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
from meshes_bridge.server.redaction import redact_text
from meshes_bridge.server.settings import MeshesSettings

T = TypeVar("T")

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
USER_AGENT = "meshes-bridge"
#: Meshes error codes that mean "your machine credentials", not "this session".
CREDENTIAL_CODES = frozenset(
    {"invalid_token", "unauthorized", "forbidden", "invalid_credentials", "invalid_key"}
)
#: Optional mint fields, in the order the contract lists them.
CREATE_FIELDS = (
    "session_type",
    "role",
    "external_user_id",
    "ttl_seconds",
    "launch_ttl_seconds",
    "launch_page",
    "launch_path",
    "resource",
    "resource_id",
    "allowed_origins",
    "scopes",
)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry 429, 5xx, timeouts and connection errors.

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
        return min(self.backoff * 2 ** (attempt - 1), self.max_backoff)


NO_RETRY = RetryPolicy(retries=0)


@dataclass(frozen=True)
class _Operation(Generic[T]):
    name: str
    method: str
    path: str
    parse: Callable[[Any], T]
    body: dict[str, Any] | None = None
    params: dict[str, Any] | None = None
    session_scoped: bool = False  # a 401 about the session means "gone", not "credentials"


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
        return max(0.0, float(raw))
    except ValueError:
        return None  # an HTTP date: rare from an API; use our own backoff


def _error_fields(response: httpx.Response) -> tuple[str | None, str, str | None]:
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None, "", None
    if not isinstance(data, dict):
        return None, "", None
    code = data.get("error") if isinstance(data.get("error"), str) else None
    message = data.get("message") if isinstance(data.get("message"), str) else ""
    field_name = data.get("field") if isinstance(data.get("field"), str) else None
    return code, message, field_name


@dataclass
class _Api:
    """What both clients share: where, who, and what an answer means."""

    api_url: str
    tokens: MachineTokens
    secrets: tuple[str, ...] = field(repr=False)

    def request_args(self, op: _Operation[Any]) -> dict[str, Any]:
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
        return args

    def interpret(self, op: _Operation[T], response: httpx.Response) -> _Done[T] | _Retry:
        status = response.status_code
        if 200 <= status < 300:
            if status == 204 or not response.content:
                return _Done(op.parse(None))
            try:
                return _Done(op.parse(response.json()))
            except (json.JSONDecodeError, UnicodeDecodeError, ValueError, TypeError) as exc:
                # A garbled success is not retried: a mint may have happened.
                reason = (
                    "the answer is not JSON"
                    if isinstance(exc, json.JSONDecodeError)
                    else (redact_text(str(exc), self.secrets))
                )
                raise MeshesUnavailableError(op.name, status, "bad_response", reason) from None
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
            return _Retry(
                MeshesUnavailableError(op.name, status, code, message), _retry_after(response)
            )
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
        code = "timeout" if isinstance(exc, httpx.TimeoutException) else "unreachable"
        return _Retry(MeshesUnavailableError(op.name, None, code, type(exc).__name__))


def _create_op(workspace_id: str, fields: dict[str, Any]) -> _Operation[MintedSession]:
    unknown = sorted(set(fields) - set(CREATE_FIELDS))
    if unknown:
        raise TypeError(f"create_session() got an unexpected field {unknown[0]!r}")
    body: dict[str, Any] = {"workspace_id": workspace_id}
    for name in CREATE_FIELDS:
        value = fields.get(name)
        if value is not None:
            body[name] = list(value) if name in ("allowed_origins", "scopes") else value
    return _Operation("create_session", "POST", "/api/v1/sessions", MintedSession.from_json, body)


def _refresh_op(session_id: str) -> _Operation[RefreshedToken]:
    return _Operation(
        "refresh_session",
        "POST",
        f"/api/v1/sessions/{quote(session_id, safe='')}/refresh",
        lambda data: RefreshedToken.from_json(data, session_id),
        body={},
        session_scoped=True,
    )


def _revoke_op(session_id: str) -> _Operation[None]:
    return _Operation(
        "revoke_session",
        "DELETE",
        f"/api/v1/sessions/{quote(session_id, safe='')}",
        lambda _data: None,
        session_scoped=True,
    )


def _page(data: Any) -> tuple[list[SessionSummary], str | None]:
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise ValueError("a list answer has no data list")
    cursor = data.get("next_cursor")
    items = [SessionSummary.from_json(item) for item in data["data"]]
    return items, cursor if isinstance(cursor, str) and cursor else None


def _list_op(
    workspace_id: str, status: str | None, limit: int | None, cursor: str | None
) -> _Operation[tuple[list[SessionSummary], str | None]]:
    params = {"workspace_id": workspace_id, "status": status, "limit": limit, "cursor": cursor}
    return _Operation("list_sessions", "GET", "/api/v1/sessions", _page, params=params)


def _make_api(
    api_url: str, org_id: str, access_key: str, secret_key: str, clock: Callable[[], float]
) -> _Api:
    tokens = MachineTokens(org_id, access_key, secret_key, clock=clock)
    return _Api(api_url.rstrip("/"), tokens, (secret_key,))


class MeshesClient:
    """The synchronous client (httpx.Client). Use as a context manager, or `close()`."""

    def __init__(
        self,
        api_url: str,
        org_id: str,
        access_key: str,
        secret_key: str,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy = RetryPolicy(),
        http_client: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._api = _make_api(api_url, org_id, access_key, secret_key, clock)
        self._http = http_client or httpx.Client(timeout=timeout)
        self._owns_http = http_client is None
        self._retry = retry
        self._sleep = sleep

    @classmethod
    def from_settings(cls, settings: MeshesSettings, **options: Any) -> MeshesClient:
        return cls(
            settings.api_url,
            settings.org_id,
            settings.access_key,
            settings.secret_key,
            **options,
        )

    def __repr__(self) -> str:
        return f"MeshesClient({self._api.api_url!r})"

    def _call(self, op: _Operation[T]) -> T:
        attempt = 0
        while True:
            attempt += 1
            try:
                outcome = self._api.interpret(op, self._http.request(**self._api.request_args(op)))
            except httpx.TransportError as exc:
                outcome = self._api.transport_error(op, exc)
            if isinstance(outcome, _Done):
                return outcome.value
            wait = self._retry.wait(attempt, outcome.retry_after)
            if wait is None:
                raise outcome.error
            self._sleep(wait)

    def create_session(self, *, workspace_id: str, **fields: Any) -> MintedSession:
        """`POST /api/v1/sessions`. `fields`: any of `CREATE_FIELDS` (None = not sent)."""
        return self._call(_create_op(workspace_id, fields))

    def refresh_session(self, session_id: str) -> RefreshedToken:
        """`POST /api/v1/sessions/{id}/refresh`: a new access token for the session."""
        return self._call(_refresh_op(session_id))

    def revoke_session(self, session_id: str) -> None:
        """`DELETE /api/v1/sessions/{id}`; MeshesNotFoundError when already gone."""
        self._call(_revoke_op(session_id))

    def list_sessions(
        self, *, workspace_id: str, status: str | None = None, page_size: int | None = None
    ) -> Iterator[SessionSummary]:
        """`GET /api/v1/sessions`, following `next_cursor` until the last page."""
        cursor: str | None = None
        while True:
            items, cursor = self._call(_list_op(workspace_id, status, page_size, cursor))
            yield from items
            if cursor is None:
                return

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> MeshesClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class AsyncMeshesClient:
    """The asynchronous client (httpx.AsyncClient): the same methods, awaited."""

    def __init__(
        self,
        api_url: str,
        org_id: str,
        access_key: str,
        secret_key: str,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy = RetryPolicy(),
        http_client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self._api = _make_api(api_url, org_id, access_key, secret_key, clock)
        self._http = http_client or httpx.AsyncClient(timeout=timeout)
        self._owns_http = http_client is None
        self._retry = retry
        self._sleep = sleep

    @classmethod
    def from_settings(cls, settings: MeshesSettings, **options: Any) -> AsyncMeshesClient:
        return cls(
            settings.api_url,
            settings.org_id,
            settings.access_key,
            settings.secret_key,
            **options,
        )

    def __repr__(self) -> str:
        return f"AsyncMeshesClient({self._api.api_url!r})"

    async def _call(self, op: _Operation[T]) -> T:
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._http.request(**self._api.request_args(op))
                outcome = self._api.interpret(op, response)
            except httpx.TransportError as exc:
                outcome = self._api.transport_error(op, exc)
            if isinstance(outcome, _Done):
                return outcome.value
            wait = self._retry.wait(attempt, outcome.retry_after)
            if wait is None:
                raise outcome.error
            await self._sleep(wait)

    async def create_session(self, *, workspace_id: str, **fields: Any) -> MintedSession:
        return await self._call(_create_op(workspace_id, fields))

    async def refresh_session(self, session_id: str) -> RefreshedToken:
        return await self._call(_refresh_op(session_id))

    async def revoke_session(self, session_id: str) -> None:
        await self._call(_revoke_op(session_id))

    async def list_sessions(
        self, *, workspace_id: str, status: str | None = None, page_size: int | None = None
    ) -> AsyncIterator[SessionSummary]:
        cursor: str | None = None
        while True:
            items, cursor = await self._call(_list_op(workspace_id, status, page_size, cursor))
            for item in items:
                yield item
            if cursor is None:
                return

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncMeshesClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()
