"""The HOST origin: a host team's backend, as a test double.

Routes (all on the host origin):

* ``POST /meshes/session``: mint a Meshes session (the JSON body holds the mint options)
  for this origin; answers the session JSON.
* ``POST /meshes/session/{session_id}/refresh``: a new access token; 404 when the session
  is unknown or revoked.

Both go through the real management API client (``AsyncMeshesClient``) to the fake
management API (the API origin), exactly as a host's backend does; without an API URL
(a backend built on its own) they call the fake session store directly.
* ``GET /static/meshes-bridge/...``: the asset tree written by ``python -m meshes_bridge static``.
* ``GET /set-csrf``: sets the ``csrftoken`` cookie.
* any other ``GET``: a page or file registered with :meth:`HostBackend.add_page` /
  :meth:`HostBackend.add_file`.

Both POSTs need ``Content-Type: application/json`` (else 415) and, when ``csrf`` is on, a
``X-CSRFToken`` header equal to the ``csrftoken`` cookie (else 403), like a Django view.
Tests can inject failures (:meth:`fail_next`, :meth:`delay`, :meth:`hang_next`) and read
every request back (:meth:`calls`).
"""

from __future__ import annotations

import html
import json
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from aiohttp import web

from meshes_bridge.server.client import CREATE_FIELDS, NO_RETRY, AsyncMeshesClient
from meshes_bridge.server.errors import MeshesAPIError, MeshesNotFoundError
from meshes_bridge.testing.doubles._http import add_diagnostics
from meshes_bridge.testing.doubles.fake_meshes import (
    DEFAULT_WORKSPACE_ID,
    FakeMeshes,
    MeshesError,
    SessionNotFound,
)
from meshes_bridge.testing.doubles.faults import Faults, Hung
from meshes_bridge.testing.doubles.transcript import Transcript

Endpoint = Literal["mint", "refresh"]
ENDPOINTS: tuple[Endpoint, ...] = ("mint", "refresh")
SESSION_PATH = "/meshes/session"
REFRESH_PATH = "/meshes/session/{session_id}/refresh"
STATIC_PREFIX = "/static/meshes-bridge/"
LOADER_URL = STATIC_PREFIX + "loader.js"

#: MIME types for the asset tree (anything else: by extension, else octet-stream).
MIME_TYPES: Mapping[str, str] = {
    ".mjs": "text/javascript; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".wasm": "application/wasm",
    ".py": "text/plain; charset=utf-8",
    ".json": "application/json",
    ".zip": "application/zip",
    ".whl": "application/zip",
    ".tar": "application/x-tar",
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".map": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".toml": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}

PageSource = str | Callable[[Mapping[str, str]], str]


def mime_type(path: str) -> str:
    """The Content-Type the doubles serve a file with, from its name."""
    suffix = Path(path).suffix.lower()
    return MIME_TYPES.get(suffix, "application/octet-stream")


def _attr(name: str, value: Any) -> str:
    if value is True:
        return f" {name}"
    if isinstance(value, dict | list):
        value = json.dumps(value)
    return f' {name}="{html.escape(str(value), quote=True)}"'


def render_attrs(attrs: Mapping[str, Any]) -> str:
    """HTML attributes, values escaped; True = a bare attribute, None/False = left out,
    a dict or list = its JSON (e.g. ``data-session-body``)."""
    return "".join(_attr(k, v) for k, v in attrs.items() if v is not None and v is not False)


def page_html(
    runtime: str = "micropython",
    container_attrs: Mapping[str, Any] | None = None,
    extra_body: str = "",
    script_attrs: Mapping[str, Any] | None = None,
    containers: int = 1,
    title: str = "meshes-bridge test page",
    head: str = "",
) -> str:
    """A host page written the way a host team writes it: `containers` copies of

    ``<div data-meshes-embed data-session-url="/meshes/session"
    data-refresh-url="/meshes/session/{session_id}/refresh"></div>``

    then `extra_body` (raw HTML), then
    ``<script type="module" src="/static/meshes-bridge/loader.js" data-runtime="...">``.
    `container_attrs` / `script_attrs` add or override attributes (None removes one);
    containers get ``id="embed-1"``, ``embed-2``, ... unless an id is given.
    """
    base: dict[str, Any] = {
        "data-meshes-embed": True,
        "data-session-url": SESSION_PATH,
        "data-refresh-url": REFRESH_PATH,
    }
    base.update(container_attrs or {})
    divs = []
    for number in range(1, containers + 1):
        attrs = dict(base)
        attrs.setdefault("id", f"embed-{number}")
        divs.append(f"<div{render_attrs(attrs)}></div>")
    script: dict[str, Any] = {"type": "module", "src": LOADER_URL, "data-runtime": runtime}
    script.update(script_attrs or {})
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n{head}</head>\n<body>\n"
        + "\n".join(divs)
        + f"\n{extra_body}\n<script{render_attrs(script)}></script>\n</body>\n</html>\n"
    )


@dataclass
class RecordedRequest:
    """A request to the mint or refresh endpoint, as the backend received it.

    `status` is the status it was answered with (None while pending, or when it hung).
    """

    endpoint: Endpoint
    method: str
    path: str
    headers: dict[str, str]
    body: str
    time: float
    session_id: str | None = None
    status: int | None = None

    def text(self) -> str:
        """Request line, headers and body as one string (to scan for leaked tokens)."""
        head = "\n".join(f"{k}: {v}" for k, v in self.headers.items())
        return f"{self.method} {self.path}\n{head}\n\n{self.body}"


@dataclass
class _Page:
    source: PageSource
    csp: str | None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _File:
    content: bytes
    content_type: str


class HostBackend:
    """The host backend double; see the module doc for its routes.

    Public knobs: ``csrf`` (bool, default off), ``csrf_cookie`` / ``csrf_header``
    (``csrftoken`` / ``X-CSRFToken``). Thread-safe: tests call it from their own thread.
    """

    page_html = staticmethod(page_html)

    def __init__(
        self,
        fake: FakeMeshes,
        transcript: Transcript,
        host_url: str,
        static_dir: Path | None = None,
        api: ApiAccess | None = None,
    ) -> None:
        self.api = api
        self._client: AsyncMeshesClient | None = None
        self.fake = fake
        self.transcript = transcript
        self.host_url = host_url.rstrip("/")
        self.static_dir = static_dir.resolve() if static_dir is not None else None
        self.csrf = False
        self.csrf_cookie = "csrftoken"
        self.csrf_header = "X-CSRFToken"
        self._lock = threading.Lock()
        self._calls: list[RecordedRequest] = []
        self._faults = Faults(ENDPOINTS)
        self._pages: dict[str, _Page] = {}
        self._files: dict[str, _File] = {}

    # -- failure injection --------------------------------------------------------------

    def fail_next(
        self,
        endpoint: Endpoint,
        status: int,
        count: int = 1,
        body: str | Mapping[str, Any] | None = None,
    ) -> None:
        """Answer the next `count` requests to `endpoint` with `status` (and `body`: a JSON
        object, raw text, or by default ``{"error": "injected", "status": N}``) without
        minting or refreshing anything. Queued after earlier injections."""
        self._faults.fail_next(endpoint, status, count, body)

    def delay(self, endpoint: Endpoint, seconds: float) -> None:
        """Wait `seconds` before answering every request to `endpoint` (0 = no delay)."""
        self._faults.delay(endpoint, seconds)

    def hang_next(self, endpoint: Endpoint, count: int = 1) -> None:
        """Never answer the next `count` (>= 1) requests to `endpoint` (until the client
        drops the connection, or :meth:`release_hung`)."""
        self._faults.hang_next(endpoint, count)

    def release_hung(self) -> None:
        """End every hung request now, with a 503."""
        self._faults.release_hung()

    def clear_injections(self) -> None:
        """Drop pending failures, hangs and delays."""
        self._faults.clear()

    def reset(self) -> None:
        """Back to defaults: no injections (hung requests released), no recorded calls,
        CSRF off with Django's names. Registered pages and files stay."""
        self.release_hung()
        self.clear_injections()
        self.clear_calls()
        self.csrf = False
        self.csrf_cookie = "csrftoken"
        self.csrf_header = "X-CSRFToken"

    def calls(self, endpoint: Endpoint | None = None) -> list[RecordedRequest]:
        """Every request received by `endpoint` (or by both), oldest first."""
        with self._lock:
            return [c for c in self._calls if endpoint is None or c.endpoint == endpoint]

    def clear_calls(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            self._calls.clear()

    # -- pages and files ----------------------------------------------------------------

    def add_page(
        self,
        path: str,
        html_source: PageSource,
        csp: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> str:
        """Serve an HTML page at `path` (a string, or a callable given the query mapping).

        With `csp`, the page's response carries ``Content-Security-Policy: <csp>``.
        Returns the page's absolute URL.
        """
        _check_path(path)
        with self._lock:
            self._pages[path] = _Page(html_source, csp, dict(headers or {}))
        return self.host_url + path

    def add_file(self, path: str, text: str | bytes, content_type: str | None = None) -> str:
        """Serve a file at `path` (e.g. a hooks module ``/hooks/demo_hooks.py``); the
        Content-Type defaults to one from the extension. Returns its absolute URL."""
        _check_path(path)
        content = text.encode() if isinstance(text, str) else text
        with self._lock:
            self._files[path] = _File(content, content_type or mime_type(path))
        return self.host_url + path

    def remove(self, path: str) -> None:
        """Stop serving a registered page or file."""
        with self._lock:
            self._pages.pop(path, None)
            self._files.pop(path, None)

    # -- the aiohttp application -------------------------------------------------------

    def make_app(self) -> web.Application:
        """The aiohttp application for the host origin."""
        app = web.Application()
        add_diagnostics(app)
        app.router.add_post(SESSION_PATH, self._mint)
        app.router.add_post("/meshes/session/{session_id}/refresh", self._refresh)
        app.router.add_get(STATIC_PREFIX + "{path:.*}", self._static)
        app.router.add_get("/set-csrf", self._set_csrf)
        app.router.add_get("/{path:.*}", self._registered)
        app.on_startup.append(self._on_startup)
        app.on_cleanup.append(self._on_cleanup)
        return app

    async def _on_startup(self, _app: web.Application) -> None:
        self._faults.bind_loop()
        if self.api is not None:
            # No retries: tests inject failures on this backend or on the API themselves.
            self._client = AsyncMeshesClient(
                self.api.url,
                self.api.org_id,
                self.api.access_key,
                self.api.secret_key,
                retry=NO_RETRY,
            )

    async def _on_cleanup(self, _app: web.Application) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def _create(self, body: Any) -> dict[str, Any]:
        """Mint through the management API (or the store when there is none); raises
        MeshesError with the status and field Meshes answered."""
        if self._client is None:
            return self.fake.create_session(body, allowed_origin=self.host_url)
        if not isinstance(body, dict):
            raise MeshesError(400, "validation_error", "the request body must be a JSON object")
        fields = dict(body)
        workspace_id = fields.pop("workspace_id", DEFAULT_WORKSPACE_ID)
        fields.setdefault("allowed_origins", [self.host_url])
        unknown = sorted(set(fields) - set(CREATE_FIELDS))
        if unknown:
            raise MeshesError(400, "validation_error", f"unknown field: {unknown[0]}", unknown[0])
        try:
            session = await self._client.create_session(workspace_id=workspace_id, **fields)
        except MeshesAPIError as error:
            raise _as_fake_error(error) from None
        answer: dict[str, Any] = session.browser_json()
        answer.update(
            workspace_id=session.workspace_id, role=session.role, session_type=session.session_type
        )
        return answer

    async def _refresh_session(self, session_id: str) -> dict[str, Any]:
        if self._client is None:
            return self.fake.refresh(session_id)
        try:
            token = await self._client.refresh_session(session_id)
        except MeshesNotFoundError:
            raise SessionNotFound(session_id) from None
        except MeshesAPIError as error:
            raise _as_fake_error(error) from None
        return {"session_id": session_id, **token.browser_json()}

    async def _mint(self, request: web.Request) -> web.StreamResponse:
        call = await self._record("mint", request)
        response = await self._guarded(call, request)
        if response is None:
            try:
                body = json.loads(call.body)
                answer = await self._create(body)
            except json.JSONDecodeError:
                response = _json_error(400, "invalid_json", "the request body is not JSON")
            except MeshesError as error:
                self.transcript.add("host", "mint-failed", f"mint refused: {error.message}")
                response = web.json_response(error.to_json(), status=error.status)
            else:
                session = self.fake.session(answer["session_id"])
                self.transcript.add(
                    "host",
                    "minted",
                    f"minted session {answer['session_id']} (page {session.launch_page}, "
                    f"role {answer['role']}, token {answer['access_token']}, "
                    f"expires {answer['expires_at']})",
                    session_id=answer["session_id"],
                    launch_page=session.launch_page,
                    expires_at=answer["expires_at"],
                )
                response = web.json_response(answer)
        return _finish(call, response)

    async def _refresh(self, request: web.Request) -> web.StreamResponse:
        call = await self._record("refresh", request)
        call.session_id = request.match_info["session_id"]
        response = await self._guarded(call, request)
        if response is None:
            try:
                answer = await self._refresh_session(call.session_id)
            except MeshesError as error:
                self.transcript.add(
                    "host",
                    "refresh-failed",
                    f"refresh of {call.session_id} refused: {error.code} ({error.status})",
                    session_id=call.session_id,
                    status=error.status,
                )
                response = web.json_response(error.to_json(), status=error.status)
            else:
                generation = self.fake.session(call.session_id).token_generation
                self.transcript.add(
                    "host",
                    "refreshed",
                    f"refreshed session {call.session_id} (token #{generation} "
                    f"{answer['access_token']}, expires {answer['expires_at']})",
                    session_id=call.session_id,
                    generation=generation,
                    expires_at=answer["expires_at"],
                )
                response = web.json_response(answer)
        return _finish(call, response)

    async def _record(self, endpoint: Endpoint, request: web.Request) -> RecordedRequest:
        body = await request.text()
        call = RecordedRequest(
            endpoint=endpoint,
            method=request.method,
            path=request.path_qs,
            headers={k: v for k, v in request.headers.items()},
            body=body,
            time=time.time(),
        )
        with self._lock:
            self._calls.append(call)
        return call

    async def _guarded(self, call: RecordedRequest, request: web.Request) -> web.Response | None:
        """Injected behaviour and the request checks; None means "go ahead"."""
        endpoint = call.endpoint
        outcome = await self._faults.take(
            endpoint,
            on_hang=lambda: self.transcript.add(
                "host", "hang", f"{endpoint} request hangs (injected)"
            ),
        )
        if isinstance(outcome, Hung):
            return _json_error(503, "released", "hung request released")
        if outcome is not None:
            self.transcript.add(
                "host", "injected", f"{endpoint} answered HTTP {outcome.status} (injected)"
            )
            return outcome.response({"error": "injected", "status": outcome.status})
        if self.csrf:
            cookie = request.cookies.get(self.csrf_cookie)
            header = request.headers.get(self.csrf_header)
            if not cookie or header != cookie:
                self.transcript.add("host", "csrf-failed", f"{endpoint} refused: CSRF check failed")
                return _json_error(403, "csrf_failed", "CSRF token missing or incorrect")
        if request.content_type != "application/json":
            return _json_error(
                415, "unsupported_media_type", "Content-Type must be application/json"
            )
        return None

    async def _static(self, request: web.Request) -> web.StreamResponse:
        if self.static_dir is None:
            raise web.HTTPNotFound(text="no static_dir configured")
        relative = request.match_info["path"]
        target = (self.static_dir / relative).resolve()
        if not target.is_relative_to(self.static_dir) or not target.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(
            target, headers={"Content-Type": mime_type(target.name), "Cache-Control": "no-store"}
        )

    async def _set_csrf(self, request: web.Request) -> web.Response:
        value = request.query.get("value") or secrets.token_urlsafe(24)
        response = web.json_response({"cookie": self.csrf_cookie})
        response.set_cookie(self.csrf_cookie, value, path="/", samesite="Lax")
        return response

    async def _registered(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        with self._lock:
            page = self._pages.get(path)
            file = self._files.get(path)
        if file is not None:
            return web.Response(
                body=file.content,
                headers={"Content-Type": file.content_type, "Cache-Control": "no-store"},
            )
        if page is None:
            raise web.HTTPNotFound(text=f"no page registered at {path}")
        source = page.source
        text = source(request.query) if callable(source) else source
        headers = {"Cache-Control": "no-store", **page.headers}
        if page.csp is not None:
            headers["Content-Security-Policy"] = page.csp
        response = web.Response(text=text, content_type="text/html", headers=headers)
        if self.csrf and self.csrf_cookie not in request.cookies:
            response.set_cookie(
                self.csrf_cookie, secrets.token_urlsafe(24), path="/", samesite="Lax"
            )
        return response


@dataclass(frozen=True)
class ApiAccess:
    """Where the management API is and the machine key to sign with."""

    url: str
    org_id: str
    access_key: str
    secret_key: str = field(repr=False)


def _as_fake_error(error: MeshesAPIError) -> MeshesError:
    status = error.status or 502
    return MeshesError(status, error.code or "error", error.message or str(error), error.field)


def _check_path(path: str) -> None:
    if not path.startswith("/") or "?" in path or "#" in path:
        raise ValueError("a path starts with / and has no query or fragment")
    if path.startswith(STATIC_PREFIX) or path in (SESSION_PATH, "/set-csrf"):
        raise ValueError(f"{path} is served by the backend itself")


def _json_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


def _finish(call: RecordedRequest, response: web.Response) -> web.Response:
    call.status = response.status
    return response
