"""The meshes-bridge pytest plugin: a fake Meshes, the host team's app and a Chromium for
end-to-end tests of an integration, without reaching Meshes.

Registered through the ``pytest11`` entry point ``meshes_bridge`` (so it loads wherever
meshes-bridge is installed; ``-p no:meshes_bridge`` turns it off). Its dependencies come
with ``pip install "meshes-bridge[testing]"``; this module imports only pytest and the
standard library, so a project that installed meshes-bridge without the extra still
starts pytest, and only a test using a fixture that needs aiohttp or Playwright fails,
with one line saying what to install.

The hooks are here; the fixtures live in :mod:`meshes_bridge.testing.fixtures` and are
imported below so that pytest registers them with the plugin. Fixtures (the names and
scopes are public API):

============================  =========  ================================================
``meshes_fake``               session    the running fake Meshes (:class:`Servers`)
``meshes``                    function   the same, reset before and after the test; its
                                         transcript goes into a failing test's report
``meshes_env``                session    the ``MESHES_*`` variables pointing at the fake
``meshes_app_command``        session    override: argv starting your app, with ``{port}``
``meshes_app_setup``          session    override: commands run before your app starts
                                         (Django: ``migrate``, then the test users)
``meshes_app_env``            session    override: extra environment for your app
``meshes_wsgi_app``           session    override: factory returning your WSGI app
``meshes_asgi_app``           session    override: factory returning your ASGI app
``meshes_app_port``           session    override: a fixed port for the app (0 = free)
``meshes_app``                session    the running app (:class:`RunningApp`), with
                                         per-user limits no ordinary test meets; one
                                         per session (a test defining another errors)
``meshes_login_path``         session    override: your login page's path ("/login";
                                         Django's default is "/accounts/login/")
``meshes_login_url``          session    the running app's login page, for ``log_in``
``meshes_chromium``           session    the Chromium executable used, or None
``browser_type_launch_args``  session    pytest-playwright's, with a system Chromium
============================  =========  ================================================

A test using ``page`` gets it watched (``meshes_bridge.testing.page_watch``): a helper
that fails, such as ``expect_embed_authenticated``, says what the page saw.

Chromium: ``--meshes-chromium PATH``, else ``MESHES_BRIDGE_CHROMIUM``, else Playwright's
own when installed, else ``/usr/bin/chromium`` or ``chromium`` on PATH (see
:mod:`meshes_bridge.testing.chromium`).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from meshes_bridge.testing.chromium import OPTION
from meshes_bridge.testing.fixtures import (  # noqa: F401  (registered through this module)
    MESHES_KEY,
    _meshes_page_watch,
    meshes,
    meshes_app,
    meshes_app_command,
    meshes_app_env,
    meshes_app_port,
    meshes_app_setup,
    meshes_asgi_app,
    meshes_chromium,
    meshes_env,
    meshes_fake,
    meshes_login_path,
    meshes_login_url,
    meshes_wsgi_app,
    playwright_plugin_loaded,
)

TRANSCRIPT_SECTION = "meshes transcript"
LAUNCH_ARGS_PLUGIN = "meshes_bridge.launch_args"
#: The fixtures that say which app ``meshes_app`` starts, and how.
APP_DEFINITIONS = (
    "meshes_app_command",
    "meshes_wsgi_app",
    "meshes_asgi_app",
    "meshes_app_setup",
    "meshes_app_env",
)
#: The app definitions the session's app was started from, and the first test that used it.
APP_STARTED_KEY = pytest.StashKey[tuple[tuple[str, ...], str]]()


# -- hooks -------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--meshes-chromium PATH``: CI images differ in where their Chromium is."""
    group = parser.getgroup("meshes-bridge", "meshes-bridge test kit")
    group.addoption(
        OPTION,
        dest="meshes_chromium",
        metavar="PATH",
        default=None,
        help="Chromium executable for the browser tests (default: $MESHES_BRIDGE_CHROMIUM, "
        "Playwright's own Chromium, then /usr/bin/chromium or chromium on PATH)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``browser_type_launch_args`` override as a plugin of its own, now.

    Among plugins, the fixture definition registered last wins, and entry points load in
    no promised order: defined in this module, the override would lose whenever
    pytest-playwright happened to load after us. Every plugin is registered before
    ``pytest_configure``, so this one (the module ``_launch_args``) comes last and can
    request pytest-playwright's definition by the same name. A conftest.py's definition
    still wins over both.
    """
    manager = config.pluginmanager
    if not playwright_plugin_loaded(config):
        return  # pytest-playwright absent or disabled: nothing to extend
    if manager.get_plugin(LAUNCH_ARGS_PLUGIN) is None:
        from meshes_bridge.testing import _launch_args

        manager.register(_launch_args, LAUNCH_ARGS_PLUGIN)


def _app_definitions(item: pytest.Item) -> tuple[str, ...] | None:
    """Where the fixtures defining `item`'s app come from (``conftest-dir::name`` each), or
    None when it does not use ``meshes_app``. Reads pytest's resolved fixture closure."""
    info: Any = getattr(item, "_fixtureinfo", None)
    if info is None or "meshes_app" not in info.names_closure:
        return None
    found = []
    for name in APP_DEFINITIONS:
        definitions = info.name2fixturedefs.get(name) or ()
        active = definitions[-1] if definitions else None  # the closest override wins
        found.append(f"{active.baseid or '(plugin)'}::{name}" if active is not None else name)
    return tuple(found)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """One app per session: ``meshes_app`` is started once, from the first test's fixture
    definitions. A test whose conftest.py defines another app (``pytest examples`` over
    several apps' suites) would silently run against the first one: it fails instead."""
    definitions = _app_definitions(item)
    if definitions is None:
        return
    started = item.config.stash.setdefault(APP_STARTED_KEY, (definitions, item.nodeid))
    if started[0] != definitions:
        theirs = sorted(set(definitions) - set(started[0]))
        pytest.fail(
            f"meshes_app: this test defines another app ({', '.join(theirs)}) than the one "
            f"this session started for {started[1]}: the kit runs one app per pytest "
            "session; run each app's tests in a pytest run of its own",
            pytrace=False,
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failing test that used ``meshes`` gets its transcript as a report section: what
    the embed, the API and an attacker saw (redacted), in order, is usually the answer."""
    report = yield
    servers = item.stash.get(MESHES_KEY, None)
    if servers is not None and report.failed and report.when in ("setup", "call"):
        text = servers.transcript.text() or "(empty: the fake Meshes saw nothing)"
        report.sections.append((TRANSCRIPT_SECTION, text))
    return report
