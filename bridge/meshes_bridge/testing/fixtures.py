"""The fixtures of the meshes-bridge pytest plugin (:mod:`meshes_bridge.testing.plugin`
registers them; their names and scopes are public API, listed there).

Only pytest and the standard library are imported at module level: a fixture that needs
aiohttp or Playwright imports it when used, and fails with one line naming the extra.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from meshes_bridge.testing.app_server import (
    RunningApp,
    run_setup,
    serve_asgi,
    serve_wsgi,
    start_command,
)
from meshes_bridge.testing.chromium import ChromiumNotFound, find_chromium
from meshes_bridge.testing.processes import LOOPBACK, ProcessStartError, free_port

if TYPE_CHECKING:
    from playwright.sync_api import Playwright

    from meshes_bridge.testing.doubles import Servers

TESTING_EXTRA = 'pip install "meshes-bridge[testing]"'
NO_APP = (
    "meshes_app: no app to start: override meshes_app_command (the argv with {port}), "
    "meshes_wsgi_app or meshes_asgi_app (a factory) in your conftest.py"
)
# pytest-playwright, and its asyncio twin (the two cannot be loaded together)
PYTEST_PLAYWRIGHT = (
    "pytest_playwright.pytest_playwright",
    "pytest_playwright_asyncio.pytest_playwright",
)
#: Where the ``meshes`` fixture leaves the fake for the plugin's report hook.
MESHES_KEY = pytest.StashKey["Servers"]()
#: The per-user limits the app under test starts with. The app lives for the whole
#: session and keeps its rate counters in its own process, out of the kit's reach: with
#: the production defaults (10 mints a minute) one test's retries would refuse the next
#: test's mint, and a suite would pass or fail by its order. Test the limit itself with
#: its own value in ``meshes_app_env`` (which wins over these).
TEST_LIMITS = {"MESHES_BRIDGE_MINT_LIMIT": "10000", "MESHES_BRIDGE_REFRESH_LIMIT": "10000"}


def _fail(message: str) -> NoReturn:
    """Fail the fixture with `message` alone: no traceback into the kit's internals, and
    no "during handling of the above exception" chain when called from an except block."""
    raise pytest.fail.Exception(message, pytrace=False) from None


def _missing(fixture: str, error: ImportError) -> NoReturn:
    name = (error.name or str(error)).split(".")[0]
    _fail(f"{fixture}: {name} is not installed: {TESTING_EXTRA}")


def playwright_plugin_loaded(
    config: pytest.Config, names: Sequence[str] = PYTEST_PLAYWRIGHT
) -> bool:
    """Whether one of the plugins `names` (default: pytest-playwright's) is loaded."""
    manager = config.pluginmanager
    for name in names:
        module = sys.modules.get(name)
        if module is not None and manager.is_registered(module):
            return True
    return False


# -- the fake Meshes ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def meshes_fake() -> Iterator[Servers]:
    """Session: the running fake Meshes (``meshes_bridge.testing.doubles.Servers``): its
    management API (``api_url``, faults and calls in ``.api``), the stub embed
    (``embed_url``, ``.stub``), the attacker origin (``hostile_url``, ``.hostile``), the
    session store (``.fake``) and the redacted ``.transcript``, each on its own loopback
    port. Started on first use, stopped at the end of the session. Tests usually want
    ``meshes`` (reset for them) instead.
    """
    try:
        from meshes_bridge.testing.doubles import start_servers
    except ImportError as error:
        _missing("meshes_fake", error)
    try:
        servers = start_servers()
    except OSError as error:
        _fail(f"meshes_fake: cannot start the fake Meshes: {error}")
    try:
        yield servers
    finally:
        servers.stop()


@pytest.fixture
def meshes(request: pytest.FixtureRequest, meshes_fake: Servers) -> Iterator[Servers]:
    """Function: ``meshes_fake``, reset before and after the test (no sessions, no injected
    faults, no recorded calls, an empty transcript). Reset before as well: the previous
    test's page may have spoken after its teardown. When the test fails, the transcript
    is added to its report as the "meshes transcript" section.

    Your app is not reset (it runs for the session, often in its own process): it still
    binds the sessions earlier tests minted, which the reset fake answers as gone (a
    logout revokes them too: a 404 the bridge expects, listed in ``meshes.api.calls()``
    but not in ``revoked_ids()``), and its rate counters go on,
    which is why ``meshes_app`` starts it with limits no ordinary test meets."""
    meshes_fake.reset()
    request.node.stash[MESHES_KEY] = meshes_fake
    yield meshes_fake
    meshes_fake.reset()


@pytest.fixture(scope="session")
def meshes_env(meshes_fake: Servers) -> dict[str, str]:
    """Session: the ``MESHES_*`` variables an app needs to mint through the fake
    (``MESHES_ORG_ID``, ``MESHES_ACCESS_KEY``, ``MESHES_SECRET_KEY``,
    ``MESHES_WORKSPACE_ID``, ``MESHES_API_URL``, ``MESHES_EMBED_ORIGIN``). Not
    ``MESHES_ALLOWED_ORIGINS``: that is the app's own origin, which ``meshes_app`` sets
    when it starts the app (set it in ``meshes_app_env`` to change it)."""
    return meshes_fake.meshes_env()


# -- the host team's app -----------------------------------------------------------------


@pytest.fixture(scope="session")
def meshes_app_command() -> Sequence[str] | str | None:
    """Session; override in your conftest.py: the argv that starts your app under its real
    server, with ``{port}`` where the port goes, e.g. ``["python", "manage.py",
    "runserver", "--noreload", "127.0.0.1:{port}"]`` (a leading ``python`` is the
    interpreter running pytest; relative paths are from pytest's working directory).
    Default None. Wins over ``meshes_wsgi_app`` and ``meshes_asgi_app``."""
    return None


@pytest.fixture(scope="session")
def meshes_app_setup() -> Sequence[Sequence[str] | str]:
    """Session; override: commands run to completion, in order, before your app starts,
    with the app's environment (``meshes_env``, the test limits, ``meshes_app_env``): what
    a fresh database needs, e.g. for Django ``["python", "manage.py", "migrate",
    "--noinput"]`` then a command creating the users your tests log in as. Written like
    ``meshes_app_command`` (a leading ``python`` is pytest's interpreter), without
    ``{port}``. A command that fails stops ``meshes_app`` with its last output line.
    Default: none."""
    return ()


@pytest.fixture(scope="session")
def meshes_app_env() -> Mapping[str, str]:
    """Session; override: extra environment for your app (added to ``meshes_env``, the
    app's ``MESHES_ALLOWED_ORIGINS`` and the test limits ``MESHES_BRIDGE_MINT_LIMIT`` =
    ``MESHES_BRIDGE_REFRESH_LIMIT`` = 10000; these win). Default ``{}``."""
    return {}


@pytest.fixture(scope="session")
def meshes_wsgi_app() -> Callable[[], Any] | None:
    """Session; override: a zero-argument factory returning your WSGI app, e.g. Flask's
    ``create_app`` or Django's ``get_wsgi_application``. Called once the ``MESHES_*``
    variables are in ``os.environ``; served in a thread by the standard library's
    wsgiref (threaded; a Django app also serves its static files). Default None."""
    return None


@pytest.fixture(scope="session")
def meshes_asgi_app() -> Callable[[], Any] | None:
    """Session; override: a zero-argument factory returning your ASGI app (e.g.
    FastAPI's). Called once the ``MESHES_*`` variables are in ``os.environ``; served by
    uvicorn in a thread, lifespan events included. Default None."""
    return None


@pytest.fixture(scope="session")
def meshes_app_port() -> int:
    """Session; override: the port your app listens on, when it must be a fixed one (a
    taken port fails ``meshes_app`` with one line). Default 0: a free port."""
    return 0


def _factory_error(fixture: str, error: BaseException) -> str:
    """One line for an exception from the team's own factory, with where it was raised."""
    frames = traceback.extract_tb(error.__traceback__)
    where = f" ({frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    message = str(error).strip().splitlines()
    detail = f": {message[0]}" if message else ""
    return f"meshes_app: {fixture}() raised {type(error).__name__}{detail}{where}"


@pytest.fixture(scope="session")
def meshes_app(
    meshes_env: dict[str, str],
    meshes_app_command: Sequence[str] | str | None,
    meshes_app_setup: Sequence[Sequence[str] | str],
    meshes_app_env: Mapping[str, str],
    meshes_wsgi_app: Callable[[], Any] | None,
    meshes_asgi_app: Callable[[], Any] | None,
    meshes_app_port: int,
) -> Iterator[RunningApp]:
    """Session: your app, running against the fake Meshes, as a ``RunningApp`` (``url``,
    ``origin``, ``port``, ``kind``, ``output()``: its log so far). Started from
    ``meshes_app_command`` if defined, else ``meshes_wsgi_app``, else ``meshes_asgi_app``,
    with ``meshes_env``, ``MESHES_ALLOWED_ORIGINS`` = its origin, per-user limits no
    ordinary test meets (``TEST_LIMITS``: the app's rate counters live as long as it does,
    so no test may use up the next one's) and ``meshes_app_env``, which wins, after the
    ``meshes_app_setup`` commands (a migration, the test users); waited for
    until it answers (bounded). None defined, a command that exits, a taken port: one line
    saying so. Stopped at the end of the session, also after failures."""
    env = {**meshes_env, **TEST_LIMITS, **meshes_app_env}
    factories = (("meshes_wsgi_app", meshes_wsgi_app), ("meshes_asgi_app", meshes_asgi_app))
    fixture, factory = next(((name, f) for name, f in factories if f is not None), ("", None))
    if meshes_app_command is None and factory is None:
        _fail(NO_APP)
    if meshes_app_command is None and not callable(factory):
        _fail(f"meshes_app: {fixture} must return a zero-argument factory, got {factory!r}")
    port = meshes_app_port
    try:
        if meshes_app_setup:
            # The app's origin is part of its settings (a Django system check wants it
            # before `migrate` runs), so its port is chosen before the setup runs.
            port = port or free_port()
            origin = {"MESHES_ALLOWED_ORIGINS": f"http://{LOOPBACK}:{port}"}
            run_setup(meshes_app_setup, {**origin, **env})
        if meshes_app_command is not None:
            app = start_command(meshes_app_command, env, port=port)
        else:
            serve = serve_wsgi if fixture == "meshes_wsgi_app" else serve_asgi
            app = serve(factory, env, port=port)
    except ProcessStartError as error:
        _fail(f"meshes_app: {error}")
    except (Exception, SystemExit) as error:  # raised by the team's factory
        _fail(_factory_error(fixture, error))
    try:
        yield app
    finally:
        app.stop()


@pytest.fixture(scope="session")
def meshes_login_path() -> str:
    """Session; override in your conftest.py: the path of your app's login page, which
    ``meshes_login_url`` joins to the app's URL. Default ``"/login"`` (the example apps');
    Django's default is ``"/accounts/login/"`` (``settings.LOGIN_URL``)."""
    return "/login"


@pytest.fixture(scope="session")
def meshes_login_url(meshes_app: RunningApp, meshes_login_path: str) -> str:
    """Session: your running app's login page, for
    ``log_in(page, meshes_login_url, username, password)``."""
    return meshes_app.url.rstrip("/") + "/" + meshes_login_path.lstrip("/")


@pytest.fixture(autouse=True)
def _meshes_page_watch(request: pytest.FixtureRequest) -> None:
    """A test using pytest-playwright's ``page`` gets it watched from its first request
    (host endpoint answers, bridge console lines; with ``meshes_app``, the app's log), so
    a failing helper such as ``expect_embed_authenticated`` can say why. Does nothing for
    other tests: no browser is started for them."""
    if "page" not in request.fixturenames:
        return
    from playwright.sync_api import Page

    from meshes_bridge.testing.page_watch import watch_page

    page = request.getfixturevalue("page")
    if not isinstance(page, Page):  # pytest-playwright-asyncio's page: the helpers are sync
        return
    app = request.getfixturevalue("meshes_app") if "meshes_app" in request.fixturenames else None
    watch_page(page, app.output if app is not None else None)


# -- Chromium ----------------------------------------------------------------------------


def _playwright_chromium(request: pytest.FixtureRequest) -> str | None:
    """Where Playwright's own Chromium would be (it may not be installed there)."""
    if playwright_plugin_loaded(request.config, PYTEST_PLAYWRIGHT[:1]):  # its sync fixture
        playwright: Playwright = request.getfixturevalue("playwright")
        return playwright.chromium.executable_path
    try:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            return playwright.chromium.executable_path
    except Exception:  # not installed, or no driver: then only a system Chromium can do
        return None


@pytest.fixture(scope="session")
def meshes_chromium(request: pytest.FixtureRequest) -> str | None:
    """Session: the Chromium executable the browser tests launch (a path), or None when
    Playwright's own Chromium is used. From ``--meshes-chromium PATH``, else
    ``$MESHES_BRIDGE_CHROMIUM``, else Playwright's own if installed, else
    ``/usr/bin/chromium`` or ``chromium``/``chromium-browser`` on PATH; none: one line
    saying how to install one."""
    try:
        return find_chromium(
            request.config.getoption("meshes_chromium"),
            os.environ,
            lambda: _playwright_chromium(request),
        )
    except ChromiumNotFound as error:
        _fail(f"meshes_chromium: {error}")
