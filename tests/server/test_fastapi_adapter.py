"""The FastAPI adapter (`meshes_bridge.fastapi`) and its example app.

What the service decides (every status code) is tested with the service; here: that the
adapter hands it the right request (user, Origin, Content-Type, body) off the event loop
and answers its reply as is, the Jinja global, the asset mount, logout, and that
`examples/fastapi/serve.py` starts under uvicorn. Meshes is the fake management API over
real HTTP (`meshes_bridge.testing.doubles`).
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jinja2
import pytest
import redis
from fastapi import Depends, FastAPI, Request
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from fastapi.testclient import TestClient

from meshes_bridge import assets
from meshes_bridge.fastapi import (
    AssetApp,
    ConfigurationError,
    MeshesBridge,
    MeshesSettings,
    default_user_key,
)
from meshes_bridge.server.client import MeshesClient
from meshes_bridge.server.render import embed_html
from meshes_bridge.server.settings import ENVIRONMENT
from meshes_bridge.server.static_files import asset_tree
from meshes_bridge.testing.doubles import Servers, start_servers
from meshes_bridge.testing.processes import AppProcess, RedisServer, free_port

ROOT = Path(__file__).resolve().parents[2]
SERVE_PY = ROOT / "examples" / "fastapi" / "serve.py"
ORIGIN = "http://testserver"  # TestClient's origin
JSON = {"Origin": ORIGIN, "Content-Type": "application/json"}
OFFLINE = MeshesSettings(
    org_id="0b7f4a2e-9c31-4d8e-b5a6-3e1f2c9d7a40",
    access_key="mak_offline",
    secret_key="msk_offline_secret_value",
    workspace_id="11111111-2222-4333-8444-555555555555",
    api_url="http://127.0.0.1:9",  # nothing listens: these tests never reach Meshes
    embed_origin="https://embed.example.com",
    allowed_origins=(ORIGIN,),
)


@dataclass(frozen=True)
class User:
    id: str


def header_user(request: Request) -> User | None:
    """The test apps' login: the X-User header."""
    name = request.headers.get("x-user")
    return User(name) if name else None


def make_app(bridge: MeshesBridge) -> FastAPI:
    app = FastAPI()
    app.include_router(bridge.router)
    bridge.mount_static(app)
    return app


def client_for(bridge: MeshesBridge, user: str | None = "alice") -> TestClient:
    headers = {"X-User": user} if user else {}
    return TestClient(make_app(bridge), headers=headers)


@pytest.fixture(scope="module")
def doubles() -> Iterator[Servers]:
    with start_servers() as servers:
        yield servers


@pytest.fixture
def fake(doubles: Servers) -> Iterator[Servers]:
    doubles.reset()
    yield doubles
    doubles.reset()


@pytest.fixture
def live_settings(fake: Servers) -> MeshesSettings:
    return MeshesSettings.from_env({**fake.meshes_env(), "MESHES_ALLOWED_ORIGINS": ORIGIN})


# -- construction ----------------------------------------------------------------------


def test_construction_without_settings_raises_naming_the_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for variable in ENVIRONMENT.values():
        monkeypatch.delenv(variable, raising=False)
    with pytest.raises(ConfigurationError) as caught:
        MeshesBridge(get_user=header_user)
    text = str(caught.value)
    for variable in (
        "MESHES_ORG_ID",
        "MESHES_ACCESS_KEY",
        "MESHES_SECRET_KEY",
        "MESHES_WORKSPACE_ID",
        "MESHES_ALLOWED_ORIGINS",
    ):
        assert variable in text
    # Where a FastAPI app sets each: the environment, or the settings it passes.
    assert (
        "MESHES_ORG_ID is not set (set the MESHES_ORG_ID environment variable, or "
        "MeshesBridge(MeshesSettings.from_env(org_id=...)))"
    ) in text


def test_construction_error_never_shows_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ENVIRONMENT.values():
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("MESHES_SECRET_KEY", "msk_do_not_print_me")
    monkeypatch.setenv("MESHES_ORG_ID", "not-a-uuid")
    with pytest.raises(ConfigurationError) as caught:
        MeshesBridge(get_user=header_user)
    assert "MESHES_ORG_ID" in str(caught.value)
    assert "msk_do_not_print_me" not in str(caught.value)
    assert "msk_do_not_print_me" not in repr(caught.value.problems)


def test_settings_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, doubles: Servers
) -> None:
    for name, value in {**doubles.meshes_env(), "MESHES_ALLOWED_ORIGINS": ORIGIN}.items():
        monkeypatch.setenv(name, value)
    bridge = MeshesBridge(get_user=header_user)
    assert bridge.settings.allowed_origins == (ORIGIN,)
    assert bridge.settings.api_url == doubles.api_url


def test_bad_arguments_are_refused_at_construction() -> None:
    with pytest.raises(TypeError):
        MeshesBridge(OFFLINE, get_user=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="prefix"):
        MeshesBridge(OFFLINE, get_user=header_user, prefix="/meshes?x=1")
    with pytest.raises(TypeError, match="prefix"):
        MeshesBridge(OFFLINE, get_user=header_user, prefix="/a", url_prefix="/b")
    with pytest.raises(ValueError, match="static_path"):
        MeshesBridge(OFFLINE, get_user=header_user, static_path="/")


def test_default_user_key() -> None:
    assert default_user_key(User("42")) == "42"

    @dataclass
    class Numbered:
        id: int

    assert default_user_key(Numbered(7)) == "7"
    assert default_user_key("carol") == "carol"


# -- the endpoints: translation only ------------------------------------------------------


def test_anonymous_is_401_on_both_endpoints() -> None:
    client = client_for(MeshesBridge(OFFLINE, get_user=header_user), user=None)
    for path in ("/meshes/session", "/meshes/session/sess_x/refresh"):
        response = client.post(path, content=b"{}", headers=JSON)
        assert response.status_code == 401
        assert response.json() == {"error": "login-required"}
        assert response.headers["content-type"] == "application/json"
        assert response.headers["cache-control"] == "no-store"


def test_origin_and_content_type_reach_the_service() -> None:
    client = client_for(MeshesBridge(OFFLINE, get_user=header_user))
    hostile = client.post(
        "/meshes/session",
        content=b"{}",
        headers={"Origin": "https://evil.example", "Content-Type": "application/json"},
    )
    assert (hostile.status_code, hostile.json()) == (
        403,
        {"error": "origin-not-allowed", "origin": "https://evil.example"},
    )
    form = client.post(
        "/meshes/session", data={"launch_page": "dashboard"}, headers={"Origin": ORIGIN}
    )
    assert form.status_code == 415
    assert form.headers["cache-control"] == "no-store"


def test_the_body_reaches_the_service_and_is_bounded() -> None:
    client = client_for(MeshesBridge(OFFLINE, get_user=header_user))
    refused = client.post("/meshes/session", content=b'{"role": "owner"}', headers=JSON)
    assert refused.status_code == 400
    assert refused.json() == {"error": "field-not-allowed", "field": "role"}
    huge = client.post("/meshes/session", content=b" " * 5_000_000, headers=JSON)
    assert huge.status_code == 400
    assert huge.json() == {"error": "bad-value", "field": "body"}


def test_async_get_user_with_its_own_dependencies() -> None:
    def session_name(request: Request) -> str | None:
        return request.headers.get("x-user")

    async def get_user(name: str | None = Depends(session_name)) -> User | None:
        return User(name) if name else None

    bridge = MeshesBridge(OFFLINE, get_user=get_user, prefix="/api/meshes/")
    client = client_for(bridge, user="bob")
    assert client.post("/meshes/session", content=b"{}", headers=JSON).status_code == 404
    response = client.post("/api/meshes/session/sess_x/refresh", content=b"{}", headers=JSON)
    # Logged in (not 401), the session is not bob's: the service's 404.
    assert (response.status_code, response.json()) == (404, {"error": "not-found"})


# -- through the fake Meshes over HTTP -----------------------------------------------------


class RecordingClient(MeshesClient):
    """The real client, noting whether each call ran on an event loop's thread."""

    on_event_loop: list[bool]

    def create_session(self, *, workspace_id: str, **fields: Any) -> Any:
        try:
            asyncio.get_running_loop()
            self.on_event_loop.append(True)
        except RuntimeError:
            self.on_event_loop.append(False)
        return super().create_session(workspace_id=workspace_id, **fields)


def test_mint_and_refresh_through_the_fake(fake: Servers, live_settings: MeshesSettings) -> None:
    meshes_client = RecordingClient.from_settings(live_settings)
    meshes_client.on_event_loop = []
    bridge = MeshesBridge(live_settings, get_user=header_user, client=meshes_client)
    client = client_for(bridge)

    minted = client.post("/meshes/session", json={"launch_page": "connections"}, headers=JSON)
    assert minted.status_code == 200
    session = minted.json()
    assert set(session) == {"session_id", "access_token", "expires_at", "launch_url"}
    assert minted.headers["cache-control"] == "no-store"
    assert session["launch_url"].startswith(fake.embed_url + "/")
    (create,) = fake.api.calls("create")
    assert create.body["external_user_id"] == "alice"
    assert create.body["allowed_origins"] == [ORIGIN]
    assert create.body["launch_page"] == "connections"
    assert create.body["workspace_id"] == live_settings.workspace_id
    assert meshes_client.on_event_loop == [False]  # the threadpool, not the loop

    sid = session["session_id"]
    refreshed = client.post(f"/meshes/session/{sid}/refresh", content=b"", headers=JSON)
    assert refreshed.status_code == 200
    assert set(refreshed.json()) == {"access_token", "expires_at"}
    assert refreshed.json()["access_token"] != session["access_token"]
    assert refreshed.headers["cache-control"] == "no-store"
    assert [c.session_id for c in fake.api.calls("refresh")] == [sid]

    other = client_for(bridge, user="bob").post(f"/meshes/session/{sid}/refresh", headers=JSON)
    assert (other.status_code, other.json()) == (404, {"error": "not-found"})
    assert len(fake.api.calls("refresh")) == 1


def test_custom_user_key_and_policy(fake: Servers, live_settings: MeshesSettings) -> None:
    from meshes_bridge.fastapi import MintPolicy

    seen: list[Any] = []

    def policy(user: User, request: Request) -> MintPolicy:
        seen.append((user, request.url.path))
        return MintPolicy(role="admin", launch_pages=("dashboard",))

    bridge = MeshesBridge(
        live_settings, get_user=header_user, user_key=lambda u: f"user-{u.id}", policy=policy
    )
    client = client_for(bridge)
    assert client.post("/meshes/session", json={"launch_page": "rules"}, headers=JSON).json() == {
        "error": "bad-value",
        "field": "launch_page",
    }
    assert client.post("/meshes/session", json={}, headers=JSON).status_code == 200
    (create,) = fake.api.calls("create")
    assert create.body["external_user_id"] == "user-alice"
    assert create.body["role"] == "admin"
    assert seen[-1] == (User("alice"), "/meshes/session")


def test_revoke_user_revokes_at_the_fake(fake: Servers, live_settings: MeshesSettings) -> None:
    bridge = MeshesBridge(live_settings, get_user=header_user)
    alice, bob = client_for(bridge, "alice"), client_for(bridge, "bob")
    alice_ids = [alice.post("/meshes/session", headers=JSON).json()["session_id"] for _ in "ab"]
    bob_id = bob.post("/meshes/session", headers=JSON).json()["session_id"]

    assert bridge.revoke_user("alice") == 2
    assert sorted(fake.api.revoked_ids()) == sorted(alice_ids)
    gone = alice.post(f"/meshes/session/{alice_ids[0]}/refresh", headers=JSON)
    assert (gone.status_code, gone.json()) == (404, {"error": "not-found"})
    assert bob.post(f"/meshes/session/{bob_id}/refresh", headers=JSON).status_code == 200
    assert bridge.revoke_user("alice") == 0  # nothing left: no call to Meshes

    assert asyncio.run(bridge.arevoke_user("bob")) == 1
    assert fake.api.revoked_ids()[-1] == bob_id


def test_hooks_report_mint_refresh_and_revoke(fake: Servers, live_settings: MeshesSettings) -> None:
    bridge = MeshesBridge(live_settings, get_user=header_user)
    events: list[tuple[str, dict[str, Any]]] = []
    for event in ("minted", "refreshed", "revoked"):
        bridge.on(event)(lambda event=event, **details: events.append((event, details)))
    alice = client_for(bridge, "alice")
    session_id = alice.post("/meshes/session", headers=JSON).json()["session_id"]
    assert alice.post(f"/meshes/session/{session_id}/refresh", headers=JSON).status_code == 200
    assert bridge.revoke_user("alice") == 1
    assert events == [
        ("minted", {"user_key": "alice", "session_id": session_id}),
        ("refreshed", {"user_key": "alice", "session_id": session_id}),
        ("revoked", {"user_key": "alice", "count": 1}),
    ]
    with pytest.raises(ValueError, match="minted"):
        bridge.on("logged-in")


def test_the_flask_names_of_the_paths_are_accepted() -> None:
    bridge = MeshesBridge(
        OFFLINE, get_user=header_user, url_prefix="/api/embed/", static_url_path="assets/mb"
    )
    assert (bridge.url_prefix, bridge.static_url_path) == ("/api/embed", "/assets/mb")
    assert (bridge.prefix, bridge.static_path) == ("/api/embed", "/assets/mb")
    assert bridge.refresh_path == "/api/embed/session/{session_id}/refresh"


# -- the Jinja global and the CSP ---------------------------------------------------------


def templates_with(source: str) -> Jinja2Templates:
    env = jinja2.Environment(loader=jinja2.DictLoader({"page.html": source}), autoescape=True)
    return Jinja2Templates(env=env)


def render_page(
    bridge: MeshesBridge, source: str, root_path: str = "", context: dict[str, Any] | None = None
) -> str:
    templates = templates_with(source)
    bridge.install_templates(templates)
    app = make_app(bridge)

    @app.get("/page")
    def page(request: Request) -> Any:
        return templates.TemplateResponse(request, "page.html", dict(context or {}))

    response = TestClient(app, root_path=root_path).get(root_path + "/page")
    assert response.status_code == 200
    return response.text


def test_jinja_global_renders_the_urls_and_options() -> None:
    bridge = MeshesBridge(OFFLINE, get_user=header_user)
    html = render_page(
        bridge,
        '{{ meshes_embed(launch_page="dashboard", runtime="pyodide", min_height=300, '
        'max_height=900, element_id="main-embed", hooks_url="/static/hooks.py") }}',
    )
    assert 'data-session-url="/meshes/session"' in html
    assert 'data-refresh-url="/meshes/session/{session_id}/refresh"' in html
    assert 'data-session-body="{&quot;launch_page&quot;: &quot;dashboard&quot;}"' in html
    assert 'data-embed-origin="https://embed.example.com"' in html
    assert 'data-min-height="300"' in html and 'data-max-height="900"' in html
    assert 'id="main-embed"' in html
    assert '<script type="module" src="/static/meshes-bridge/loader.js"' in html
    assert 'data-runtime="pyodide"' in html and 'data-hooks="/static/hooks.py"' in html
    assert 'data-state="booting"' in html and "<p data-meshes-fallback>Loading Meshes" in html
    # The very HTML of the shared renderer: the global only supplies the URLs.
    assert html == embed_html(
        session_url="/meshes/session",
        refresh_url="/meshes/session/{session_id}/refresh",
        loader_url="/static/meshes-bridge/loader.js",
        embed_origin="https://embed.example.com",
        launch_page="dashboard",
        runtime="pyodide",
        min_height=300,
        max_height=900,
        element_id="main-embed",
        hooks_url="/static/hooks.py",
    )


def test_jinja_global_escapes_once_and_follows_prefix_and_root_path() -> None:
    bridge = MeshesBridge(
        OFFLINE, get_user=header_user, prefix="/api/embed", static_path="/assets/mb/"
    )
    html = render_page(
        bridge,
        "{{ meshes_embed(element_id=hostile, include_script=False) }}",
        root_path="/app",
        context={"hostile": 'x"><script>alert(1)</script>'},
    )
    assert 'id="x&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in html
    assert "&amp;" not in html  # Markup: Jinja's autoescape does not escape it again
    assert "<script" not in html
    assert 'data-session-url="/app/api/embed/session"' in html
    assert 'data-refresh-url="/app/api/embed/session/{session_id}/refresh"' in html
    assert "data-session-body" not in html  # no launch page: Meshes' default
    assert bridge.embed().count("/assets/mb/loader.js") == 1  # no request: no root path


def test_jinja_global_refuses_unknown_values() -> None:
    bridge = MeshesBridge(OFFLINE, get_user=header_user)
    templates = templates_with("")
    bridge.install_templates(templates)
    meshes_embed = templates.env.from_string('{{ meshes_embed(launch_page="admin") }}')
    with pytest.raises(ValueError, match="launch_page"):
        meshes_embed.render()
    with pytest.raises(ValueError, match="runtime"):
        templates.env.from_string('{{ meshes_embed(runtime="cpython") }}').render()


def test_content_security_policy_frames_the_embed_origin() -> None:
    bridge = MeshesBridge(OFFLINE, get_user=header_user)
    csp = bridge.content_security_policy()
    assert "frame-src https://embed.example.com" in csp
    assert "default-src 'self'" in csp
    assert "img-src data:" in bridge.content_security_policy({"img-src": "data:"})


# -- the asset tree -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def static_client() -> TestClient:
    return client_for(MeshesBridge(OFFLINE, get_user=header_user), user=None)


@pytest.mark.parametrize(
    ("rel", "content_type"),
    [
        ("loader.js", "text/javascript; charset=utf-8"),
        ("micropython/micropython.wasm", "application/wasm"),
        ("micropython/micropython.mjs", "text/javascript; charset=utf-8"),
        ("pyodide/pyodide.asm.wasm", "application/wasm"),
        ("python/pyodide.bin", "application/octet-stream"),
    ],
)
def test_static_files_and_their_content_types(
    static_client: TestClient, rel: str, content_type: str
) -> None:
    rel = rel if rel == "loader.js" else assets.tree_path(rel)
    response = static_client.get("/static/meshes-bridge/" + rel)
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.content == asset_tree().get(rel).read()  # type: ignore[union-attr]
    assert "content-encoding" not in response.headers
    # loader.js names every other file, whose folder is named after its content.
    policy = "no-cache" if rel == "loader.js" else "public, max-age=31536000, immutable"
    assert response.headers["cache-control"] == policy


def test_static_cache_control_can_be_overridden() -> None:
    client = TestClient(AssetApp(cache_control="no-store"))
    for rel in ("/loader.js", "/" + assets.tree_path("pyscript/core.js")):
        assert client.get(rel).headers["cache-control"] == "no-store"


@pytest.mark.parametrize("rel", ["loader.js", "micropython/micropython.wasm"])
def test_static_etag_and_304(static_client: TestClient, rel: str) -> None:
    rel = rel if rel == "loader.js" else assets.tree_path(rel)
    url = "/static/meshes-bridge/" + rel
    first = static_client.get(url)
    etag = first.headers["etag"]
    assert etag == asset_tree().get(rel).etag  # type: ignore[union-attr]
    again = static_client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    weak = static_client.get(url, headers={"If-None-Match": f'"other", W/{etag}'})
    assert weak.status_code == 304
    assert static_client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200


def test_static_head_and_methods(static_client: TestClient) -> None:
    head = static_client.head("/static/meshes-bridge/loader.js")
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(asset_tree().get("loader.js").read())  # type: ignore[union-attr]
    post = static_client.post("/static/meshes-bridge/loader.js")
    assert post.status_code == 405 and post.headers["allow"] == "GET, HEAD"


async def _asgi_status(app: Any, path: str) -> int:
    """One GET straight into the ASGI app: a raw path no HTTP client would normalise."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 50000),
    }
    await app(scope, receive, send)
    return int(sent[0]["status"])


@pytest.mark.parametrize(
    "path",
    [
        "/static/meshes-bridge/../meshes-bridge/loader.js",
        "/static/meshes-bridge/../../pyproject.toml",
        "/static/meshes-bridge/python/../loader.js",
        "/static/meshes-bridge//loader.js",
        "/static/meshes-bridge/",
        "/static/meshes-bridge/python/",
        "/static/meshes-bridge/server/service.py",
        "/static/meshes-bridge/meshes_bridge/server/settings.py",
        "/static/meshes-bridge/python/meshes_bridge/server/service.py",
        "/static/meshes-bridge/python/meshes_bridge/fastapi/adapter.py",
        "/static/meshes-bridge/python/meshes_bridge/testing/processes.py",
        "/static/meshes-bridge/nope.js",
    ],
)
def test_static_404_outside_the_tree(path: str) -> None:
    app = make_app(MeshesBridge(OFFLINE, get_user=header_user))
    assert asyncio.run(_asgi_status(app, path)) == 404


def test_static_encoded_dot_segments_are_404(static_client: TestClient) -> None:
    assert static_client.get("/static/meshes-bridge/%2e%2e/loader.js").status_code == 404


def test_static_mount_wins_over_an_app_static_mount(tmp_path: Path) -> None:
    (tmp_path / "site.css").write_text("body {}")
    bridge = MeshesBridge(OFFLINE, get_user=header_user, static_path="/static/mb")
    app = FastAPI()
    app.mount("/static", StaticFiles(directory=tmp_path), name="static")  # mounted first
    bridge.mount_static(app)
    client = TestClient(app)
    assert client.get("/static/site.css").status_code == 200
    assert client.get("/static/mb/loader.js").headers["content-type"].startswith("text/javascript")


def test_static_app_mounts_by_hand() -> None:
    bridge = MeshesBridge(OFFLINE, get_user=header_user)
    assert isinstance(bridge.static_app, AssetApp)
    app = FastAPI()
    app.mount("/assets", bridge.static_app)
    assert TestClient(app).get("/assets/loader.js").status_code == 200


# -- the example app ----------------------------------------------------------------------


def example_env(servers: Servers, port: int, **extra: str) -> dict[str, str]:
    env = {**servers.meshes_env(), "MESHES_ALLOWED_ORIGINS": f"http://127.0.0.1:{port}"}
    return {**env, "EXAMPLE_SECRET_KEY": "test-only-cookie-key", **extra}


def start_example(servers: Servers, **extra: str) -> AppProcess:
    port = free_port()
    argv = [sys.executable, str(SERVE_PY), "--port", "{port}"]
    return AppProcess(argv, env=example_env(servers, port, **extra), port=port, cwd=ROOT)


def form_token(page: str) -> str:
    """The hidden CSRF field of the example's forms."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "no csrf_token field"
    return found.group(1)


def test_example_serves_login_page_and_flow(fake: Servers) -> None:
    with start_example(fake) as app, httpx.Client(base_url=app.url) as http:
        login = http.get("/login")
        assert login.status_code == 200
        assert 'name="username"' in login.text and 'name="password"' in login.text
        assert http.get("/").headers["location"] == "/login"
        alice = {"username": "alice", "password": "demo-password"}
        assert http.post("/login", data=alice).status_code == 403  # no CSRF token
        token = {"csrf_token": form_token(login.text)}
        wrong = http.post("/login", data={"username": "alice", "password": "nope", **token})
        assert wrong.status_code == 401 and 'name="username"' in wrong.text

        logged_in = http.post("/login", data={**alice, **token})
        assert (logged_in.status_code, logged_in.headers["location"]) == (303, "/")
        page = http.get("/", params={"runtime": "pyodide"})
        assert page.status_code == 200
        assert f"frame-src {fake.embed_url}" in page.headers["content-security-policy"]
        assert 'data-session-url="/meshes/session"' in page.text
        assert 'data-runtime="pyodide"' in page.text
        assert "&quot;launch_page&quot;: &quot;dashboard&quot;" in page.text
        assert http.get("/static/meshes-bridge/loader.js").status_code == 200

        minted = http.post(
            "/meshes/session",
            content=b"{}",
            headers={"Origin": app.url, "Content-Type": "application/json"},
        )
        assert minted.status_code == 200
        session = minted.json()
        assert fake.api.calls("create")[0].body["external_user_id"] == "alice"

        out = http.post("/logout", data={"csrf_token": form_token(page.text)})
        assert (out.status_code, out.headers["location"]) == (303, "/login")
        assert fake.api.revoked_ids() == [session["session_id"]]
        assert http.get("/").status_code == 303  # logged out
        output = app.output()
    for secret in (
        fake.meshes_env()["MESHES_SECRET_KEY"],
        session["access_token"],
        session["launch_url"],
    ):
        assert secret not in output


def test_example_with_redis_keeps_bindings_there(fake: Servers) -> None:
    with RedisServer() as redis_server:
        with start_example(fake, MESHES_BRIDGE_REDIS_URL=redis_server.url) as app:
            with httpx.Client(base_url=app.url) as http:
                token = form_token(http.get("/login").text)
                bob = {"username": "bob", "password": "demo-password", "csrf_token": token}
                assert http.post("/login", data=bob).status_code == 303
                minted = http.post(
                    "/meshes/session",
                    content=b"{}",
                    headers={"Origin": app.url, "Content-Type": "application/json"},
                )
                assert minted.status_code == 200
                sid = minted.json()["session_id"]
            output = app.output()
        db = redis.Redis.from_url(redis_server.url, decode_responses=True)
        try:
            assert db.get(f"meshes-bridge:session:{sid}") == "bob"
        finally:
            db.close()
    assert "in this process only" not in output


def test_example_refuses_to_start_without_configuration(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESHES_")}
    result = subprocess.run(
        [sys.executable, str(SERVE_PY), "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "MESHES_ORG_ID" in result.stderr and "MESHES_SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr


# -- the same answers as Flask and Django on the endpoints' paths -------------------------


def test_two_origin_headers_are_refused() -> None:
    client = client_for(MeshesBridge(OFFLINE, get_user=header_user))
    headers = [
        ("Origin", ORIGIN),
        ("Origin", "https://evil.example"),
        ("Content-Type", "application/json"),
        ("X-User", "alice"),
    ]
    answer = httpx.Client(transport=client._transport, base_url=str(client.base_url)).post(
        "/meshes/session", content=b"{}", headers=headers
    )
    assert (answer.status_code, answer.json()) == (403, {"error": "origin-not-allowed"})


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("path", ["/meshes/session", "/meshes/session/sess_x/refresh"])
def test_other_methods_are_a_json_405(method: str, path: str) -> None:
    client = client_for(MeshesBridge(OFFLINE, get_user=header_user))
    answer = client.request(method, path, headers=JSON)
    assert (answer.status_code, answer.json()) == (405, {"error": "method-not-allowed"})
    assert answer.headers["allow"] == "POST"
    assert answer.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    "path", ["/meshes/session//refresh", "/meshes/session/a/b/refresh", "/meshes/session/x"]
)
def test_unknown_paths_below_the_endpoints_are_a_json_404(path: str) -> None:
    client = client_for(MeshesBridge(OFFLINE, get_user=header_user))
    answer = client.post(path, content=b"{}", headers=JSON)
    assert (answer.status_code, answer.json()) == (404, {"error": "not-found"})
    assert answer.headers["cache-control"] == "no-store"
