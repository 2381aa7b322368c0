"""The Django adapter (`meshes_bridge.django`): settings and system checks, the template
tag, the staticfiles finder, the views under Django's test client minting through the fake
Meshes management API, the body read over real HTTP servers, the logout signal, and the
example app under runserver. (`DjangoCacheStore` is in test_stores.py's shared contract
and test_django_store.py.)

pytest-django runs them: the project is `django_project` (configured by conftest.py), the
database its test database, `client` its test client and `settings` its fixture, which
undoes every change after the test; `override_settings` where a change holds for a block.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.contrib.staticfiles import finders
from django.core import checks
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.http import HttpResponse
from django.template import RequestContext, Template
from django.test import Client, RequestFactory, override_settings
from django.utils.crypto import get_random_string
from pytest_django import fixtures as django_fixtures
from werkzeug.serving import make_server

from meshes_bridge import assets
from meshes_bridge.django import conf, signals, views
from meshes_bridge.django.finders import MeshesBridgeFinder
from meshes_bridge.django.service import get_service, reset_service
from meshes_bridge.server.service import MAX_BODY_BYTES
from meshes_bridge.server.static_files import asset_tree
from meshes_bridge.testing.app_server import serve_asgi
from meshes_bridge.testing.doubles import Servers
from meshes_bridge.testing.doubles.management_api import TEST_SECRET_KEY
from meshes_bridge.testing.processes import LOOPBACK, AppProcess, free_port

#: pytest-django's `settings` fixture (conftest.py's `settings` is the MeshesSettings one).
settings = django_fixtures.settings

#: Every test runs against pytest-django's test database (alice and bob log in); those
#: served over real HTTP from other threads ask for `transactional_db`.
pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[2]
SESSION = "/meshes/session"


class Opaque:
    """What a faulty MESHES_BRIDGE_USER_KEY may return: no id (its repr is no key)."""


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No MESHES_* from the outer environment; a fresh service and an empty cache."""
    for name in list(os.environ):
        if name.startswith("MESHES_"):
            monkeypatch.delenv(name)
    from django.core.cache import caches

    caches["default"].clear()
    reset_service()
    yield
    reset_service()


@pytest.fixture
def configured(meshes: Servers, settings: Any) -> Servers:
    """The MESHES_BRIDGE dict pointing at the fake Meshes (reset by the shared `meshes`
    fixture); it wins over the project's flat placeholder settings."""
    env = meshes.meshes_env()
    settings.MESHES_BRIDGE = {
        "ORG_ID": env["MESHES_ORG_ID"],
        "ACCESS_KEY": env["MESHES_ACCESS_KEY"],
        "SECRET_KEY": env["MESHES_SECRET_KEY"],
        "WORKSPACE_ID": env["MESHES_WORKSPACE_ID"],
        "API_URL": env["MESHES_API_URL"],
        "EMBED_ORIGIN": env["MESHES_EMBED_ORIGIN"],
        "ALLOWED_ORIGINS": ["http://testserver"],
    }
    return meshes


def bridge_settings(**changes: Any) -> override_settings:
    """MESHES_BRIDGE with `changes` for a block; a value of None leaves the key out of the
    dict and its flat setting out too (so the environment alone could give it)."""
    merged = {**django_settings.MESHES_BRIDGE, **changes}
    cleared = {conf.KEYS[key]: None for key, value in changes.items() if value is None}
    return override_settings(
        MESHES_BRIDGE={k: v for k, v in merged.items() if v is not None}, **cleared
    )


def user(name: str) -> Any:
    """A user of the test database, made on first use."""
    found, _ = get_user_model().objects.get_or_create(username=name)
    return found


@pytest.fixture
def alice(client: Client, configured: Servers) -> Client:
    """pytest-django's `client`, logged in as alice."""
    client.force_login(user("alice"))
    return client


@pytest.fixture
def bob(configured: Servers) -> Client:
    other = Client()
    other.force_login(user("bob"))
    return other


def post(client: Client, url: str, body: Any = None, **headers: str) -> Any:
    return client.post(
        url, body if body is not None else {}, content_type="application/json", headers=headers
    )


def messages(check_id_prefix: str = "meshes_bridge.") -> list[checks.CheckMessage]:
    return [m for m in checks.run_checks() if (m.id or "").startswith(check_id_prefix)]


def deploy_messages(check_id_prefix: str = "meshes_bridge.") -> list[checks.CheckMessage]:
    found = checks.run_checks(include_deployment_checks=True)
    return [m for m in found if (m.id or "").startswith(check_id_prefix)]


def ids(found: list[checks.CheckMessage]) -> list[str]:
    return sorted(str(m.id) for m in found)


# -- settings and system checks ------------------------------------------------------------


def test_configured_project_passes_the_checks(configured: Servers) -> None:
    assert ids(messages()) == []
    # The test cache is a LocMemCache: `check --deploy` warns that it is per process.
    assert ids(deploy_messages()) == ["meshes_bridge.W001"]


@pytest.mark.parametrize("command", ["migrate", "createsuperuser", "makemigrations", "shell"])
def test_missing_settings_let_database_and_admin_commands_run(
    configured: Servers, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    monkeypatch.setattr(sys, "argv", ["manage.py", command, "--noinput"])
    with bridge_settings(ORG_ID=None, SECRET_KEY=""):
        found = messages()
        assert ids(found) == ["meshes_bridge.W004"]
        warning = found[0]
        assert warning.level == checks.WARNING
        assert "MESHES_ORG_ID is not set" in warning.msg and "MESHES_SECRET_KEY" in warning.msg
        assert command in (warning.hint or "") and "runserver" in (warning.hint or "")
        if command == "migrate":  # the command itself, with its checks
            call_command("migrate", skip_checks=False, verbosity=0, stdout=StringIO())


@pytest.mark.parametrize("argv", [["manage.py", "runserver"], ["manage.py", "check", "--deploy"]])
def test_missing_settings_stop_serving(
    configured: Servers, monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    monkeypatch.setattr(sys, "argv", argv)
    with bridge_settings(ORG_ID=None):
        assert "meshes_bridge.E001" in ids(messages())
        with pytest.raises(SystemCheckError, match=r"meshes_bridge.E001\) MESHES_ORG_ID"):
            call_command("check", deploy=True, stdout=StringIO(), stderr=StringIO())


def test_the_example_project_migrates_unconfigured(tmp_path: Path) -> None:
    """`migrate` and `createsuperuser` of a fresh project, before any MESHES_* is set;
    `check --deploy` still refuses."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESHES_")}
    env.update(
        DJANGO_SETTINGS_MODULE="demo_site.settings",
        PYTHONPATH=os.pathsep.join([str(REPO / "examples/django"), str(REPO / "bridge")]),
        DEMO_DATABASE=str(tmp_path / "db.sqlite3"),
        DJANGO_SUPERUSER_PASSWORD="demo-password",
    )

    def manage(*words: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "django", *words]
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)

    migrated = manage("migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stderr
    assert "meshes_bridge.W004" in migrated.stdout + migrated.stderr
    made = manage(
        "createsuperuser", "--noinput", "--username", "admin", "--email", "admin@example.com"
    )
    assert made.returncode == 0, made.stderr
    vetted = manage("check", "--deploy")
    assert vetted.returncode != 0
    assert "(meshes_bridge.E001) MESHES_ORG_ID is not set" in vetted.stderr


def test_e001_names_each_missing_or_bad_setting(configured: Servers) -> None:
    with bridge_settings(ORG_ID=None, SECRET_KEY="", MINT_LIMIT="ten"):
        errors = [m for m in messages() if m.id == "meshes_bridge.E001"]
    texts = [m.msg for m in errors]
    assert any(t.startswith("MESHES_ORG_ID") for t in texts), texts
    assert any(t.startswith("MESHES_SECRET_KEY") for t in texts), texts
    assert any(t.startswith("MESHES_BRIDGE_MINT_LIMIT") for t in texts), texts
    assert all(m.level == checks.ERROR for m in errors)
    assert any("MESHES_ORG_ID" in (m.hint or "") for m in errors)
    assert all("placeholder" not in m.msg and TEST_SECRET_KEY not in m.msg for m in errors)

    with override_settings(MESHES_BRIDGE_POLICY="no.such.module.policy", MESHES_BRIDGE_CACHE="x"):
        texts = [m.msg for m in messages() if m.id == "meshes_bridge.E001"]
    assert any(t.startswith("MESHES_BRIDGE_POLICY") for t in texts), texts
    assert any(t.startswith("MESHES_BRIDGE_CACHE") for t in texts), texts


def test_e001_can_be_silenced(configured: Servers) -> None:
    with (
        bridge_settings(ORG_ID=None),
        override_settings(SILENCED_SYSTEM_CHECKS=["meshes_bridge.E001"]),
    ):
        assert not [m for m in messages() if m.id == "meshes_bridge.E001" and not m.is_silenced()]


def test_the_environment_fills_in_and_settings_win(
    configured: Servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = configured.meshes_env()
    monkeypatch.setenv("MESHES_ORG_ID", env["MESHES_ORG_ID"])
    monkeypatch.setenv("MESHES_BRIDGE_MINT_LIMIT", "not a number")  # overridden: never read
    monkeypatch.setenv("MESHES_BRIDGE_REFRESH_LIMIT", "7")
    with bridge_settings(ORG_ID=None, MINT_LIMIT=3):
        assert not [m for m in messages() if m.id == "meshes_bridge.E001"]
        built = get_service().settings
    assert built.org_id == env["MESHES_ORG_ID"]
    assert (built.mint_limit, built.refresh_limit) == (3, 7)
    assert built.allowed_origins == ("http://testserver",)


def test_the_dict_wins_over_flat_settings_which_win_over_the_environment(
    configured: Servers, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MESHES_BRIDGE_REFRESH_LIMIT", "7")
    monkeypatch.setenv("MESHES_BRIDGE_MINT_LIMIT", "1")  # a flat setting hides it
    settings.MESHES_BRIDGE_MINT_LIMIT = 4
    assert (get_service().settings.mint_limit, get_service().settings.refresh_limit) == (4, 7)
    settings.MESHES_BRIDGE = {**settings.MESHES_BRIDGE, "MINT_LIMIT": 5, "CACHE": "default"}
    assert get_service().settings.mint_limit == 5
    assert get_service().settings.org_id == configured.meshes_env()["MESHES_ORG_ID"]


def test_flat_settings_alone_still_work(settings: Any) -> None:
    del settings.MESHES_BRIDGE  # the project's own flat MESHES_* settings only
    built = get_service().settings
    assert built.org_id == settings.MESHES_ORG_ID
    assert built.allowed_origins == ("http://testserver",)
    assert not [m for m in messages() if m.id == "meshes_bridge.E001"]


def test_an_unknown_key_in_the_dict_is_e001(configured: Servers) -> None:
    with bridge_settings(MINT_LIMITS=3):
        texts = [m.msg for m in messages() if m.id == "meshes_bridge.E001"]
    assert any("MINT_LIMITS" in text and "MINT_LIMIT" in text for text in texts), texts


def test_a_setting_change_rebuilds_the_service(configured: Servers) -> None:
    first = get_service()
    with override_settings(MESHES_BRIDGE_MINT_LIMIT=4):
        assert get_service() is not first
        assert get_service().settings.mint_limit == 4
    assert get_service().settings.mint_limit == 10


def test_w001_for_a_per_process_cache_only_when_vetting_a_deployment(configured: Servers) -> None:
    # runserver is one process: a LocMemCache is right there, and a warning on every
    # start of a default setup would be noise.
    assert "meshes_bridge.W001" not in ids(messages())
    warning = next(m for m in deploy_messages() if m.id == "meshes_bridge.W001")
    assert "LocMemCache" in warning.msg and warning.level == checks.WARNING
    assert "MESHES_BRIDGE['CACHE']" in (warning.hint or "")
    dummy = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    with override_settings(CACHES=dummy):  # stores nothing: wrong even in one process
        assert "DummyCache" in next(m for m in messages() if m.id == "meshes_bridge.W001").msg
        assert ids(deploy_messages()) == ["meshes_bridge.W001"]
    redis = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # never contacted by the check
        }
    }
    with override_settings(CACHES=redis):
        assert "meshes_bridge.W001" not in ids(deploy_messages())


def test_w002_when_the_bridge_cannot_read_the_csrf_cookie(configured: Servers) -> None:
    with override_settings(CSRF_COOKIE_HTTPONLY=True):
        warning = next(m for m in messages() if m.id == "meshes_bridge.W002")
    assert "CSRF_COOKIE_HTTPONLY" in warning.msg and "X-CSRFToken" in warning.msg
    with override_settings(CSRF_USE_SESSIONS=True):
        assert (
            "CSRF_USE_SESSIONS" in next(m for m in messages() if m.id == "meshes_bridge.W002").msg
        )


def test_w003_when_popups_would_lose_their_opener(configured: Servers, settings: Any) -> None:
    """Django's default COOP (same-origin) cuts off the embed's OAuth popups."""
    assert "meshes_bridge.W003" not in ids(messages())  # no SecurityMiddleware, no COOP
    secured = ["django.middleware.security.SecurityMiddleware", *settings.MIDDLEWARE]
    with override_settings(MIDDLEWARE=secured):
        warning = next(m for m in messages() if m.id == "meshes_bridge.W003")
        assert "same-origin-allow-popups" in (warning.hint or "")
        with override_settings(SECURE_CROSS_ORIGIN_OPENER_POLICY="same-origin-allow-popups"):
            assert "meshes_bridge.W003" not in ids(messages())


def test_e002_without_the_finder_and_e003_without_csrf_middleware(
    configured: Servers, settings: Any
) -> None:
    with override_settings(STATICFILES_FINDERS=settings.STATICFILES_FINDERS[:2]):
        error = next(m for m in messages() if m.id == "meshes_bridge.E002")
    assert "MeshesBridgeFinder" in (error.hint or "")
    without_csrf = [m for m in settings.MIDDLEWARE if "csrf" not in m]
    with override_settings(MIDDLEWARE=without_csrf):
        assert "meshes_bridge.E003" in ids(messages())


# -- the template tag ------------------------------------------------------------------------


def render(source: str, **context: Any) -> str:
    request = RequestFactory().get("/page")
    return Template("{% load meshes_bridge %}" + source).render(RequestContext(request, context))


def test_the_tag_renders_urls_csrf_pair_and_launch_page(configured: Servers) -> None:
    html = render(
        '{% meshes_embed launch_page="connections" runtime="micropython" min_height=600'
        ' timings_url="/monitoring/embed-timings" %}'
    )
    assert 'data-session-url="/meshes/session"' in html
    assert 'data-refresh-url="/meshes/session/{session_id}/refresh"' in html
    assert '<script type="module" src="/static/meshes-bridge/loader.js"' in html
    assert 'data-runtime="micropython"' in html
    assert 'data-csrf-cookie="csrftoken" data-csrf-header="X-CSRFToken"' in html
    assert f'data-embed-origin="{configured.embed_url}"' in html
    assert 'data-session-body="{&quot;launch_page&quot;: &quot;connections&quot;}"' in html
    assert 'data-min-height="600"' in html
    assert 'data-timings-url="/monitoring/embed-timings"' in html.split("<script")[1]


def test_the_tag_renders_the_first_state_with_a_visible_fallback(configured: Servers) -> None:
    # Should loader.js never run (DEBUG off and nothing serving static files), the page
    # says "booting" and shows a line of text, not an empty box.
    html = render("{% meshes_embed %}")
    assert re.match(r'<div data-meshes-embed data-state="booting" [^>]*>', html), html
    assert "<p data-meshes-fallback>Loading Meshes\u2026</p></div>" in html


def test_the_tag_escapes_and_follows_the_csrf_settings(configured: Servers) -> None:
    with override_settings(CSRF_COOKIE_NAME='x"><b>', CSRF_HEADER_NAME="HTTP_X_XSRF_TOKEN"):
        html = render(
            "{% meshes_embed element_id=name css_class=name include_script=False %}",
            name='"><script>alert(1)</script>',
        )
    assert "<script>alert" not in html and "<b>" not in html
    assert 'id="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in html
    assert 'data-csrf-cookie="x&quot;&gt;&lt;b&gt;" data-csrf-header="X-Xsrf-Token"' in html
    assert "<script" not in html  # include_script=False


def test_the_page_sets_the_csrf_cookie_and_the_csp_tag(configured: Servers) -> None:
    answer = Client().get("/page")
    assert answer.status_code == 200
    assert "csrftoken" in answer.cookies  # the tag asked for the token
    csp = render("{% meshes_csp %}")
    assert f"frame-src {configured.embed_url}" in csp
    assert "&#x27;self&#x27;" in csp  # autoescaped for an attribute


def test_a_bad_launch_page_is_a_template_error(configured: Servers) -> None:
    with pytest.raises(ValueError, match="launch_page"):
        render('{% meshes_embed launch_page="settings" %}')


# -- static files ---------------------------------------------------------------------------


def test_the_finder_finds_and_lists_the_tree() -> None:
    finder = MeshesBridgeFinder()
    found = finder.find("meshes-bridge/loader.js")
    assert isinstance(found, str)
    assert Path(found).read_text(encoding="utf-8") == assets.loader_text()
    assert finder.find("meshes-bridge/loader.js", find_all=True) == [found]
    assert finder.find("meshes-bridge/loader.js", all=True) == [found]  # Django < 5.2
    wasm = finder.find("meshes-bridge/" + assets.tree_path("micropython/micropython.wasm"))
    assert Path(wasm).read_bytes()[:4] == b"\0asm"
    bundle = assets.tree_path("python/micropython.bin")
    found_bundle = finder.find("meshes-bridge/" + bundle)
    assert Path(found_bundle).read_bytes() == asset_tree().get(bundle).read()  # type: ignore[union-attr]
    for missing in (
        "meshes-bridge/nothing.js",
        "loader.js",
        "meshes-bridge/../setup.py",
        "meshes-bridge/micropython/micropython.wasm",
    ):
        assert finder.find(missing) == []
    assert finders.find("meshes-bridge/" + assets.tree_path("pyodide/pyodide.mjs"))
    listed = {rel for rel, _ in finder.list([])}
    assert listed == set(asset_tree().paths())
    assert {"loader.js", bundle, assets.tree_path("pyodide/pyodide.asm.wasm")} <= listed
    assert not any(rel.endswith(".wasm") for rel, _ in finder.list(["*.wasm"]))
    assert finder.check() == []


def test_findstatic_and_collectstatic(tmp_path: Path) -> None:
    out = StringIO()
    call_command("findstatic", "meshes-bridge/loader.js", stdout=out, verbosity=1)
    assert "loader.js" in out.getvalue()
    root = tmp_path / "static"
    with override_settings(STATIC_ROOT=str(root)):
        call_command("collectstatic", interactive=False, verbosity=0)
    tree = root / "meshes-bridge"
    assert (tree / "loader.js").read_text(encoding="utf-8") == assets.loader_text()
    for rel in (
        "micropython/micropython.mjs",
        "micropython/micropython.wasm",
        "pyodide/pyodide.mjs",
        "pyodide/pyodide.asm.wasm",
        "pyodide/python_stdlib.zip",
        "pyscript/core.js",
        "python/micropython.bin",
        "python/pyodide.bin",
    ):
        rel = assets.tree_path(rel)
        assert (tree / rel).read_bytes() == asset_tree().get(rel).read(), rel  # type: ignore[union-attr]
    # A second run (nothing changed) is a no-op, not an error.
    with override_settings(STATIC_ROOT=str(root)):
        call_command("collectstatic", interactive=False, verbosity=0)


def test_collectstatic_with_the_manifest_storage(tmp_path: Path) -> None:
    # Hashing storages post-process every .js and .css: no file may name a missing one
    # (a source map, a url()), and the loader's siblings keep their plain names too.
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }
    with override_settings(STATIC_ROOT=str(tmp_path), STORAGES=storages):
        call_command("collectstatic", interactive=False, verbosity=0)
    tree = tmp_path / "meshes-bridge"
    assert (tree / "loader.js").is_file()
    # The loader asks for the plain names (under BASE, whatever loader.js was renamed to).
    for rel in ("micropython/micropython.wasm", "pyscript/core.js", "python/micropython.bin"):
        assert (tree / assets.tree_path(rel)).is_file(), rel


# -- the views ---------------------------------------------------------------------------------


def test_anonymous_gets_401_json_not_a_login_redirect(configured: Servers) -> None:
    answer = post(Client(), SESSION, {"launch_page": "connections"})
    assert answer.status_code == 401
    assert answer.json() == {"error": "login-required"}
    assert answer["Cache-Control"].startswith("no-store")
    assert post(Client(), f"{SESSION}/sess_x/refresh").status_code == 401
    assert configured.api.calls() == []


def test_only_post_and_other_methods_get_the_json_405(alice: Client) -> None:
    refresh = f"{SESSION}/sess_x/refresh"
    answers = [
        alice.get(SESSION),
        alice.put(SESSION, "{}", content_type="application/json"),
        alice.delete(SESSION),
        alice.get(refresh),
        alice.patch(refresh, "{}", content_type="application/json"),
    ]
    for answer in answers:
        assert answer.status_code == 405
        assert answer.json() == {"error": "method-not-allowed"}
        assert answer["Allow"] == "POST"
        assert answer["Cache-Control"].startswith("no-store")
    head = alice.head(SESSION)
    assert (head.status_code, head["Allow"], head["Cache-Control"]) == (405, "POST", "no-store")


def test_mint_and_refresh_for_the_logged_in_user(alice: Client, configured: Servers) -> None:
    answer = post(alice, SESSION, {"launch_page": "connections"})
    assert answer.status_code == 200, answer.content
    assert answer["Cache-Control"].startswith("no-store")
    assert answer["Content-Type"] == "application/json"
    session = answer.json()
    assert set(session) == {"session_id", "access_token", "expires_at", "launch_url"}
    view = configured.fake.session(session["session_id"])
    assert view.external_user_id == str(user("alice").pk)
    assert view.allowed_origins == ("http://testserver",)
    assert view.launch_page == "connections"
    assert get_service().store.owner(session["session_id"]) == str(user("alice").pk)

    renewed = post(alice, f"{SESSION}/{session['session_id']}/refresh")
    assert renewed.status_code == 200, renewed.content
    assert set(renewed.json()) == {"access_token", "expires_at"}
    assert renewed["Cache-Control"].startswith("no-store")


def test_append_slash_does_not_redirect_the_endpoints(alice: Client) -> None:
    with override_settings(APPEND_SLASH=True):
        assert post(alice, SESSION).status_code == 200
        assert post(alice, f"{SESSION}/sess_unknown/refresh").status_code == 404


def test_the_service_rules_reach_the_client(
    alice: Client, bob: Client, configured: Servers
) -> None:
    foreign = post(alice, SESSION, Origin="https://evil.example")
    assert (foreign.status_code, foreign.json()["error"]) == (403, "origin-not-allowed")
    form = alice.post(SESSION, {"launch_page": "connections"})  # multipart, as a form would
    assert form.status_code in (403, 415)
    urlencoded = alice.post(
        SESSION, "launch_page=x", content_type="application/x-www-form-urlencoded"
    )
    assert urlencoded.status_code in (403, 415)
    smuggled = post(alice, SESSION, {"role": "owner"})
    assert (smuggled.status_code, smuggled.json()) == (
        400,
        {"error": "field-not-allowed", "field": "role"},
    )
    assert configured.api.calls("create") == []

    session_id = post(alice, SESSION).json()["session_id"]
    theirs = post(bob, f"{SESSION}/{session_id}/refresh")
    unknown = post(bob, f"{SESSION}/sess_unknown/refresh")
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.json() == unknown.json() == {"error": "not-found"}


def test_the_rate_limit_answers_429(alice: Client) -> None:
    with override_settings(MESHES_BRIDGE_MINT_LIMIT=2):
        assert [post(alice, SESSION).status_code for _ in range(2)] == [200, 200]
        limited = post(alice, SESSION)
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 60


def test_other_paths_below_the_session_url_are_the_json_404(alice: Client) -> None:
    for below in ("session/", "session//refresh", "session/a/b/refresh", "session/x/renew"):
        for answer in (post(alice, f"/meshes/{below}"), alice.get(f"/meshes/{below}")):
            assert (answer.status_code, answer.json()) == (404, {"error": "not-found"}), below
            assert answer["Cache-Control"].startswith("no-store")
    enforced = Client(enforce_csrf_checks=True)  # no token: still the 404, not a 403 page
    assert post(enforced, "/meshes/session/x/renew").status_code == 404


def assert_csrf_refused(answer: Any) -> None:
    """Django's CSRF check refused it, with the endpoints' JSON, not the HTML page."""
    assert answer.status_code == 403
    assert answer["Content-Type"] == "application/json"
    assert answer.json() == {"error": "csrf-failed"}
    assert answer["Cache-Control"].startswith("no-store")


@pytest.mark.parametrize("middleware", ["with", "without"])
def test_csrf_is_enforced(
    configured: Servers, settings: Any, middleware: str, caplog: pytest.LogCaptureFixture
) -> None:
    stack = settings.MIDDLEWARE
    if middleware == "without":  # the views' own check still holds
        stack = [m for m in stack if "csrf" not in m]
    client = Client(enforce_csrf_checks=True)
    client.force_login(user("alice"))
    client.get("/page")  # the page sets the cookie the bridge reads
    token = client.cookies["csrftoken"].value
    with override_settings(MIDDLEWARE=stack):
        assert_csrf_refused(post(client, SESSION))
        assert_csrf_refused(post(client, f"{SESSION}/sess_x/refresh"))
        assert_csrf_refused(post(client, SESSION, **{"X-CSRFToken": "forged" * 6}))
        assert configured.api.calls("create") == []
        assert "Forbidden (CSRF token from the 'X-Csrftoken' HTTP header" in caplog.text
        allowed = post(client, SESSION, **{"X-CSRFToken": token})
        assert allowed.status_code == 200, allowed.content


def test_a_foreign_or_repeated_origin_is_refused(alice: Client, configured: Servers) -> None:
    # A WSGI server joins repeated headers with a comma: two Origin headers are one value
    # naming two origins, which neither Django's CSRF check nor the service accepts.
    repeated = {"HTTP_ORIGIN": "http://testserver,https://evil.example"}
    answer = alice.post(SESSION, {}, content_type="application/json", **repeated)
    assert (answer.status_code, answer.json()) == (403, {"error": "origin-not-allowed"})
    client = Client(enforce_csrf_checks=True)
    client.force_login(user("alice"))
    client.get("/page")
    token = client.cookies["csrftoken"].value
    for origin in ("http://testserver,https://evil.example", "https://evil.example"):
        headers = {"HTTP_ORIGIN": origin, "HTTP_X_CSRFTOKEN": token}
        assert_csrf_refused(client.post(SESSION, {}, content_type="application/json", **headers))
    assert configured.api.calls("create") == []


def test_policy_and_user_key_settings(alice: Client, configured: Servers) -> None:
    with override_settings(
        MESHES_BRIDGE_POLICY="django_project.admin_policy",
        MESHES_BRIDGE_USER_KEY="django_project.email_key",
    ):
        session_id = post(alice, SESSION).json()["session_id"]
    view = configured.fake.session(session_id)
    assert (view.role, view.external_user_id) == ("admin", "user-alice")


def test_the_default_user_key_is_the_primary_key(configured: Servers) -> None:
    alice = user("alice")
    assert conf.user_key(alice) == str(alice.pk)
    assert conf.user_key(None) is None
    assert conf.user_key(get_user_model()()) is None  # unsaved: no pk yet, anonymous


@pytest.mark.parametrize("value", [False, None, ""])
def test_a_user_key_of_none_false_or_empty_means_anonymous(
    alice: Client, configured: Servers, value: object
) -> None:
    with override_settings(MESHES_BRIDGE_USER_KEY=lambda user: value):
        answers = [post(alice, SESSION), post(alice, f"{SESSION}/sess_x/refresh")]
    for answer in answers:
        assert (answer.status_code, answer.json()) == (401, {"error": "login-required"})
    assert configured.api.calls("create") == []


@pytest.mark.parametrize("value", [True, Opaque(), 1.5], ids=["true", "object", "float"])
def test_a_user_key_that_is_no_id_is_a_500_naming_the_setting(
    alice: Client, configured: Servers, caplog: pytest.LogCaptureFixture, value: object
) -> None:
    with override_settings(MESHES_BRIDGE_USER_KEY=lambda user: value):
        answers = [post(alice, SESSION), post(alice, f"{SESSION}/sess_x/refresh")]
        alice.logout()  # the receiver meets the same key: logout still succeeds
    for answer in answers:
        assert (answer.status_code, answer.json()) == (500, {"error": "internal"})
        assert answer["Cache-Control"].startswith("no-store")
        assert answer["Content-Type"] == "application/json"
    assert configured.api.calls("create") == []
    named = [r for r in caplog.records if "MESHES_BRIDGE_USER_KEY" in r.getMessage()]
    assert len(named) == 3  # mint, refresh, logout
    assert "Opaque object" not in caplog.text


def test_the_user_key_and_policy_paths_are_imported_once(
    alice: Client, configured: Servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    imported: list[str] = []
    real_import = conf.import_string

    def counting_import(dotted: str) -> Any:
        imported.append(dotted)
        return real_import(dotted)

    monkeypatch.setattr(conf, "import_string", counting_import)
    key_path, policy_path = "django_project.email_key", "django_project.admin_policy"
    with override_settings(MESHES_BRIDGE_USER_KEY=key_path, MESHES_BRIDGE_POLICY=policy_path):
        for _ in range(3):
            assert post(alice, SESSION).status_code == 200
        alice.logout()
        assert sorted(imported) == [policy_path, key_path]
    assert len(configured.api.revoked_ids()) == 3  # the logout found them by that key
    with override_settings(MESHES_BRIDGE_USER_KEY=key_path):  # a change imports afresh
        get_service()
        assert post(Client(), SESSION).status_code == 401
    assert imported.count(key_path) == 2


def test_a_session_id_ending_in_a_newline_is_not_found(alice: Client) -> None:
    # The path's %0A reaches the view (<str:...> takes any character but "/"); the
    # store must not build a cache key memcached refuses from it (a 500).
    memcached_like = {
        "default": {
            "BACKEND": "django_project.MemcachedLikeCache",
            "LOCATION": "meshes-bridge-memcached-like",
        }
    }
    with override_settings(CACHES=memcached_like):
        session_id = post(alice, SESSION).json()["session_id"]
        assert post(alice, f"{SESSION}/{session_id}/refresh").status_code == 200
        answer = post(alice, f"{SESSION}/abc%0A/refresh")
        again = post(alice, f"{SESSION}/{session_id}%0A/refresh")
    for refused in (answer, again):
        assert (refused.status_code, refused.json()) == (404, {"error": "not-found"})


# -- the body ----------------------------------------------------------------------------------


class Stream:
    """A WSGI input stream that counts what it hands out; `endless` never ends."""

    def __init__(self, data: bytes = b"", endless: bool = False) -> None:
        self.data, self.endless, self.handed_out = data, endless, 0

    def read(self, size: int | None = -1) -> bytes:
        if self.endless:
            chunk = b"x" * min(1000, size if size is not None and size >= 0 else 1000)
        else:
            end = len(self.data) if size is None or size < 0 else self.handed_out + size
            chunk = self.data[self.handed_out : end][:1000]  # short reads, like a socket
        self.handed_out += len(chunk)
        return chunk

    def readline(self, size: int | None = -1) -> bytes:
        return self.read(size)


def call_view(stream: Stream, *, content_length: int | None, **environ: Any) -> HttpResponse:
    """The mint view called with `stream` as wsgi.input; chunked when no content_length."""
    extra: dict[str, Any] = {"wsgi.input": stream, "CONTENT_TYPE": "application/json", **environ}
    if content_length is None:
        extra.update(CONTENT_LENGTH="", HTTP_TRANSFER_ENCODING="chunked")
    else:
        extra["CONTENT_LENGTH"] = str(content_length)
    request = RequestFactory().generic("POST", SESSION, **extra)
    request.user = user("alice")
    request._dont_enforce_csrf_checks = True  # type: ignore[attr-defined]
    return views.session(request)


def assert_json(answer: Any, status: int, body: dict[str, Any]) -> None:
    assert answer.status_code == status, answer.content[:300]
    assert answer["Content-Type"] == "application/json"
    assert json.loads(answer.content) == body
    assert answer["Cache-Control"].startswith("no-store")


TOO_BIG = {"error": "bad-value", "field": "body"}
SMUGGLED = {"error": "field-not-allowed", "field": "role"}


def test_a_big_body_is_read_no_further_than_the_limit(configured: Servers) -> None:
    big = Stream(b'{"launch_page": "' + b"x" * 3_000_000 + b'"}')
    assert_json(call_view(big, content_length=len(big.data)), 400, TOO_BIG)
    assert big.handed_out <= MAX_BODY_BYTES + 1
    assert configured.api.calls("create") == []


def test_a_chunked_body_is_read_when_the_server_dechunks_it(configured: Servers) -> None:
    endless = Stream(endless=True)
    assert_json(
        call_view(endless, content_length=None, **{"wsgi.input_terminated": True}), 400, TOO_BIG
    )
    assert endless.handed_out <= MAX_BODY_BYTES + 1
    smuggled = Stream(b'{"role": "owner"}')
    assert_json(
        call_view(smuggled, content_length=None, **{"wsgi.input_terminated": True}), 400, SMUGGLED
    )
    assert configured.api.calls("create") == []


def test_a_chunked_body_no_server_dechunked_is_refused(
    configured: Servers, caplog: pytest.LogCaptureFixture
) -> None:
    raw = Stream(b"11\r\n" + b'{"role": "owner"}' + b"\r\n0\r\n\r\n")
    assert_json(call_view(raw, content_length=None), 400, TOO_BIG)
    assert raw.handed_out == 0  # the raw chunks are never parsed as a body
    assert "Transfer-Encoding" in caplog.text and "runserver" in caplog.text
    assert configured.api.calls("create") == []


# -- over real HTTP ----------------------------------------------------------------------------


@contextmanager
def served(kind: str) -> Iterator[int]:
    """This process's project over real HTTP on a free port (the port): under "werkzeug"
    (it de-chunks a body and says so, as gunicorn does), "runserver" (Django's development
    server, which does not) or "uvicorn" (Django's ASGI handler)."""
    if kind == "uvicorn":
        app = serve_asgi(ASGIHandler, {})
        try:
            yield app.port
        finally:
            app.stop()
        return
    if kind == "werkzeug":
        server: Any = make_server(LOOPBACK, 0, WSGIHandler(), threaded=True)
    else:
        server = ThreadedWSGIServer((LOOPBACK, 0), WSGIRequestHandler)
        server.set_app(WSGIHandler())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def over_http(port: int, body: bytes | list[bytes], headers: list[tuple[str, str]]) -> Answer:
    """A mint POST written by hand: `body` with a Content-Length, or a list of chunks sent
    with Transfer-Encoding: chunked. A server may answer before the body is all sent and
    close (runserver, after the answer, reads the unread chunks as the next request and
    refuses it): the answer is read all the same, as browsers and httpx do."""
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=30)
    try:
        connection.putrequest("POST", SESSION, skip_host=True, skip_accept_encoding=True)
        for name, value in headers:
            connection.putheader(name, value)
        try:
            if isinstance(body, list):
                connection.putheader("Transfer-Encoding", "chunked")
                connection.endheaders()
                for chunk in body:
                    connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                connection.send(b"0\r\n\r\n")
            else:
                connection.putheader("Content-Length", str(len(body)))
                connection.endheaders(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        response = connection.getresponse()
        headers_in = {name.lower(): value for name, value in response.getheaders()}
        return Answer(response.status, headers_in, response.read())
    finally:
        connection.close()


def assert_answer(answer: Answer, status: int, body: dict[str, Any]) -> None:
    assert answer.status == status, answer.body[:300]
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == body
    assert answer.headers["cache-control"].startswith("no-store")


@pytest.fixture
def alice_headers(alice: Client, settings: Any, transactional_db: None) -> list[tuple[str, str]]:
    """What the bridge sends for alice: her session cookie, the CSRF cookie and header
    (committed: the server answering runs in another thread)."""
    token = get_random_string(32)
    session = alice.cookies[settings.SESSION_COOKIE_NAME].value
    cookies = f"{settings.SESSION_COOKIE_NAME}={session}; {settings.CSRF_COOKIE_NAME}={token}"
    return [
        ("Host", "testserver"),
        ("Content-Type", "application/json"),
        ("Cookie", cookies),
        ("X-CSRFToken", token),
    ]


@pytest.mark.parametrize("server", ["werkzeug", "uvicorn"])
def test_a_chunked_body_is_read_like_any_other(
    server: str, alice_headers: list[tuple[str, str]], configured: Servers
) -> None:
    with served(server) as port:
        smuggled = over_http(port, [b'{"role": ', b'"owner"}'], alice_headers)
        chosen = over_http(port, [b'{"launch_page": ', b'"dashboard"}'], alice_headers)
    assert_answer(smuggled, 400, SMUGGLED)
    assert chosen.status == 200, chosen.body[:300]
    assert configured.fake.session(chosen.json()["session_id"]).launch_page == "dashboard"
    assert len(configured.api.calls("create")) == 1


def test_runserver_refuses_a_chunked_body_it_cannot_read(
    alice_headers: list[tuple[str, str]], configured: Servers, caplog: pytest.LogCaptureFixture
) -> None:
    with served("runserver") as port:
        answer = over_http(port, [b'{"launch_page": "dashboard"}'], alice_headers)
    assert_answer(answer, 400, TOO_BIG)
    assert "Transfer-Encoding" in caplog.text
    assert configured.api.calls("create") == []


@pytest.mark.parametrize("server", ["werkzeug", "runserver", "uvicorn"])
def test_a_body_over_4_kb_is_the_json_400(
    server: str,
    alice_headers: list[tuple[str, str]],
    configured: Servers,
    caplog: pytest.LogCaptureFixture,
) -> None:
    big = b'{"launch_page": "' + b"x" * 3_000_000 + b'"}'
    with served(server) as port:
        sized = over_http(port, big, alice_headers)
        chunked = over_http(
            port, [big[i : i + 65536] for i in range(0, len(big), 65536)], alice_headers
        )
    assert_answer(sized, 400, TOO_BIG)
    assert_answer(chunked, 400, TOO_BIG)
    assert "Traceback" not in caplog.text and "RequestDataTooBig" not in caplog.text
    assert configured.api.calls("create") == []


def test_repeated_origin_headers_are_refused_over_http(
    alice_headers: list[tuple[str, str]], configured: Servers
) -> None:
    origins = [("Origin", "http://testserver"), ("Origin", "https://evil.example")]
    with served("werkzeug") as port:
        answer = over_http(port, b"{}", [*alice_headers, *origins])
        alone = over_http(port, b"{}", [*alice_headers, origins[0]])
    assert_answer(answer, 403, {"error": "csrf-failed"})
    assert alone.status == 200, alone.body[:300]


def test_no_secret_or_token_in_the_logs(
    alice: Client, configured: Servers, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    session = post(alice, SESSION).json()
    post(alice, f"{SESSION}/{session['session_id']}/refresh")
    configured.api.fail_next("create", 401, body={"error": "invalid_token", "message": "bad"})
    assert post(alice, SESSION).status_code == 500
    for secret in (TEST_SECRET_KEY, *configured.fake.issued_tokens(), session["launch_url"]):
        assert secret not in caplog.text
    assert "eyJ" not in caplog.text


# -- logout ----------------------------------------------------------------------------------


def test_logout_revokes_the_users_live_sessions(
    alice: Client, bob: Client, configured: Servers
) -> None:
    mine = [post(alice, SESSION).json()["session_id"] for _ in range(2)]
    theirs = post(bob, SESSION).json()["session_id"]
    alice.logout()  # Django's logout(): user_logged_out
    assert sorted(configured.api.revoked_ids()) == sorted(mine)
    assert all(configured.fake.session(s).revoked for s in mine)
    assert not configured.fake.session(theirs).revoked
    assert get_service().store.sessions_of(str(user("alice").pk)) == []


def test_signals_report_mint_refresh_and_logout(alice: Client, configured: Servers) -> None:
    events: list[tuple[str, dict[str, Any]]] = []

    def receiver(signal: Any, sender: Any, **details: Any) -> None:
        events.append((signal_names[signal], details))

    signal_names = {
        signals.session_minted: "minted",
        signals.session_refreshed: "refreshed",
        signals.sessions_revoked: "revoked",
    }
    for signal in signal_names:
        signal.connect(receiver)
    try:
        session_id = post(alice, SESSION).json()["session_id"]
        assert post(alice, f"{SESSION}/{session_id}/refresh").status_code == 200
        alice.logout()
    finally:
        for signal in signal_names:
            signal.disconnect(receiver)
    key = str(user("alice").pk)
    assert events == [
        ("minted", {"user_key": key, "session_id": session_id}),
        ("refreshed", {"user_key": key, "session_id": session_id}),
        ("revoked", {"user_key": key, "count": 1}),
    ]


def test_logout_never_fails(configured: Servers) -> None:
    client = Client()
    client.force_login(user("alice"))
    with bridge_settings(ORG_ID=None):  # half configured: logout still works
        client.logout()
    configured.api.fail_next("revoke", 503, count=10)
    client.force_login(user("alice"))
    post(client, SESSION)
    client.logout()


# -- the example app ---------------------------------------------------------------------------


def test_the_example_app_refuses_to_start_unconfigured() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESHES_")}
    env["MESHES_SECRET_KEY"] = TEST_SECRET_KEY
    argv = [sys.executable, str(REPO / "examples/django/serve.py"), "--port", str(free_port())]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "(meshes_bridge.E001) MESHES_ORG_ID is not set" in done.stderr
    assert "Traceback" not in done.stderr and TEST_SECRET_KEY not in done.stderr + done.stdout


def test_the_example_app_under_runserver(meshes: Servers, redis_url: str) -> None:
    port = free_port()
    env = {
        **meshes.meshes_env(),
        "MESHES_ALLOWED_ORIGINS": f"http://127.0.0.1:{port}",
        "MESHES_BRIDGE_REDIS_URL": redis_url,
    }
    argv = [sys.executable, str(REPO / "examples/django/serve.py"), "--port", "{port}"]
    with (
        AppProcess(argv, env=env, port=port, start_timeout=60) as app,
        httpx.Client(base_url=app.url) as http,
    ):
        form = http.get("/login")
        assert form.status_code == 200 and 'name="password"' in form.text
        hidden = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        assert hidden is not None
        data = {"username": "alice", "password": "wrong", "csrfmiddlewaretoken": hidden[1]}
        assert http.post("/login", data=data).status_code == 401
        data["password"] = "demo-password"
        assert http.post("/login", data=data).status_code == 302

        home = http.get("/?runtime=pyodide")
        assert home.status_code == 200
        assert "frame-src " + meshes.embed_url in home.headers["Content-Security-Policy"]
        assert 'data-runtime="pyodide"' in home.text and ">alice<" in home.text
        headers = {"X-CSRFToken": http.cookies["csrftoken"], "Origin": app.url}
        minted = http.post(SESSION, json={"launch_page": "dashboard"}, headers=headers)
        assert minted.status_code == 200, minted.text
        session_id = minted.json()["session_id"]

        with redis.Redis.from_url(redis_url) as shared:  # CACHES["default"] is that Redis
            assert shared.keys(f"*meshes-bridge:session:{session_id}")

        wasm = http.get("/static/meshes-bridge/" + assets.tree_path("micropython/micropython.wasm"))
        assert wasm.status_code == 200 and wasm.headers["content-type"] == "application/wasm"
        # runserver's static view sets Content-Encoding from the name (gzip for .gz):
        # the bundle's name must not make the browser unpack it on the way.
        bundle = http.get("/static/meshes-bridge/" + assets.tree_path("python/pyodide.bin"))
        assert bundle.status_code == 200 and "content-encoding" not in bundle.headers
        assert bundle.content == asset_tree().get(assets.tree_path("python/pyodide.bin")).read()  # type: ignore[union-attr]
        loader = http.get("/static/meshes-bridge/loader.js")
        assert loader.headers["content-type"].startswith("text/javascript")
        assert loader.text == assets.loader_text()

        logout = http.post("/logout", data={"csrfmiddlewaretoken": headers["X-CSRFToken"]})
        assert logout.status_code == 302
        assert meshes.api.revoked_ids() == [session_id]
        output = app.output()
    assert TEST_SECRET_KEY not in output and "eyJ" not in output
    for token in meshes.fake.issued_tokens():
        assert token not in output
