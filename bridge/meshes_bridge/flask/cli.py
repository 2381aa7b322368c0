"""`flask meshes doctor [URL]`: the doctor as a Flask CLI command, registered by
`MeshesBridge.init_app`. Without URL it opens the app's own page: ``SERVER_NAME`` (with
``PREFERRED_URL_SCHEME`` and ``APPLICATION_ROOT``) when set, else the first origin of
``MESHES_ALLOWED_ORIGINS`` (the origin the app's pages are served from)."""

from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from meshes_bridge.doctor.options import DEFAULT_TIMEOUT, RUNTIMES, DoctorOptions, parse_cookie
from meshes_bridge.doctor.options import UsageError as DoctorUsageError

meshes_cli = AppGroup("meshes", help="meshes-bridge: the doctor for this app's embed.")


def default_url(app: Flask) -> str:
    """The app's own page: SERVER_NAME when set, else the first allowed origin."""
    server = app.config.get("SERVER_NAME")
    if server:
        scheme = app.config.get("PREFERRED_URL_SCHEME") or "http"
        root = (app.config.get("APPLICATION_ROOT") or "/").rstrip("/")
        return f"{scheme}://{server}{root}/"
    service = app.extensions.get("meshes_bridge")
    origins: list[str] = list(service.settings.allowed_origins) if service is not None else []
    if not origins:
        raise click.UsageError("give URL: the app has no SERVER_NAME and no allowed origin")
    return str(origins[0]).rstrip("/") + "/"


@meshes_cli.command("doctor")
@click.argument("url", required=False)
@click.option("--login-url", metavar="URL", help="The login form's page.")
@click.option("--username", metavar="U", help="The user name to log in with.")
@click.option("--password", metavar="P", help="The password (never printed).")
@click.option("--storage-state", metavar="FILE", help="A Playwright storage-state JSON file.")
@click.option("--cookie", multiple=True, metavar="NAME=VALUE", help="A cookie (repeatable).")
@click.option("--runtime", type=click.Choice(RUNTIMES), help="Run the page on this runtime.")
@click.option("--timeout", type=float, default=DEFAULT_TIMEOUT, show_default=True, metavar="S")
@click.option("--json", "as_json", is_flag=True, help="The report as JSON, for CI.")
@click.option("--html", metavar="FILE", help="Also write the report as an HTML page.")
def doctor(
    url: str | None,
    login_url: str | None,
    username: str | None,
    password: str | None,
    storage_state: str | None,
    cookie: tuple[str, ...],
    runtime: str | None,
    timeout: float,
    as_json: bool,
    html: str | None,
) -> None:
    """Open URL (default: this app's own page) in headless Chromium and report what is
    wrong with its embeds, with the fix for each problem. Exit codes as `meshes-bridge
    doctor`: 0 healthy, 1 a problem, 2 could not run, 3 warnings only."""
    from meshes_bridge.doctor.run import run

    try:
        cookies = [parse_cookie(text) for text in cookie]
    except DoctorUsageError as exc:
        raise click.UsageError(str(exc)) from None
    options = DoctorOptions(
        url=url or default_url(current_app),
        login_url=login_url,
        username=username,
        password=password,
        storage_state=storage_state,
        cookies=cookies,
        runtime=runtime,
        timeout=timeout,
        json=as_json,
        html=html,
    )
    sys.exit(run(options))
