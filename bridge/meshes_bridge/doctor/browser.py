"""Headless Chromium for the doctor: which one (the test kit's rules, shared), how to
launch it, and logging in (a login form, a storage-state file, cookies).

Playwright comes with the ``[doctor]`` extra (the ``[testing]`` one has it too); without
it the doctor says what to install in one line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from meshes_bridge.doctor.options import INSTALL_HINT
from meshes_bridge.testing.chromium import (
    ENV_VAR,
    NOT_FOUND,
    ChromiumNotFound,
    find_chromium,
    launch_args,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Playwright

NO_CHROMIUM = (
    "no Chromium found: apt-get install chromium (Debian, Ubuntu), or "
    f"playwright install chromium; or set {ENV_VAR} to a Chromium executable"
)
_USER_FIELDS = (
    "input[autocomplete=username]",
    "input[name=username]",
    "input[name=email]",
    "input[name=login]",
    "input[type=email]",
    "input[type=text]",
    "input:not([type])",
)


class DoctorError(Exception):
    """The doctor cannot run; the message says why and what to do (exit 2)."""


def sync_playwright() -> Any:
    try:
        from playwright.sync_api import sync_playwright as start
    except ImportError:
        raise DoctorError(f"the doctor needs Playwright: {INSTALL_HINT}") from None
    return start()


def launch(pw: Playwright, chromium: str | None) -> Browser:
    """Debian's /usr/bin/chromium or Playwright's own, whichever is there (the test kit's
    order: an explicit path, MESHES_BRIDGE_CHROMIUM, Playwright's, the system's)."""
    try:
        executable = find_chromium(
            chromium, playwright_executable=lambda: pw.chromium.executable_path
        )
    except ChromiumNotFound as exc:
        raise DoctorError(NO_CHROMIUM if str(exc) == NOT_FOUND else str(exc)) from None
    try:
        return pw.chromium.launch(**launch_args({"headless": True}, executable))
    except Exception as exc:  # Playwright's own error: a missing browser download, a crash
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DoctorError(f"Chromium did not start: {first}; {NO_CHROMIUM}") from None


def new_context(
    browser: Browser, storage_state: str | None, cookies: list[tuple[str, str]], url: str
) -> BrowserContext:
    options: dict[str, Any] = {}
    if storage_state:
        path = Path(storage_state)
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DoctorError(
                f"--storage-state {storage_state}: not a readable Playwright storage-state "
                f"JSON file ({type(exc).__name__}); write one with "
                "context.storage_state(path=...)"
            ) from None
        options["storage_state"] = str(path)
    context = browser.new_context(**options)
    if cookies:
        parts = urlsplit(url)
        base = f"{parts.scheme}://{parts.netloc}/"
        context.add_cookies([{"name": n, "value": v, "url": base} for n, v in cookies])
    return context


def log_in(
    page: Page, login_url: str, username: str, password: str, timeout_ms: float
) -> dict[str, Any]:
    """Fill and submit the login form at `login_url`. The result says whether it worked
    (the password field gone, or a new page) and never holds the password."""
    result: dict[str, Any] = {"url": login_url, "ok": False, "status": None, "detail": ""}
    try:
        answer = page.goto(login_url, wait_until="domcontentloaded", timeout=timeout_ms)
    except Exception as exc:
        result["detail"] = f"the login page did not load ({_first_line(exc)})"
        return result
    result["status"] = answer.status if answer is not None else None
    secret = page.locator("input[type=password]")
    if secret.count() == 0:
        result["detail"] = "no password field on the login page"
        return result
    form = secret.first.locator("xpath=ancestor::form[1]")
    scope = form if form.count() else page.locator("body")
    user = None
    for selector in _USER_FIELDS:
        found = scope.locator(selector)
        if found.count():
            user = found.first
            break
    if user is None:
        result["detail"] = "no user name field beside the password field"
        return result
    user.fill(username)
    secret.first.fill(password)
    try:
        with page.expect_navigation(wait_until="domcontentloaded", timeout=timeout_ms) as nav:
            secret.first.press("Enter")
        submitted = nav.value
    except Exception as exc:
        result["detail"] = f"submitting the login form led nowhere ({_first_line(exc)})"
        return result
    result["status"] = submitted.status if submitted is not None else None
    if page.locator("input[type=password]").count():
        result["detail"] = (
            f"still on a page with a password field after logging in (HTTP {result['status']})"
        )
        return result
    result["ok"] = True
    return result


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
