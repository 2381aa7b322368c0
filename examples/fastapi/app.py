"""The FastAPI example: two demo users, a login form and one page with the Meshes embed.

Configured only by the MESHES_* environment variables (server-interface.md section 2),
plus EXAMPLE_SECRET_KEY for the session cookie (random when unset: sessions then end with
the process). Run it with ``python serve.py --port 8000``.

The login and logout forms carry a per-session CSRF token (another site's form cannot post
them), and logout ends the login on the server (a copy of the session cookie taken before
it no longer works): both matter here because the logged-in user is who embeds are minted
for.
"""

import hmac
import logging
import os
import secrets
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware

from meshes_bridge.fastapi import MeshesBridge, MeshesSettings
from meshes_bridge.server import RedisStore

log = logging.getLogger("example")

HERE = Path(__file__).resolve().parent
RUNTIMES = ("micropython", "pyodide")
# Demo users: a real app checks a password hash in its user table.
PASSWORDS = {"alice": "demo-password", "bob": "demo-password"}
# How long a login lasts: the signed session cookie's own limit, and the live-login table's.
SESSION_MAX_AGE = 14 * 24 * 3600


@dataclass(frozen=True)
class User:
    id: str  # the bridge's user key (Meshes' external_user_id): the username here


class LiveLogins:
    """The logins not logged out yet: a random login id each, also kept in the session.

    Starlette's session is a signed cookie, so on its own a copy of it stays valid after
    logout; accepting a session only while its login id is here makes logout end it on the
    server, as Django's database sessions do. The table is per process, which is right for
    serve.py (one uvicorn process); with several worker processes or hosts keep it where
    all of them see it (the user database, Redis). It is in memory, so a restart signs
    everyone out.
    """

    def __init__(self, max_age: float) -> None:
        self._max_age = max_age
        self._lock = threading.Lock()  # sync handlers and dependencies run in a threadpool
        self._logins: dict[str, tuple[str, float]] = {}  # login id -> (username, started)

    def start(self, username: str) -> str:
        login_id = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            # Expired logins go here, so the table holds at most one lifetime of logins.
            self._logins = {
                key: entry for key, entry in self._logins.items() if now - entry[1] < self._max_age
            }
            self._logins[login_id] = (username, now)
        return login_id

    def username(self, login_id: object) -> str | None:
        """Whose login `login_id` is, or None when it ended, expired or never was."""
        if not isinstance(login_id, str):
            return None
        with self._lock:
            entry = self._logins.get(login_id)
        if entry is None or time.monotonic() - entry[1] >= self._max_age:
            return None
        return entry[0]

    def end(self, login_id: object) -> None:
        if isinstance(login_id, str):
            with self._lock:
                self._logins.pop(login_id, None)


LOGINS = LiveLogins(SESSION_MAX_AGE)


def current_user(request: Request) -> User | None:
    """The FastAPI dependency the bridge and the pages share: who is logged in, or None."""
    username = LOGINS.username(request.session.get("login_id"))
    return User(username) if username in PASSWORDS else None


CurrentUser = Annotated[User | None, Depends(current_user)]


def form_token(request: Request) -> str:
    """This session's CSRF token for the forms' hidden `csrf_token` field (made on first use)."""
    token = request.session.get("csrf_token")
    if not isinstance(token, str):
        token = request.session["csrf_token"] = secrets.token_urlsafe(32)
    return token


def check_form_token(request: Request, csrf_token: Annotated[str, Form()] = "") -> None:
    """Refuse a form post without this session's token (403): another site's page cannot
    read the token, so its forms cannot log anyone in (as the attacker) or out."""
    expected = request.session.get("csrf_token")
    if not isinstance(expected, str) or not hmac.compare_digest(
        csrf_token.encode(), expected.encode()
    ):
        raise HTTPException(403, "The form is stale or came from another site; reload it.")


def sentinel_store() -> RedisStore | None:
    """Bindings and limits behind Redis Sentinel when REDIS_SENTINEL is set, as
    "host:port[,host:port...]/service"; None (MESHES_BRIDGE_REDIS_URL, else in-process)
    otherwise. The store follows the master through a failover."""
    if not (where := os.environ.get("REDIS_SENTINEL")):
        return None
    from redis.sentinel import Sentinel  # the [redis] extra, needed only here

    hosts, service = where.rsplit("/", 1)
    sentinels = [
        (host, int(port)) for host, _, port in (h.rpartition(":") for h in hosts.split(","))
    ]
    master = Sentinel(sentinels, socket_timeout=2).master_for(service, decode_responses=True)
    return RedisStore(client=master)


def create_app(settings: MeshesSettings | None = None) -> FastAPI:
    # MESHES_* read here: a missing variable stops the app at start, not at the first mint.
    # --8<-- [start:bridge]
    bridge = MeshesBridge(settings, get_user=current_user, store=sentinel_store())
    templates = Jinja2Templates(directory=HERE / "templates")
    bridge.install_templates(templates)
    # --8<-- [end:bridge]

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        bridge.close()

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    # A signed cookie (itsdangerous), SameSite=Lax. The forms check their CSRF token; the
    # two bridge endpoints check Origin and Content-Type.
    app.add_middleware(
        SessionMiddleware,
        secret_key=os.environ.get("EXAMPLE_SECRET_KEY") or secrets.token_urlsafe(32),
        session_cookie="example_session",
        max_age=SESSION_MAX_AGE,
        same_site="lax",
    )
    # --8<-- [start:routes]
    app.include_router(bridge.router)
    bridge.mount_static(app)
    csp = {"Content-Security-Policy": bridge.content_security_policy()}
    # --8<-- [end:routes]

    def login_form(request: Request, status_code: int = 200, error: str | None = None) -> Response:
        context = {"error": error, "csrf_token": form_token(request)}
        return templates.TemplateResponse(
            request, "login.html", context, status_code=status_code, headers=csp
        )

    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request) -> Response:
        return login_form(request)

    @app.post("/login", response_class=HTMLResponse, dependencies=[Depends(check_form_token)])
    def login(
        request: Request,
        username: Annotated[str, Form()] = "",
        password: Annotated[str, Form()] = "",
    ) -> Response:
        expected = PASSWORDS.get(username)
        if expected is None or not hmac.compare_digest(password.encode(), expected.encode()):
            log.info("failed login for %r", username[:64])
            return login_form(request, 401, "Unknown user or wrong password.")
        LOGINS.end(request.session.get("login_id"))  # a login over another one replaces it
        request.session.clear()  # a fresh session (and CSRF token) for the new login
        request.session["login_id"] = LOGINS.start(username)
        log.info("user %s logged in", username)
        return RedirectResponse("/", status_code=303)

    # --8<-- [start:logout]
    @app.post("/logout", dependencies=[Depends(check_form_token)])
    def logout(request: Request, user: CurrentUser) -> Response:
        # A sync handler runs in the threadpool, so the blocking call is fine here; an
        # async one would `await bridge.arevoke_user(user.id)`.
        if user is not None:
            bridge.revoke_user(user.id)  # first, while we still know who it was
            log.info("user %s logged out", user.id)
        LOGINS.end(request.session.get("login_id"))  # a saved copy of the cookie dies too
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    # --8<-- [end:logout]

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request, user: CurrentUser, runtime: str = "micropython") -> Response:
        if user is None:
            return RedirectResponse("/login", status_code=303)
        return templates.TemplateResponse(
            request,
            "index.html",
            {
                "user": user,
                "runtime": runtime if runtime in RUNTIMES else "micropython",
                "csrf_token": form_token(request),
            },
            headers=csp,
        )

    return app
