"""A minimal Flask host app with the Meshes embed: Flask-Login, two demo users, one page.

Everything Meshes-specific is three lines: `bridge.init_app(app)`, `{{ meshes_embed(...) }}`
in the template and the Content-Security-Policy header. Configured only by the MESHES_*
environment variables (see README.md); `serve.py` runs it under Werkzeug.

The login and logout forms carry Flask-WTF's CSRF token (another site's form cannot post
them), and logout ends the login on the server (a copy of the session cookie taken before
it no longer works): both matter here because the logged-in user is who embeds are minted
for.
"""

from __future__ import annotations

import hmac
import os
import secrets
import threading
import time
from datetime import timedelta

from flask import Flask, Response, redirect, render_template, request, session, url_for
from flask_login import (
    LoginManager,
    UserMixin,
    current_user,
    login_required,
    login_user,
    logout_user,
)
from flask_wtf.csrf import CSRFError, CSRFProtect

from meshes_bridge.flask import MeshesBridge
from meshes_bridge.server import RedisStore

RUNTIMES = ("micropython", "pyodide")
DEMO_PASSWORD = "demo-password"
# How long a login lasts: the signed session cookie's own limit, and the live-login table's.
SESSION_LIFETIME = timedelta(days=31)


class User(UserMixin):
    """A demo user; `id` is the key Meshes sees as `external_user_id`."""

    def __init__(self, user_id: str, name: str) -> None:
        self.id = user_id
        self.name = name


class LiveLogins:
    """The logins not logged out yet: a random login id each, also kept in the session.

    Flask's session is a signed cookie, so on its own a copy of it stays valid after
    logout; accepting a session only while its login id is here makes logout end it on the
    server, as Django's database sessions do. The table is per process, which is right for
    serve.py (one process, threads); with several worker processes or hosts keep it where
    all of them see it (the user database, Redis). It is in memory, so a restart signs
    everyone out.
    """

    def __init__(self, max_age: timedelta) -> None:
        self._max_age = max_age.total_seconds()
        self._lock = threading.Lock()  # Werkzeug serves each request on its own thread
        self._logins: dict[str, tuple[str, float]] = {}  # login id -> (user id, started)

    def start(self, user_id: str) -> str:
        login_id = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            # Expired logins go here, so the table holds at most one lifetime of logins.
            self._logins = {
                key: entry for key, entry in self._logins.items() if now - entry[1] < self._max_age
            }
            self._logins[login_id] = (user_id, now)
        return login_id

    def user_id(self, login_id: object) -> str | None:
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


# A real app has a database; the demo has two users sharing one password.
USERS = {"alice": User("alice", "Alice"), "bob": User("bob", "Bob")}
LOGINS = LiveLogins(SESSION_LIFETIME)


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


# --8<-- [start:extensions]
login_manager = LoginManager()
login_manager.login_view = "login"
csrf = CSRFProtect()  # every POST needs the session's form token, except the bridge's below
# MESHES_* from app.config, else the environment; store: see sentinel_store().
bridge = MeshesBridge(store=sentinel_store())
# --8<-- [end:extensions]


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    # The session names the user, but counts only while its login is live (not logged out).
    if LOGINS.user_id(session.get("login_id")) != user_id:
        return None
    return USERS.get(user_id)


def create_app() -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=os.environ.get("EXAMPLE_SECRET_KEY") or secrets.token_hex(32),
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
        SESSION_COOKIE_SAMESITE="Lax",  # no session cookie on other sites' POSTs
        REMEMBER_COOKIE_SAMESITE="Lax",
    )
    # --8<-- [start:init]
    login_manager.init_app(app)
    csrf.init_app(app)
    bridge.init_app(app)  # raises ConfigurationError now if a MESHES_* variable is missing
    # The bridge's JSON endpoints carry no form token; they check Origin and Content-Type.
    csrf.exempt(bridge.blueprint)
    # --8<-- [end:init]

    @app.errorhandler(CSRFError)
    def refused_form(error: CSRFError) -> Response:
        # Another site's form, or a page left open past the token's hour: nobody is
        # logged in or out.
        text = f"{error.description} Reload the page and try again.\n"
        return Response(text, status=403, mimetype="text/plain")

    @app.get("/login")
    def login_form() -> str:
        return render_template("login.html", error=None)

    @app.post("/login")
    def login() -> Response | tuple[str, int]:
        user = USERS.get(request.form.get("username", ""))
        password = request.form.get("password", "").encode()
        if user is None or not hmac.compare_digest(password, DEMO_PASSWORD.encode()):
            return render_template("login.html", error="Wrong user name or password."), 401
        LOGINS.end(session.get("login_id"))  # a login over another one replaces it
        session.clear()  # a fresh session (and form token) for the new login
        login_user(user)
        session["login_id"] = LOGINS.start(user.id)
        return redirect(url_for("index"), code=303)

    # --8<-- [start:logout]
    @app.post("/logout")
    @login_required
    def logout() -> Response:
        logout_user()  # Flask-Login's signal: the bridge revokes this user's Meshes sessions
        LOGINS.end(session.pop("login_id", None))  # after: the signal needs the user loaded
        return redirect(url_for("login_form"), code=303)

    # --8<-- [end:logout]

    # --8<-- [start:page]
    @app.get("/")
    @login_required
    def index() -> Response:
        runtime = request.args.get("runtime", "micropython")
        if runtime not in RUNTIMES:
            runtime = "micropython"
        response = Response(render_template("index.html", user=current_user, runtime=runtime))
        response.headers["Content-Security-Policy"] = bridge.content_security_policy()
        return response

    # --8<-- [end:page]

    return app
