"""The HOST origin: the product's own server half, as a host team runs it, for the browser
tests and the benchmark.

* ``POST /meshes/session`` and ``POST /meshes/session/{session_id}/refresh``: the
  endpoints of `meshes_bridge.fastapi.MeshesBridge` over `EmbedService`, with its real
  rules (the logged-in user, allowed origins, the browser choosing only ``launch_page``,
  bindings, limits), minting through the real `MeshesClient` against the fake Meshes API.
  The test sets what the server decides: who is logged in (:attr:`HostOrigin.user`) and
  the :class:`MintPolicy` (:attr:`HostOrigin.policy`).
* ``GET /static/meshes-bridge/...``: the asset tree written by ``meshes-bridge static``.
* ``GET /set-csrf``: sets the ``csrftoken`` cookie.
* ``POST /monitoring/timings``: a host's collector for ``data-timings-url``: records each
  POST (:meth:`HostOrigin.timings_posts`) and answers :attr:`HostOrigin.timings_status`,
  or 403 when ``csrf`` is on and the CSRF header is missing or wrong.
* any other ``GET``: a page or file registered with :meth:`HostOrigin.add_page` /
  :meth:`HostOrigin.add_file`.

What the browser tests need of a host beyond that wraps the real endpoints, as a reverse
proxy would: every request is recorded (:meth:`HostOrigin.calls`); a test can answer one
itself (:meth:`HostOrigin.fail_next`, also a 200 with a body of its choosing), hold it
(:meth:`HostOrigin.hang_next`) or slow it (:meth:`HostOrigin.delay`); with ``csrf`` on, a
request without an ``X-CSRFToken`` header equal to the ``csrftoken`` cookie is refused
(403) before it reaches the endpoint, as Django's middleware does.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote

from fastapi import FastAPI, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from meshes_bridge.fastapi import MeshesBridge, MintPolicy
from meshes_bridge.server.client import NO_RETRY, MeshesClient
from meshes_bridge.server.settings import MeshesSettings
from meshes_bridge.server.stores import MemoryStore
from meshes_bridge.testing.doubles.fake_meshes import FakeMeshes
from meshes_bridge.testing.doubles.faults import Failure, Faults, Hung
from meshes_bridge.testing.doubles.transcript import Transcript
from tests.host.pages import SESSION_PATH, STATIC_PREFIX, TIMINGS_PATH, mime_type

Endpoint = Literal["mint", "refresh"]
ENDPOINTS: tuple[Endpoint, ...] = ("mint", "refresh")
#: Who is logged in unless a test says otherwise (`HostOrigin.user`).
DEFAULT_USER = "tester"
#: Per-user limits high enough that no test meets them by accident (the limits themselves
#: are tested in tests/server).
TEST_LIMIT = 100_000
_REFRESH_RE = re.compile(re.escape(SESSION_PATH) + r"/([^/]+)/refresh")

PageSource = str | Callable[[Mapping[str, str]], str]


@dataclass
class RecordedRequest:
    """A request to the mint or refresh endpoint, as the host received it.

    `status` is the status it was answered with (None while pending, or when it hung).
    Header names are lower case.
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
class TimingsPost:
    """A POST to the timings collector: its headers (names lower case), its body, the
    status it was answered with, and when it came."""

    headers: dict[str, str]
    body: str
    status: int
    time: float


@dataclass
class _Page:
    source: PageSource
    csp: str | None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _File:
    content: bytes
    content_type: str


class HostOrigin:
    """The host app of the browser tests; see the module doc for its routes.

    Knobs (set from the test's thread, read per request): ``user`` (the logged-in user's
    key; None = nobody logged in), ``policy`` (the :class:`MintPolicy`), ``csrf`` (bool,
    default off) with ``csrf_cookie`` / ``csrf_header``. Thread-safe.
    """

    def __init__(
        self,
        fake: FakeMeshes,
        transcript: Transcript,
        host_url: str,
        static_dir: Path | None,
        meshes_env: Mapping[str, str],
    ) -> None:
        self.fake = fake
        self.transcript = transcript
        self.host_url = host_url.rstrip("/")
        self.static_dir = static_dir.resolve() if static_dir is not None else None
        self.settings = MeshesSettings.from_env(
            meshes_env,
            allowed_origins=(self.host_url,),
            mint_limit=TEST_LIMIT,
            refresh_limit=TEST_LIMIT,
        )
        self.user: str | None = DEFAULT_USER
        self.policy = MintPolicy()
        self.csrf = False
        self.csrf_cookie = "csrftoken"
        self.csrf_header = "X-CSRFToken"
        self.timings_status = 204
        self.bridge: MeshesBridge | None = None
        self._lock = threading.Lock()
        self._calls: list[RecordedRequest] = []
        self._timings: list[TimingsPost] = []
        self._faults = Faults(ENDPOINTS)
        self._pages: dict[str, _Page] = {}
        self._files: dict[str, _File] = {}

    # -- fault injection ---------------------------------------------------------------

    def fail_next(
        self,
        endpoint: Endpoint,
        status: int,
        count: int = 1,
        body: str | Mapping[str, Any] | None = None,
    ) -> None:
        """Answer the next `count` requests to `endpoint` with `status` (and `body`: a JSON
        object, raw text, or by default ``{"error": "injected", "status": N}``) instead of
        passing them to the endpoint. Queued after earlier injections."""
        self._faults.fail_next(endpoint, status, count, body)

    def delay(self, endpoint: Endpoint, seconds: float) -> None:
        """Wait `seconds` before passing on every request to `endpoint` (0 = no delay)."""
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
        """Back to defaults: no injections (hung requests released), no recorded calls, the
        default user and policy, fresh bindings and limits, CSRF off with Django's names.
        Registered pages and files stay."""
        self.release_hung()
        self.clear_injections()
        self.clear_calls()
        self.user = DEFAULT_USER
        self.policy = MintPolicy()
        self.csrf = False
        self.csrf_cookie = "csrftoken"
        self.csrf_header = "X-CSRFToken"
        self.timings_status = 204
        with self._lock:
            self._timings.clear()
        if self.bridge is not None:
            self.bridge.service.store = MemoryStore()
            self.bridge.service.settings = self.settings

    def calls(self, endpoint: Endpoint | None = None) -> list[RecordedRequest]:
        """Every request received by `endpoint` (or by both), oldest first."""
        with self._lock:
            return [c for c in self._calls if endpoint is None or c.endpoint == endpoint]

    def timings_posts(self) -> list[TimingsPost]:
        """Every POST to the timings collector, oldest first."""
        with self._lock:
            return list(self._timings)

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
        """Serve an HTML page at `path` (a string, or a callable given the query mapping);
        with `csp`, its response carries ``Content-Security-Policy: <csp>``. Returns the
        page's absolute URL."""
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

    # -- the ASGI application ----------------------------------------------------------

    def make_app(self) -> ASGIApp:
        """The host origin's ASGI app: the real endpoints behind the recording and
        fault-injection wrapper, and the pages."""
        client = MeshesClient.from_settings(self.settings, retry=NO_RETRY)
        bridge = MeshesBridge(
            self.settings,
            get_user=self._current_user,
            policy=self._current_policy,
            store=MemoryStore(),
            client=client,
        )
        self.bridge = bridge
        faults = self._faults

        @asynccontextmanager
        async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
            faults.bind_loop()
            yield
            client.close()

        app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)
        app.include_router(bridge.router)
        app.add_api_route("/favicon.ico", _no_favicon, methods=["GET"])
        app.add_api_route("/set-csrf", self._set_csrf, methods=["GET"])
        app.add_api_route(TIMINGS_PATH, self._timings_post, methods=["POST"])
        app.add_api_route(STATIC_PREFIX + "{path:path}", self._static, methods=["GET", "HEAD"])
        app.add_api_route("/{path:path}", self._registered, methods=["GET"])
        return _EndpointWrapper(app, self)

    def _current_user(self) -> str | None:
        return self.user

    def _current_policy(self, _user: Any, _request: Any) -> MintPolicy:
        return self.policy

    async def _static(self, path: str) -> Response:
        if self.static_dir is None:
            return Response("no static_dir configured", status_code=404)
        target = (self.static_dir / path).resolve()
        if not target.is_relative_to(self.static_dir) or not target.is_file():
            return Response("Not Found", status_code=404)
        return FileResponse(
            target, media_type=mime_type(target.name), headers={"Cache-Control": "no-store"}
        )

    async def _set_csrf(self, request: Request) -> Response:
        value = request.query_params.get("value") or secrets.token_urlsafe(24)
        response = JSONResponse({"cookie": self.csrf_cookie})
        response.set_cookie(self.csrf_cookie, value, path="/", samesite="lax")
        return response

    async def _timings_post(self, request: Request) -> Response:
        body = await request.body()
        status = self.timings_status
        if self.csrf:
            cookie = request.cookies.get(self.csrf_cookie)
            if not cookie or request.headers.get(self.csrf_header) != cookie:
                status = 403
        headers = {k.lower(): v for k, v in request.headers.items()}
        post = TimingsPost(headers, body.decode("utf-8", "replace"), status, time.time())
        with self._lock:
            self._timings.append(post)
        return Response(status_code=status)

    async def _registered(self, request: Request, path: str) -> Response:
        path = "/" + path
        with self._lock:
            page = self._pages.get(path)
            file = self._files.get(path)
        if file is not None:
            return Response(
                file.content, media_type=file.content_type, headers={"Cache-Control": "no-store"}
            )
        if page is None:
            return Response(f"no page registered at {path}", status_code=404)
        source = page.source
        text = source(request.query_params) if callable(source) else source
        headers = {"Cache-Control": "no-store", **page.headers}
        if page.csp is not None:
            headers["Content-Security-Policy"] = page.csp
        response = Response(text, media_type="text/html", headers=headers)
        if self.csrf and self.csrf_cookie not in request.cookies:
            response.set_cookie(
                self.csrf_cookie, secrets.token_urlsafe(24), path="/", samesite="lax"
            )
        return response

    # -- around the endpoints ------------------------------------------------------------

    def _record(self, endpoint: Endpoint, scope: Scope, body: bytes) -> RecordedRequest:
        query = scope.get("query_string", b"").decode("latin-1")
        match = _REFRESH_RE.fullmatch(_raw_path(scope))
        call = RecordedRequest(
            endpoint=endpoint,
            method=scope["method"],
            path=_raw_path(scope) + (f"?{query}" if query else ""),
            headers={k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]},
            body=body.decode("utf-8", "replace"),
            time=time.time(),
            session_id=unquote(match.group(1)) if match else None,
        )
        with self._lock:
            self._calls.append(call)
        return call

    async def _intercept(self, call: RecordedRequest, scope: Scope) -> Response | None:
        """The injected answer or the CSRF refusal; None passes the request on."""
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
            return _failure_response(outcome, {"error": "injected", "status": outcome.status})
        if self.csrf:
            request = Request(scope)
            cookie = request.cookies.get(self.csrf_cookie)
            header = request.headers.get(self.csrf_header)
            if not cookie or header != cookie:
                self.transcript.add("host", "csrf-failed", f"{endpoint} refused: CSRF check failed")
                return _json_error(403, "csrf_failed", "CSRF token missing or incorrect")
        return None

    def _answered(self, call: RecordedRequest, status: int, body: bytes) -> None:
        """The transcript line for what the real endpoint answered."""
        call.status = status
        try:
            answer = json.loads(body) if body else {}
        except ValueError:
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        if call.endpoint == "mint":
            self._minted(status, answer)
        else:
            self._refreshed(call.session_id or "", status, answer)

    def _minted(self, status: int, answer: dict[str, Any]) -> None:
        if status != 200:
            self.transcript.add(
                "host", "mint-failed", f"mint refused: {answer.get('error')} ({status})"
            )
            return
        session_id = str(answer.get("session_id"))
        session = self.fake.session(session_id)
        self.transcript.add(
            "host",
            "minted",
            f"minted session {session_id} (page {session.launch_page}, role {session.role}, "
            f"token {answer.get('access_token')}, expires {answer.get('expires_at')})",
            session_id=session_id,
            launch_page=session.launch_page,
            expires_at=answer.get("expires_at"),
        )

    def _refreshed(self, session_id: str, status: int, answer: dict[str, Any]) -> None:
        if status != 200:
            self.transcript.add(
                "host",
                "refresh-failed",
                f"refresh of {session_id} refused: {answer.get('error')} ({status})",
                session_id=session_id,
                status=status,
            )
            return
        generation = self.fake.session(session_id).token_generation
        self.transcript.add(
            "host",
            "refreshed",
            f"refreshed session {session_id} (token #{generation} "
            f"{answer.get('access_token')}, expires {answer.get('expires_at')})",
            session_id=session_id,
            generation=generation,
            expires_at=answer.get("expires_at"),
        )


class _EndpointWrapper:
    """ASGI middleware around the app: POSTs to the two endpoints are recorded, may be
    answered by an injection, and have their answers written to the transcript."""

    def __init__(self, app: ASGIApp, origin: HostOrigin) -> None:
        self.app = app
        self.origin = origin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = _endpoint(scope)
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        body = await _read_all(receive)
        replay = _replay(body, receive)
        call = self.origin._record(endpoint, scope, body)
        early = await self.origin._intercept(call, scope)
        if early is not None:
            call.status = early.status_code
            await early(scope, replay, send)
            return
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, replay, hold)
        status = next((m["status"] for m in held if m["type"] == "http.response.start"), 500)
        answer = b"".join(m.get("body", b"") for m in held if m["type"] == "http.response.body")
        self.origin._answered(call, status, answer)
        for message in held:
            await send(message)


def _raw_path(scope: Scope) -> str:
    """The path as the browser sent it (a session id may hold an encoded ``/``)."""
    raw = scope.get("raw_path")
    return raw.decode("latin-1") if raw else str(scope["path"])


def _endpoint(scope: Scope) -> Endpoint | None:
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    path = _raw_path(scope)
    if path == SESSION_PATH:
        return "mint"
    return "refresh" if _REFRESH_RE.fullmatch(path) else None


async def _read_all(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the endpoint the body already read, then the real stream
    (its disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def _failure_response(failure: Failure, default_body: Mapping[str, Any]) -> Response:
    text, headers = failure.answer(default_body)
    if text is None:
        return Response(status_code=failure.status, headers=headers)
    return Response(
        text, status_code=failure.status, media_type="application/json", headers=headers
    )


def _json_error(status: int, code: str, message: str) -> Response:
    return JSONResponse({"error": code, "message": message}, status_code=status)


async def _no_favicon() -> Response:
    return Response(status_code=204, headers={"Cache-Control": "max-age=3600"})


def _check_path(path: str) -> None:
    if not path.startswith("/") or "?" in path or "#" in path:
        raise ValueError("a path starts with / and has no query or fragment")
    if path.startswith((STATIC_PREFIX, SESSION_PATH)) or path in ("/set-csrf", TIMINGS_PATH):
        raise ValueError(f"{path} is served by the host origin itself")
