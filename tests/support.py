"""Drive the example apps (`examples/<framework>/serve.py`) as a user and as an attacker.

Each example runs as its own process under its framework's real server
(`meshes_bridge.testing.processes.AppProcess`), configured only by the `MESHES_*`
environment pointing at the fake Meshes. `Visitor` is one browser-less user agent with
its own cookie jar: it logs in through the app's real login form and calls the two
endpoints the way the bridge does (JSON, and on Django the CSRF header from the cookie).
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx

from meshes_bridge.testing.doubles import Servers
from meshes_bridge.testing.processes import AppProcess

REPO = Path(__file__).resolve().parent.parent
FRAMEWORKS = ("flask", "django", "fastapi")
PASSWORD = "demo-password"
SESSION_PATH = "/meshes/session"
START_TIMEOUT = 60.0  # Django migrates its SQLite database on start


def example_env(servers: Servers, app_origin: str, **extra: str) -> dict[str, str]:
    """The section-2 environment for an example app at `app_origin`, minting through the
    fake management API."""
    env = servers.meshes_env()
    env["MESHES_ALLOWED_ORIGINS"] = app_origin
    env.update(extra)
    return env


def start_example(framework: str, servers: Servers, **extra_env: str) -> AppProcess:
    """Start `examples/<framework>/serve.py --port PORT` and wait until it listens."""
    app = AppProcess(
        [sys.executable, str(REPO / "examples" / framework / "serve.py"), "--port", "{port}"],
        cwd=REPO,
        start_timeout=START_TIMEOUT,
    )
    app.env.update(example_env(servers, app.origin, **extra_env))
    return app.start()


def form_token(page: str) -> dict[str, str]:
    """A page's hidden CSRF field as form data ({} when it has none)."""
    hidden = re.search(r'name="(csrfmiddlewaretoken|csrf_token)" value="([^"]+)"', page)
    return {hidden.group(1): hidden.group(2)} if hidden else {}


class Visitor:
    """One user agent (its own cookies) on an example app."""

    def __init__(self, app: AppProcess) -> None:
        self.app = app
        self.http = httpx.Client(base_url=app.url, timeout=30.0, follow_redirects=False)
        self.username: str | None = None
        # Every page visit gets the cookies a real browser would have (Django's csrftoken).
        self.http.get("/login")

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Visitor:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def csrf_token(self) -> str | None:
        return self.http.cookies.get("csrftoken")

    def login(self, username: str, password: str = PASSWORD) -> httpx.Response:
        """Submit the app's login form (with its hidden CSRF field: Django's
        `csrfmiddlewaretoken`, the Flask and FastAPI examples' `csrf_token`)."""
        form = self.http.get("/login")
        data = {"username": username, "password": password}
        data.update(form_token(form.text))
        answer = self.http.post("/login", data=data)
        if answer.status_code in (302, 303):
            self.username = username
        return answer

    def logout(self) -> httpx.Response:
        home = self.http.get("/")
        return self.http.post("/logout", data=form_token(home.text))

    def post(
        self,
        path: str,
        body: Any = None,
        *,
        content: bytes | str | None = None,
        content_type: str = "application/json",
        origin: str | None = "self",
        csrf: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """POST as the bridge does: a JSON body, the page's own Origin, the CSRF header when
        the app set a csrftoken cookie. Each part can be changed to act as an attacker."""
        sent: dict[str, str] = {"Content-Type": content_type}
        if origin == "self":
            sent["Origin"] = self.app.origin
        elif origin is not None:
            sent["Origin"] = origin
        if csrf and self.csrf_token:
            sent["X-CSRFToken"] = self.csrf_token
        sent.update(headers or {})
        if content is None:
            content = json.dumps({} if body is None else body)
        return self.http.post(path, content=content, headers=sent)

    def mint(self, body: Any = None, **options: Any) -> httpx.Response:
        return self.post(SESSION_PATH, body, **options)

    def refresh(self, session_id: str, **options: Any) -> httpx.Response:
        return self.post(f"{SESSION_PATH}/{session_id}/refresh", {}, **options)


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll `condition` until it is truthy (never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
