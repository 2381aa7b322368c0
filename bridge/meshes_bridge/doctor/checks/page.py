"""The page itself: did it load, did the login work, and whose checks are elsewhere."""

from __future__ import annotations

from urllib.parse import urlsplit

from meshes_bridge.doctor.checks.context import Context
from meshes_bridge.doctor.report import OK, PROBLEM, Section

LOG_IN = (
    "Log the doctor in: --login-url URL --username U --password P (a login form), "
    "--storage-state FILE (Playwright's storage state) or --cookie NAME=VALUE (a session "
    "cookie)."
)


def check_page(ctx: Context, section: Section) -> None:
    obs = ctx.obs
    section.items.append(
        {
            "url": ctx.path(obs.url),
            "final_url": ctx.path(ctx.page_url),
            "status": obs.document_status,
            "stopped": obs.stopped,
        }
    )
    login = obs.login
    if login is not None:
        if login.get("ok"):
            section.add(OK, "login-ok", f"logged in at {ctx.path(str(login.get('url')))}")
        else:
            section.add(
                PROBLEM,
                "login-failed",
                f"the login at {ctx.path(str(login.get('url')))} did not work",
                ctx.red.text(str(login.get("detail") or "")),
                "Check --login-url (the page with the form), --username and --password; "
                "or log in another way: --storage-state FILE or --cookie NAME=VALUE.",
            )
    if obs.navigation_error is not None:
        section.add(
            PROBLEM,
            "page-unreachable",
            f"{ctx.path(obs.url)} did not load",
            ctx.red.text(obs.navigation_error),
            "Start the app, and check the URL (scheme, host, port).",
        )
        return
    requested = urlsplit(obs.url).path or "/"
    landed = urlsplit(ctx.page_url).path or "/"
    if landed != requested and obs.has_password_field and not obs.containers:
        section.add(
            PROBLEM,
            "login-required",
            f"{requested} sent the browser to a login page ({landed})",
            "The embed is only on the page for a logged-in user.",
            LOG_IN,
        )
    elif obs.document_status is not None and obs.document_status >= 400:
        section.add(
            PROBLEM,
            "page-status",
            f"{ctx.path(ctx.page_url)} answered HTTP {obs.document_status}",
            "",
            LOG_IN if obs.document_status in (401, 403) else "Check the URL and the app's log.",
        )
    else:
        section.add(OK, "page-ok", f"{ctx.path(ctx.page_url)} loaded (HTTP {obs.document_status})")
    if ctx.django:
        section.add(
            OK,
            "django-check-deploy",
            "a Django page: also run `python manage.py check --deploy`",
            "Settings, the static files finder, middleware order and COOP are Django system "
            "checks (meshes_bridge.E001-E004, W001-W004); the doctor does not repeat them.",
        )
