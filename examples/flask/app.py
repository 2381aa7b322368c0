"""A minimal Flask host app with the Meshes embed: Flask-Login, two demo users, one page.

Everything Meshes-specific is three lines: `bridge.init_app(app)`, `{{ meshes_embed(...) }}`
in the template and the Content-Security-Policy header. Configured only by the MESHES_*
environment variables (see README.md); `serve.py` runs it under Werkzeug.
"""

from __future__ import annotations

import hmac
import os
import secrets

from flask import Flask, Response, redirect, render_template, request, url_for
from flask_login import (
    LoginManager,
    UserMixin,
    current_user,
    login_required,
    login_user,
    logout_user,
)

from meshes_bridge.flask import MeshesBridge

RUNTIMES = ("micropython", "pyodide")
DEMO_PASSWORD = "demo-password"


class User(UserMixin):
    """A demo user; `id` is the key Meshes sees as `external_user_id`."""

    def __init__(self, user_id: str, name: str) -> None:
        self.id = user_id
        self.name = name


# A real app has a database; the demo has two users sharing one password.
USERS = {"alice": User("alice", "Alice"), "bob": User("bob", "Bob")}

login_manager = LoginManager()
login_manager.login_view = "login"
bridge = MeshesBridge()  # MESHES_* from app.config, else the environment


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return USERS.get(user_id)


def create_app() -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=os.environ.get("EXAMPLE_SECRET_KEY") or secrets.token_hex(32),
        SESSION_COOKIE_SAMESITE="Lax",  # no session cookie on cross-site POSTs (logout)
        REMEMBER_COOKIE_SAMESITE="Lax",
    )
    login_manager.init_app(app)
    bridge.init_app(app)  # raises ConfigurationError now if a MESHES_* variable is missing

    @app.get("/login")
    def login_form() -> str:
        return render_template("login.html", error=None)

    @app.post("/login")
    def login() -> Response | tuple[str, int]:
        user = USERS.get(request.form.get("username", ""))
        password = request.form.get("password", "").encode()
        if user is None or not hmac.compare_digest(password, DEMO_PASSWORD.encode()):
            return render_template("login.html", error="Wrong user name or password."), 401
        login_user(user)
        return redirect(url_for("index"), code=303)

    @app.post("/logout")
    @login_required
    def logout() -> Response:
        logout_user()  # Flask-Login's signal: the bridge revokes this user's Meshes sessions
        return redirect(url_for("login_form"), code=303)

    @app.get("/")
    @login_required
    def index() -> Response:
        runtime = request.args.get("runtime", "micropython")
        if runtime not in RUNTIMES:
            runtime = "micropython"
        response = Response(render_template("index.html", user=current_user, runtime=runtime))
        response.headers["Content-Security-Policy"] = bridge.content_security_policy()
        return response

    return app
