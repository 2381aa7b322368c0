"""The Flask adapter (`meshes_bridge.flask`): what is specific to Flask, in process with
Flask's test client against the fake Meshes API over HTTP (conftest's `meshes`), plus one
run of the example app under its real server.

The endpoint rules themselves (401/403/415/400/404/429/502/500) are the service's and are
tested there and by the shared example suite; here: settings from app.config and the
environment, who the user is, the Jinja global, the asset route, logout and signals.
"""

from __future__ import annotations

import html
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask, render_template_string
from flask_login import LoginManager, UserMixin, login_user, logout_user

from meshes_bridge import assets
from meshes_bridge.flask import (
    CONFIG_KEYS,
    ConfigurationError,
    MeshesBridge,
    MintPolicy,
    session_minted,
    sessions_revoked,
)
from meshes_bridge.server.static_files import IMMUTABLE, asset_tree
from meshes_bridge.server.stores import MemoryStore, RedisStore
from meshes_bridge.testing.doubles import Servers
from meshes_bridge.testing.processes import AppProcess, free_port

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "http://localhost"  # the test client's origin
JSON = {"Content-Type": "application/json", "Origin": ORIGIN}


class User(UserMixin):
    def __init__(self, user_id: str) -> None:
        self.id = user_id


def meshes_config(servers: Servers) -> dict[str, str]:
    """app.config for the fake API; an empty Redis URL so the environment cannot switch
    these apps to Redis."""
    return {
        **servers.meshes_env(),
        "MESHES_ALLOWED_ORIGINS": ORIGIN,
        "MESHES_BRIDGE_REDIS_URL": "",
    }


def make_app(
    servers: Servers | None,
    bridge: MeshesBridge | None = None,
    *,
    login: bool = True,
    config: dict[str, Any] | None = None,
) -> tuple[Flask, MeshesBridge]:
    """A Flask app with Flask-Login (unless `login` is False), a `/test-login/<name>` and a
    `/test-logout` route, and the bridge initialised from app.config."""
    app = Flask(__name__)
    app.config.update(SECRET_KEY="test-secret-key-for-cookies", TESTING=True)
    app.config.update(meshes_config(servers) if servers is not None else {})
    app.config.update(config or {})
    if login:
        manager = LoginManager(app)
        manager.user_loader(User)

        @app.get("/test-login/<name>")
        def test_login(name: str) -> str:
            login_user(User(name))
            return "ok"

        @app.post("/test-logout")
        def test_logout() -> str:
            logout_user()
            return "bye"

    bridge = bridge if bridge is not None else MeshesBridge()
    bridge.init_app(app)
    return app, bridge


def mint(client: Any, body: dict[str, Any] | None = None) -> Any:
    return client.post("/meshes/session", data=json.dumps(body or {}), headers=JSON)


@pytest.fixture
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No MESHES_* variable in the environment."""
    for name in CONFIG_KEYS:
        monkeypatch.delenv(name, raising=False)


# -- settings ----------------------------------------------------------------------------


def test_init_app_without_settings_raises_naming_the_variables(clean_environ: None) -> None:
    secret = "a-secret-that-must-never-be-shown-0123456789"
    app = Flask(__name__)
    app.config.update(MESHES_SECRET_KEY=secret, MESHES_ORG_ID="not-a-uuid")
    with pytest.raises(ConfigurationError) as caught:
        MeshesBridge(app)
    problems = "\n".join(caught.value.problems)
    for variable in (
        "MESHES_ACCESS_KEY",
        "MESHES_WORKSPACE_ID",
        "MESHES_ALLOWED_ORIGINS",
        "MESHES_ORG_ID",
    ):
        assert variable in problems
    # Each says where a Flask app sets it, in its own terms.
    assert "MESHES_ACCESS_KEY is not set (set app.config['MESHES_ACCESS_KEY'] or the " in problems
    assert "app.config['MESHES_ORG_ID'] or the MESHES_ORG_ID environment variable" in problems
    assert "MESHES_SECRET_KEY" not in problems  # it is set
    assert secret not in str(caught.value) and secret not in repr(caught.value)
    assert "meshes_bridge" not in app.extensions and "meshes_bridge" not in app.blueprints


def test_app_config_overrides_the_environment(
    meshes: Servers, monkeypatch: pytest.MonkeyPatch, clean_environ: None
) -> None:
    for name, value in meshes.meshes_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MESHES_BRIDGE_MINT_LIMIT", "10")
    monkeypatch.setenv("MESHES_BRIDGE_REDIS_URL", "redis://127.0.0.1:1/0")
    app = Flask(__name__)
    app.config.update(
        MESHES_BRIDGE_MINT_LIMIT=3,
        MESHES_ALLOWED_ORIGINS=["https://app.example.com", "HTTP://127.0.0.1:8080"],
        MESHES_BRIDGE_REDIS_URL="",  # present and empty: wins over the environment's Redis
    )
    bridge = MeshesBridge(app)
    settings = bridge.service(app).settings
    assert settings.mint_limit == 3
    assert settings.allowed_origins == ("https://app.example.com", "http://127.0.0.1:8080")
    assert settings.api_url == meshes.api_url  # not in app.config: from the environment
    assert settings.org_id == meshes.meshes_env()["MESHES_ORG_ID"]
    assert settings.redis_url is None
    assert isinstance(bridge.service(app).store, MemoryStore)


def test_redis_url_puts_bindings_in_redis(meshes: Servers, redis_url: str) -> None:
    app, bridge = make_app(meshes, config={"MESHES_BRIDGE_REDIS_URL": redis_url})
    store = bridge.service(app).store
    assert isinstance(store, RedisStore)
    client = app.test_client()
    client.get("/test-login/alice")
    session_id = mint(client).json["session_id"]
    assert RedisStore(redis_url).owner(session_id) == "alice"  # seen by any other process


def test_one_bridge_serves_several_apps(meshes: Servers) -> None:
    bridge = MeshesBridge()
    first, _ = make_app(meshes, bridge, config={"MESHES_BRIDGE_MINT_LIMIT": 1})
    second, _ = make_app(meshes, bridge)
    assert bridge.service(first) is not bridge.service(second)
    assert bridge.service(first).settings.mint_limit == 1
    assert bridge.service(second).settings.mint_limit == 10
    with pytest.raises(RuntimeError, match="already initialised"):
        bridge.init_app(first)


def test_explicit_settings_store_and_policy(meshes: Servers, settings: Any) -> None:
    store = MemoryStore()
    app = Flask(__name__)
    app.config["TESTING"] = True
    bridge = MeshesBridge(
        app,
        settings=settings.with_changes(allowed_origins=(ORIGIN,)),
        store=store,
        policy=MintPolicy(role="admin", launch_pages=("rules",)),
    )

    @bridge.user_loader
    def user_key() -> str:
        return "dave"

    client = app.test_client()
    assert mint(client, {"launch_page": "dashboard"}).status_code == 400
    reply = mint(client, {"launch_page": "rules"})
    assert reply.status_code == 200
    assert store.owner(reply.json["session_id"]) == "dave"
    assert meshes.api.calls("create")[-1].body["role"] == "admin"


# -- who the user is, and the policy -----------------------------------------------------


def test_user_loader_wins_over_flask_login(meshes: Servers) -> None:
    app, bridge = make_app(meshes)
    answer: dict[str, str | None] = {"key": "carol"}

    @bridge.user_loader
    def user_key() -> str | None:
        return answer["key"]

    client = app.test_client()
    client.get("/test-login/alice")
    reply = mint(client)
    assert reply.status_code == 200
    assert meshes.api.calls("create")[-1].body["external_user_id"] == "carol"
    answer["key"] = None  # the callback says anonymous, whatever Flask-Login says
    assert mint(client).status_code == 401


def test_flask_login_user_and_policy_loader(meshes: Servers) -> None:
    app, bridge = make_app(meshes)
    seen: list[tuple[Any, Any]] = []

    @bridge.policy_loader  # registered after init_app, as app factories do
    def policy(user: Any, request: Any) -> MintPolicy:
        seen.append((user, request))
        return MintPolicy(role="owner" if user.id == "alice" else "member")

    client = app.test_client()
    assert mint(client).status_code == 401  # anonymous: Flask-Login's AnonymousUserMixin
    assert seen == []
    client.get("/test-login/alice")
    assert mint(client).status_code == 200
    body = meshes.api.calls("create")[-1].body
    assert body["external_user_id"] == "alice" and body["role"] == "owner"
    user, request = seen[-1]
    assert isinstance(user, User) and request.path == "/meshes/session"


def test_without_flask_login_or_user_loader_the_error_says_what_to_do(meshes: Servers) -> None:
    app, _ = make_app(meshes, login=False)
    with pytest.raises(RuntimeError, match="LoginManager.*user_loader"):
        mint(app.test_client())


# -- the endpoints -------------------------------------------------------------------------


def test_mint_and_refresh_go_through_the_service(meshes: Servers) -> None:
    app, _ = make_app(meshes)
    minted: list[dict[str, Any]] = []

    def on_minted(sender: Flask, **extra: Any) -> None:
        minted.append(extra)

    client = app.test_client()
    client.get("/test-login/alice")
    with session_minted.connected_to(on_minted, sender=app):
        reply = mint(client, {"launch_page": "connections"})
    assert reply.status_code == 200
    assert reply.headers["Cache-Control"] == "no-store" and reply.headers["Pragma"] == "no-cache"
    assert reply.mimetype == "application/json"
    session = reply.json
    assert set(session) == {"session_id", "access_token", "expires_at", "launch_url"}
    created = meshes.api.calls("create")[-1].body
    assert created["launch_page"] == "connections"
    assert created["allowed_origins"] == [ORIGIN]
    assert minted == [{"user_key": "alice", "session_id": session["session_id"]}]
    assert session["access_token"] not in json.dumps(minted)

    refreshed = client.post(
        f"/meshes/session/{session['session_id']}/refresh", data=b"{}", headers=JSON
    )
    assert refreshed.status_code == 200
    assert set(refreshed.json) == {"access_token", "expires_at"}
    assert refreshed.headers["Cache-Control"] == "no-store"
    assert meshes.api.calls("refresh")[-1].session_id == session["session_id"]

    # Translation only: the service's refusals reach the browser as they are.
    other = app.test_client()
    other.get("/test-login/bob")
    stolen = other.post(f"/meshes/session/{session['session_id']}/refresh", headers=JSON)
    assert (stolen.status_code, stolen.json) == (404, {"error": "not-found"})
    form = client.post("/meshes/session", data={"launch_page": "rules"})
    assert (form.status_code, form.json) == (415, {"error": "unsupported-media-type"})
    foreign = client.post("/meshes/session", data=b"{}", headers={**JSON, "Origin": "http://x.io"})
    assert foreign.status_code == 403
    assert len(meshes.api.calls("create")) == 1


def test_an_oversized_body_is_refused_without_being_buffered(meshes: Servers) -> None:
    app, _ = make_app(meshes)
    client = app.test_client()
    client.get("/test-login/alice")
    reply = client.post("/meshes/session", data=b" " * 1_000_000 + b"{}", headers=JSON)
    assert (reply.status_code, reply.json) == (400, {"error": "bad-value", "field": "body"})
    assert meshes.api.calls("create") == []


def test_rate_limit_answer_keeps_retry_after(meshes: Servers) -> None:
    app, _ = make_app(meshes, config={"MESHES_BRIDGE_MINT_LIMIT": 1})
    client = app.test_client()
    client.get("/test-login/alice")
    assert mint(client).status_code == 200
    limited = mint(client)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1


def test_custom_url_prefix(meshes: Servers) -> None:
    app, _ = make_app(meshes, MeshesBridge(url_prefix="/api/embed/"))
    client = app.test_client()
    client.get("/test-login/alice")
    assert client.post("/api/embed/session", data=b"{}", headers=JSON).status_code == 200
    assert client.post("/meshes/session", data=b"{}", headers=JSON).status_code == 404


# -- logout ------------------------------------------------------------------------------


def test_flask_login_logout_revokes_the_users_sessions(meshes: Servers) -> None:
    app, bridge = make_app(meshes)
    revoked: list[dict[str, Any]] = []

    def on_revoked(sender: Flask, **extra: Any) -> None:
        revoked.append(extra)

    alice = app.test_client()
    alice.get("/test-login/alice")
    first = mint(alice).json["session_id"]
    second = mint(alice).json["session_id"]
    bob = app.test_client()
    bob.get("/test-login/bob")
    bobs = mint(bob).json["session_id"]

    with sessions_revoked.connected_to(on_revoked, sender=app):
        assert alice.post("/test-logout").status_code == 200
    assert sorted(meshes.api.revoked_ids()) == sorted([first, second])
    assert revoked == [{"user_key": "alice", "count": 2}]
    assert bridge.service(app).store.sessions_of("alice") == []
    assert bridge.service(app).store.owner(bobs) == "bob"


def test_logout_in_an_app_without_this_bridge_revokes_nothing(meshes: Servers) -> None:
    app, bridge = make_app(meshes)
    alice = app.test_client()
    alice.get("/test-login/alice")
    session_id = mint(alice).json["session_id"]

    other, _ = make_app(meshes, MeshesBridge())  # another bridge, another app, same user id
    other_client = other.test_client()
    other_client.get("/test-login/alice")
    assert other_client.post("/test-logout").status_code == 200
    assert meshes.api.revoked_ids() == []
    assert bridge.service(app).store.owner(session_id) == "alice"


def test_revoke_user_is_public(meshes: Servers) -> None:
    app, bridge = make_app(meshes)
    alice = app.test_client()
    alice.get("/test-login/alice")
    session_id = mint(alice).json["session_id"]
    with app.app_context():
        assert bridge.revoke_user("alice") == 1
        assert bridge.revoke_user("alice") == 0
    assert meshes.api.revoked_ids() == [session_id]


# -- the Jinja global and the CSP --------------------------------------------------------


def test_jinja_global_renders_the_container_with_the_blueprint_urls(meshes: Servers) -> None:
    app, bridge = make_app(meshes)
    template = (
        "{{ meshes_embed(launch_page='rules', runtime='pyodide', min_height=300,"
        " max_height=900, element_id=element_id, hooks_url='/static/hooks.py?a=1&b=2',"
        " timings_url='/monitoring/timings?a=1&b=2') }}"
    )
    hostile_id = 'x"><script>alert(1)</script>'
    with app.test_request_context("/"):
        out = render_template_string(template, element_id=hostile_id)
    embed_origin = meshes.meshes_env()["MESHES_EMBED_ORIGIN"]
    assert out.startswith("<div ") and ' data-meshes-embed data-state="booting" ' in out
    assert "><p data-meshes-fallback>Loading Meshes\u2026</p></div>" in out
    assert 'data-session-url="/meshes/session"' in out
    assert 'data-refresh-url="/meshes/session/{session_id}/refresh"' in out
    assert f'data-embed-origin="{embed_origin}"' in out
    assert 'data-session-body="{&quot;launch_page&quot;: &quot;rules&quot;}"' in out
    assert 'data-min-height="300"' in out and 'data-max-height="900"' in out
    assert f'id="{html.escape(hostile_id, quote=True)}"' in out  # escaped once, not twice
    assert "<script>alert" not in out and "&amp;quot;" not in out
    assert '<script type="module" src="/static/meshes-bridge/loader.js"' in out
    assert 'data-runtime="pyodide"' in out
    assert 'data-hooks="/static/hooks.py?a=1&amp;b=2"' in out
    assert 'data-timings-url="/monitoring/timings?a=1&amp;b=2"' in out

    with app.test_request_context("/"):
        second = render_template_string("{{ meshes_embed(include_script=False) }}")
        assert "<script" not in second and "data-session-body" not in second
        assert bridge.content_security_policy().count(f"frame-src {embed_origin}") == 1
        with pytest.raises(ValueError, match="launch_page"):
            render_template_string("{{ meshes_embed(launch_page='nope') }}")


def test_jinja_global_follows_prefixes_and_the_script_root(meshes: Servers) -> None:
    bridge = MeshesBridge(url_prefix="/api/embed", static_url_path="assets/mb/")
    app, _ = make_app(meshes, bridge)
    with app.test_request_context("/", base_url="http://localhost/portal"):
        out = render_template_string("{{ meshes_embed() }}")
    assert 'data-session-url="/portal/api/embed/session"' in out
    assert 'data-refresh-url="/portal/api/embed/session/{session_id}/refresh"' in out
    assert 'src="/portal/assets/mb/loader.js"' in out
    client = app.test_client()
    assert client.get("/assets/mb/loader.js").status_code == 200
    assert client.get("/static/meshes-bridge/loader.js").status_code == 404


# -- the asset tree ----------------------------------------------------------------------


@pytest.fixture
def static_client(meshes: Servers) -> Iterator[Any]:
    app, _ = make_app(meshes)
    yield app.test_client()


@pytest.mark.parametrize(
    ("rel", "content_type", "cache_control"),
    [
        ("loader.js", "text/javascript; charset=utf-8", "no-cache"),
        ("micropython/micropython.wasm", "application/wasm", IMMUTABLE),
        ("micropython/micropython.mjs", "text/javascript; charset=utf-8", IMMUTABLE),
        ("pyodide/pyodide.mjs", "text/javascript; charset=utf-8", IMMUTABLE),
        ("pyscript/core.js", "text/javascript; charset=utf-8", IMMUTABLE),
        ("python/micropython.bin", "application/octet-stream", IMMUTABLE),
    ],
)
def test_assets_are_served_with_their_mime_types(
    static_client: Any, rel: str, content_type: str, cache_control: str
) -> None:
    rel = rel if rel == "loader.js" else assets.tree_path(rel)
    asset = asset_tree().get(rel)
    assert asset is not None
    reply = static_client.get(f"/static/meshes-bridge/{rel}")
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == content_type
    assert reply.data == asset.read()
    assert int(reply.headers["Content-Length"]) == len(reply.data)
    assert reply.headers["ETag"] == asset.etag
    assert reply.headers["Cache-Control"] == cache_control
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Encoding" not in reply.headers


def test_asset_revalidation_answers_304(static_client: Any) -> None:
    rel = assets.tree_path("micropython/micropython.wasm")
    asset = asset_tree().get(rel)
    assert asset is not None
    url = f"/static/meshes-bridge/{rel}"
    for header in (asset.etag, f'"other", W/{asset.etag}', "*"):
        reply = static_client.get(url, headers={"If-None-Match": header})
        assert reply.status_code == 304, header
        assert reply.data == b""
        assert reply.headers["ETag"] == asset.etag
        assert reply.headers["Cache-Control"] == IMMUTABLE
    assert static_client.get(url, headers={"If-None-Match": '"stale"'}).status_code == 200
    head = static_client.head(url)
    assert head.status_code == 200 and head.data == b""
    assert head.headers["Content-Type"] == "application/wasm"


@pytest.mark.parametrize(
    "path",
    [
        "../server/service.py",
        "meshes_bridge/server/service.py",
        "python/meshes_bridge/server/service.py",
        "python/meshes_bridge/server/settings.py",
        "python/meshes_bridge/../meshes_bridge/core/session.py",
        "python/meshes_bridge/core/session.py",
        "micropython/micropython.wasm",
        "%2e%2e/%2e%2e/pyproject.toml",
        "..%2fserver%2fservice.py",
        "/etc/passwd",
        "",
        "missing.js",
    ],
)
def test_anything_outside_the_tree_is_404(static_client: Any, path: str) -> None:
    assert static_client.get(f"/static/meshes-bridge/{path}").status_code == 404


def test_the_tree_wins_over_the_apps_own_static_folder(meshes: Servers, tmp_path: Path) -> None:
    (tmp_path / "meshes-bridge").mkdir()
    (tmp_path / "meshes-bridge" / "loader.js").write_text("stale copy")
    (tmp_path / "site.css").write_text("body {}")
    app = Flask(__name__, static_folder=str(tmp_path), static_url_path="/static")
    app.config.update(meshes_config(meshes))
    MeshesBridge(app)
    client = app.test_client()
    loader = client.get("/static/meshes-bridge/loader.js")
    assert loader.data == asset_tree().get("loader.js").read()  # type: ignore[union-attr]
    assert client.get("/static/site.css").data == b"body {}"


def test_assets_are_get_only(static_client: Any) -> None:
    assert static_client.post("/static/meshes-bridge/loader.js").status_code == 405


# -- the example app under its real server ------------------------------------------------


def form_token(page: str) -> str:
    """The hidden CSRF field of the example's forms (Flask-WTF's `csrf_token`)."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "no csrf_token field"
    return found.group(1)


def test_example_app_starts_with_the_meshes_env(meshes: Servers) -> None:
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    env = {**meshes.meshes_env(), "MESHES_ALLOWED_ORIGINS": origin, "MESHES_BRIDGE_REDIS_URL": ""}
    argv = [sys.executable, str(ROOT / "examples" / "flask" / "serve.py"), "--port", "{port}"]
    with AppProcess(argv, env=env, port=port) as app, httpx.Client(base_url=app.url) as http:
        form = http.get("/login")
        assert form.status_code == 200
        assert 'name="username"' in form.text and 'name="password"' in form.text
        assert http.get("/").status_code == 302
        alice = {"username": "alice", "password": "demo-password"}
        assert http.post("/login", data=alice).status_code == 403  # no CSRF token
        token = {"csrf_token": form_token(form.text)}
        wrong = {"username": "bob", "password": "x", **token}
        assert http.post("/login", data=wrong).status_code == 401
        login = http.post("/login", data={**alice, **token})
        assert login.status_code in (302, 303)
        page = http.get("/?runtime=pyodide")
        assert page.status_code == 200
        assert f"frame-src {meshes.embed_url}" in page.headers["Content-Security-Policy"]
        assert 'data-session-body="{&quot;launch_page&quot;: &quot;dashboard&quot;}"' in page.text
        assert 'data-runtime="pyodide"' in page.text and "Alice" in page.text
        minted = http.post(
            "/meshes/session",
            content=b'{"launch_page": "dashboard"}',
            headers={"Content-Type": "application/json", "Origin": origin},
        )
        assert minted.status_code == 200
        session = minted.json()
        loader = http.get("/static/meshes-bridge/loader.js")
        assert loader.headers["Content-Type"] == "text/javascript; charset=utf-8"
        logout = http.post("/logout", data={"csrf_token": form_token(page.text)})
        assert logout.status_code in (302, 303)
        assert meshes.api.revoked_ids() == [session["session_id"]]
        output = app.output()
    assert "GET /login" in output  # logs at INFO on stderr
    for secret in (env["MESHES_SECRET_KEY"], session["access_token"], session["launch_url"]):
        assert secret not in output


# -- the same answers as Django and FastAPI on the endpoints' paths -----------------------


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("path", ["/meshes/session", "/meshes/session/sess_x/refresh"])
def test_other_methods_are_a_json_405(meshes: Servers, method: str, path: str) -> None:
    app, _bridge = make_app(meshes)
    answer = app.test_client().open(path, method=method, headers=JSON)
    assert (answer.status_code, answer.get_json()) == (405, {"error": "method-not-allowed"})
    assert answer.headers["Allow"] == "POST"
    assert answer.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "path", ["/meshes/session//refresh", "/meshes/session/a/b/refresh", "/meshes/session/x"]
)
def test_unknown_paths_below_the_endpoints_are_a_json_404(meshes: Servers, path: str) -> None:
    app, _bridge = make_app(meshes)
    answer = app.test_client().post(path, data=b"{}", headers=JSON)
    assert (answer.status_code, answer.get_json()) == (404, {"error": "not-found"})
    assert answer.headers["Cache-Control"] == "no-store"


# -- the shared vocabulary -----------------------------------------------------------------


def test_every_adapter_name_and_its_alias_are_accepted(meshes: Servers) -> None:
    app, _ = make_app(meshes, MeshesBridge(prefix="api/embed", static_path="/assets/mb"))
    client = app.test_client()
    client.get("/test-login/alice")
    assert client.post("/api/embed/session", data=b"{}", headers=JSON).status_code == 200
    assert client.get("/assets/mb/loader.js").status_code == 200
    with pytest.raises(TypeError, match="url_prefix"):
        MeshesBridge(url_prefix="/a", prefix="/b")


def test_policy_may_be_a_callback_and_user_key_a_function(meshes: Servers) -> None:
    seen: list[Any] = []

    def policy(user: Any, request: Any) -> MintPolicy:
        seen.append(user)
        return MintPolicy(role="admin")

    bridge = MeshesBridge(policy=policy, user_key=lambda user: f"user-{user.get_id()}")
    app, _ = make_app(meshes, bridge)
    client = app.test_client()
    client.get("/test-login/alice")
    assert mint(client).status_code == 200
    created = meshes.api.calls("create")[-1].body
    assert (created["role"], created["external_user_id"]) == ("admin", "user-alice")
    assert seen == ["user-alice"]  # as with @user_loader: the policy is given the key


def test_a_failing_signal_receiver_neither_fails_the_mint_nor_the_logout(
    meshes: Servers, caplog: pytest.LogCaptureFixture
) -> None:
    app, bridge = make_app(meshes)

    def broken(sender: Flask, **extra: Any) -> None:
        raise RuntimeError("a host's receiver")

    client = app.test_client()
    client.get("/test-login/alice")
    with session_minted.connected_to(broken, sender=app):
        session_id = mint(client).json["session_id"]
    with sessions_revoked.connected_to(broken, sender=app):
        assert client.post("/test-logout").status_code == 200
    assert meshes.api.revoked_ids() == [session_id]
    assert "minted hook failed (RuntimeError)" in caplog.text
    assert "revoked hook failed (RuntimeError)" in caplog.text
