"""The FastAPI example: two demo users, a login form and one page with the Meshes embed.

Configured only by the MESHES_* environment variables (server-interface.md section 2),
plus EXAMPLE_SECRET_KEY for the session cookie (random when unset: sessions then end with
the process). Run it with ``python serve.py --port 8000``.
"""

import hmac
import logging
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware

from meshes_bridge.fastapi import MeshesBridge, MeshesSettings

log = logging.getLogger("example")

HERE = Path(__file__).resolve().parent
RUNTIMES = ("micropython", "pyodide")
# Demo users: a real app checks a password hash in its user table.
PASSWORDS = {"alice": "demo-password", "bob": "demo-password"}


@dataclass(frozen=True)
class User:
    id: str  # the bridge's user key (Meshes' external_user_id): the username here


def current_user(request: Request) -> User | None:
    """The FastAPI dependency the bridge and the pages share: who is logged in, or None."""
    username = request.session.get("user")
    return User(username) if username in PASSWORDS else None


CurrentUser = Annotated[User | None, Depends(current_user)]


def create_app(settings: MeshesSettings | None = None) -> FastAPI:
    # MESHES_* read here: a missing variable stops the app at start, not at the first mint.
    bridge = MeshesBridge(settings, get_user=current_user)
    templates = Jinja2Templates(directory=HERE / "templates")
    bridge.install_templates(templates)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        bridge.close()

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    # A signed cookie (itsdangerous). SameSite=Lax keeps other sites' forms from posting
    # /logout as the user; the two bridge endpoints check Origin and Content-Type.
    app.add_middleware(
        SessionMiddleware,
        secret_key=os.environ.get("EXAMPLE_SECRET_KEY") or secrets.token_urlsafe(32),
        session_cookie="example_session",
        same_site="lax",
    )
    app.include_router(bridge.router)
    bridge.mount_static(app)
    csp = {"Content-Security-Policy": bridge.content_security_policy()}

    def login_form(request: Request, status_code: int = 200, error: str | None = None) -> Response:
        return templates.TemplateResponse(
            request, "login.html", {"error": error}, status_code=status_code, headers=csp
        )

    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request) -> Response:
        return login_form(request)

    @app.post("/login", response_class=HTMLResponse)
    def login(
        request: Request,
        username: Annotated[str, Form()] = "",
        password: Annotated[str, Form()] = "",
    ) -> Response:
        expected = PASSWORDS.get(username)
        if expected is None or not hmac.compare_digest(password.encode(), expected.encode()):
            log.info("failed login for %r", username[:64])
            return login_form(request, 401, "Unknown user or wrong password.")
        request.session.clear()  # a fresh session for the new login
        request.session["user"] = username
        log.info("user %s logged in", username)
        return RedirectResponse("/", status_code=303)

    @app.post("/logout")
    def logout(request: Request, user: CurrentUser) -> Response:
        # A sync handler runs in the threadpool, so the blocking call is fine here; an
        # async one would `await bridge.arevoke_user(user.id)`.
        if user is not None:
            bridge.revoke_user(user.id)  # first, while we still know who it was
            log.info("user %s logged out", user.id)
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request, user: CurrentUser, runtime: str = "micropython") -> Response:
        if user is None:
            return RedirectResponse("/login", status_code=303)
        return templates.TemplateResponse(
            request,
            "index.html",
            {"user": user, "runtime": runtime if runtime in RUNTIMES else "micropython"},
            headers=csp,
        )

    return app
