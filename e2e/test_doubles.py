"""Fast checks of what the browser tests stand on, over real HTTP and no browser: the fake
Meshes' rules, and the host origin (the product's server half with the tests' wrapper)."""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from e2e.hostile import EvilEmbedHostile
from meshes_bridge.fastapi import MintPolicy
from meshes_bridge.testing.doubles import (
    DEFAULT_WORKSPACE_ID,
    LAUNCH_ERROR,
    FakeMeshes,
    ManualClock,
    SessionNotFound,
    Transcript,
    ValidationError,
    redact,
    start_servers,
)
from tests.host.origin import DEFAULT_USER
from tests.host.pages import page_html
from tests.host.servers import HostServers, start_host_servers

HOST = "http://127.0.0.1:8000"
EMBED = "http://127.0.0.1:8001"


# -- helpers ---------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: Mapping[str, str]
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


def http(
    method: str,
    url: str,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 5.0,
) -> Answer:
    data = None
    all_headers = dict(headers or {})
    if body is not None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        all_headers.setdefault("Content-Type", "application/json")
    request = urllib.request.Request(url, data=data, headers=all_headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Answer(response.status, response.headers, response.read().decode())
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.headers, error.read().decode())


def mint(
    servers: HostServers, body: Any = None, headers: Mapping[str, str] | None = None
) -> Answer:
    return http("POST", servers.url("/meshes/session"), {} if body is None else body, headers)


def refresh(
    servers: HostServers, session_id: str, headers: Mapping[str, str] | None = None
) -> Answer:
    return http("POST", servers.url(f"/meshes/session/{session_id}/refresh"), {}, headers)


def whoami(servers: HostServers, token: str | None) -> Answer:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return http("GET", servers.embed_url + "/stub/api/whoami", headers=headers)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=1_800_000_000.0)


@pytest.fixture
def fake(clock: ManualClock) -> FakeMeshes:
    return FakeMeshes(EMBED, now=clock)


@pytest.fixture
def static_dir(tmp_path: Path) -> Path:
    files = {
        "loader.js": "export {};",
        "pyscript/core.mjs": "export {};",
        "micropython/micropython.wasm": "\0asm",
        "python/meshes_bridge/__init__.py": "x = 1\n",
        "pyodide/pyodide-lock.json": "{}",
        "pyodide/python_stdlib.zip": "PK",
    }
    for name, text in files.items():
        path = tmp_path / "static" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (tmp_path / "secret.txt").write_text("outside the tree")
    return tmp_path / "static"


@pytest.fixture
def servers(static_dir: Path) -> Iterator[HostServers]:
    with start_host_servers(static_dir, hostile_class=EvilEmbedHostile) as running:
        yield running


# -- FakeMeshes: mint ----------------------------------------------------------------------


def test_mint_defaults(fake: FakeMeshes, clock: ManualClock) -> None:
    answer = fake.create_session({}, allowed_origin=HOST)
    assert re.fullmatch(r"sess_[0-9a-f-]{36}", answer["session_id"])
    assert answer["access_token"].startswith("mat_") and len(answer["access_token"]) > 40
    assert answer["workspace_id"] == DEFAULT_WORKSPACE_ID
    assert answer["role"] == "member"
    assert answer["session_type"] == "workspace"
    assert answer["expires_at"] == "2027-01-15T08:30:00.000Z"  # now + 1800 s
    assert re.fullmatch(EMBED + r"/workspace/dashboard\?launch=mlt_[\w-]+", answer["launch_url"])
    session = fake.session(answer["session_id"])
    assert session.host_origin == HOST and session.allowed_origins == (HOST,)
    assert session.expires_at == clock() + 1800


def test_mint_accepts_the_documented_fields(fake: FakeMeshes) -> None:
    answer = fake.create_session(
        {
            "workspace_id": "11111111-2222-4333-8444-555555555555",
            "session_type": "resource",
            "resource": "connection",
            "resource_id": "conn_1",
            "role": "owner",
            "external_user_id": "user-42",
            "ttl_seconds": 300,
            "launch_ttl_seconds": 60,
            "launch_page": "connections",
            "allowed_origins": ["http://127.0.0.1:8000", "https://app.example.com:443"],
            "scopes": ["events.payload:read"],
        },
        allowed_origin=HOST,
    )
    assert answer["role"] == "owner"
    assert "/workspace/connections?launch=" in answer["launch_url"]
    session = fake.session(answer["session_id"])
    assert session.allowed_origins == (HOST, "https://app.example.com")
    assert session.token_lifetime == 300


@pytest.mark.parametrize("path", ["/workspace/rules", "/workspace/events"])
def test_mint_accepts_the_older_launch_path(fake: FakeMeshes, path: str) -> None:
    answer = fake.create_session({"launch_path": path}, allowed_origin=HOST)
    assert answer["launch_url"].startswith(EMBED + path + "?launch=")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ttl_seconds": 299}, "ttl_seconds"),
        ({"ttl_seconds": 3601}, "ttl_seconds"),
        ({"ttl_seconds": "1800"}, "ttl_seconds"),
        ({"ttl_seconds": True}, "ttl_seconds"),
        ({"launch_ttl_seconds": 14}, "launch_ttl_seconds"),
        ({"launch_ttl_seconds": 61}, "launch_ttl_seconds"),
        ({"role": "guest"}, "role"),
        ({"session_type": "team"}, "session_type"),
        ({"launch_page": "home"}, "launch_page"),
        ({"launch_path": "/dashboard"}, "launch_path"),
        ({"launch_path": "/workspace/nowhere"}, "launch_path"),
        ({"launch_path": "/workspace/rules", "launch_page": "events"}, "launch_path"),
        ({"workspace_id": "not-a-uuid"}, "workspace_id"),
        ({"allowed_origins": "http://127.0.0.1:8000"}, "allowed_origins"),
        ({"allowed_origins": ["http://127.0.0.1:8000/app"]}, "allowed_origins"),
        ({"allowed_origins": ["javascript:alert(1)"]}, "allowed_origins"),
        ({"allowed_origins": [f"https://h{n}.example" for n in range(11)]}, "allowed_origins"),
        ({"scopes": ["admin"]}, "scopes"),
        ({"session_type": "resource", "resource": "connection"}, "resource"),
        ({"resource": "connection", "resource_id": "c1"}, "resource"),
        ({"external_user_id": ""}, "external_user_id"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_mint_validation(fake: FakeMeshes, body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        fake.create_session(body, allowed_origin=HOST)
    assert caught.value.field == field
    assert caught.value.status == 400
    assert fake.sessions() == []


def test_mint_body_must_be_an_object(fake: FakeMeshes) -> None:
    with pytest.raises(ValidationError):
        fake.create_session([], allowed_origin=HOST)  # type: ignore[arg-type]


def test_tokens_are_unique_across_threads(fake: FakeMeshes) -> None:
    answers: list[dict[str, Any]] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(25):
            answer = fake.create_session({}, allowed_origin=HOST)
            with lock:
                answers.append(answer)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({a["access_token"] for a in answers}) == 200
    assert len({a["launch_url"] for a in answers}) == 200
    assert len({a["session_id"] for a in answers}) == 200


# -- FakeMeshes: launch, access, refresh, revoke -------------------------------------------


def _launch_token(answer: dict[str, Any]) -> str:
    return answer["launch_url"].split("launch=", 1)[1]


def test_launch_token_is_single_use(fake: FakeMeshes) -> None:
    answer = fake.create_session({}, allowed_origin=HOST)
    token = _launch_token(answer)
    first = fake.consume_launch(token)
    assert not isinstance(first, str) and first.session_id == answer["session_id"]
    assert fake.consume_launch(token) == "used"
    assert fake.consume_launch("mlt_nope") == "unknown"
    assert fake.consume_launch(None) == "missing"


def test_launch_token_expires(fake: FakeMeshes, clock: ManualClock) -> None:
    answer = fake.create_session({"launch_ttl_seconds": 15}, allowed_origin=HOST)
    clock.advance(15)
    assert fake.consume_launch(_launch_token(answer)) == "expired"
    fake.launch_ttl_override_seconds = 1
    answer = fake.create_session({}, allowed_origin=HOST)
    clock.advance(0.5)
    assert not isinstance(fake.consume_launch(_launch_token(answer)), str)


def test_access_token_expires_and_override(fake: FakeMeshes, clock: ManualClock) -> None:
    answer = fake.create_session({"ttl_seconds": 300}, allowed_origin=HOST)
    token = answer["access_token"]
    assert fake.check_access(token) is not None
    clock.advance(299.9)
    assert fake.check_access(token) is not None
    clock.advance(0.1)
    assert fake.check_access(token) is None
    assert fake.inspect_token(token).reason == "expired"

    fake.ttl_override_seconds = 5  # below the API's minimum: only for tests
    answer = fake.create_session({}, allowed_origin=HOST)
    assert fake.session(answer["session_id"]).token_lifetime == 5
    clock.advance(5)
    assert fake.check_access(answer["access_token"]) is None
    # An expired token's session can still be refreshed (the bridge recovers that way).
    renewed = fake.refresh(answer["session_id"])
    assert fake.check_access(renewed["access_token"]) is not None


def test_refresh_replaces_the_token(fake: FakeMeshes, clock: ManualClock) -> None:
    answer = fake.create_session({}, allowed_origin=HOST)
    old = answer["access_token"]
    clock.advance(100)
    renewed = fake.refresh(answer["session_id"])
    assert set(renewed) == {"session_id", "access_token", "expires_at"}  # no launch_url
    assert renewed["session_id"] == answer["session_id"]
    assert renewed["access_token"] != old
    assert renewed["expires_at"] == "2027-01-15T08:31:40.000Z"
    stale = fake.inspect_token(old)
    assert (stale.valid, stale.reason, stale.generation) == (False, "stale", 1)
    fresh = fake.inspect_token(renewed["access_token"])
    assert (fresh.valid, fresh.generation) == (True, 2)
    assert fake.check_access(old) is None


def test_revoke(fake: FakeMeshes) -> None:
    answer = fake.create_session({}, allowed_origin=HOST)
    fake.revoke(answer["session_id"])
    assert fake.check_access(answer["access_token"]) is None
    assert fake.inspect_token(answer["access_token"]).reason == "revoked"
    assert fake.session(answer["session_id"]).revoked
    with pytest.raises(SessionNotFound):
        fake.refresh(answer["session_id"])
    with pytest.raises(SessionNotFound):
        fake.revoke(answer["session_id"])
    with pytest.raises(SessionNotFound):
        fake.refresh("sess_unknown")
    assert fake.consume_launch(_launch_token(answer)) == "revoked"


def test_launch_base_url_knob(fake: FakeMeshes) -> None:
    fake.launch_base_url = "http://127.0.0.1:8002/evil-embed"
    answer = fake.create_session({}, allowed_origin=HOST)
    assert answer["launch_url"].startswith("http://127.0.0.1:8002/evil-embed/workspace/dashboard?")


# -- Transcript ------------------------------------------------------------------------------


def test_redact() -> None:
    text = (
        "token mat_AbC-123_x launch mlt_zz-9 url http://e/workspace/rules?launch=mlt_q&x=1 "
        "Authorization: Bearer eyJhbGciOi.x.y secret-value"
    )
    out = redact(text, ["secret-value"])
    assert "mat_AbC" not in out and "mlt_zz" not in out and "mlt_q" not in out
    assert "eyJhbGciOi" not in out and "secret-value" not in out
    assert "mat_…(redacted)" in out and "Bearer …(redacted)" in out
    assert "?launch=…(redacted)&x=1" in out


def test_transcript_redacts_text_and_fields() -> None:
    transcript = Transcript()
    transcript.add_secret("forged-token-value")
    entry = transcript.add(
        "host", "minted", "token mat_secret123", detail={"token": "forged-token-value"}, n=[1]
    )
    assert "mat_secret123" not in str(entry)
    assert "forged-token-value" not in json.dumps(dict(entry.fields))
    assert entry.fields["n"] == [1]


def test_transcript_wait_for() -> None:
    transcript = Transcript()
    transcript.add("host", "minted", "minted session sess_1")
    mark = transcript.mark()
    assert transcript.wait_for("minted", timeout=0.1).index == 0
    with pytest.raises(TimeoutError, match="no transcript entry matching .minted."):
        transcript.wait_for("minted", timeout=0.05, after=mark)

    # A producer on another thread, a moment after the waiter has started waiting.
    threading.Timer(
        0.05, transcript.add, ("host", "refreshed", "refreshed session sess_1 (token #2)")
    ).start()
    entry = transcript.wait_for(lambda e: e.event == "refreshed", timeout=5, after=mark)
    assert "token #2" in entry.text
    assert transcript.count("sess_1") == 2
    assert transcript.wait_new(after=0, timeout=0.01)[0].event == "minted"


# -- HTTP: servers ---------------------------------------------------------------------------


def test_distinct_loopback_origins_with_nodelay(servers: HostServers) -> None:
    urls = [servers.host_url, servers.embed_url, servers.hostile_url, servers.api_url]
    assert len(set(urls)) == 4
    for url in urls:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
    for url in urls[1:]:  # the fake Meshes' own sites (aiohttp) report it
        assert http("GET", url + "/_doubles/socket").json() == {"tcp_nodelay": True}


def test_fixed_ports_and_stop() -> None:
    probe = start_servers()
    ports = [int(u.rsplit(":", 1)[1]) for u in (probe.embed_url, probe.hostile_url, probe.api_url)]
    probe.stop()
    probe.stop()  # idempotent
    with start_servers(*ports) as again:
        assert again.embed_url.endswith(f":{ports[0]}")
        assert http("GET", again.embed_url + "/_doubles/socket").status == 200
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(again.embed_url + "/_doubles/socket", timeout=2)


# -- HTTP: the host origin -------------------------------------------------------------------


def test_the_host_mints_by_the_products_rules(servers: HostServers) -> None:
    refused = mint(servers, {"role": "owner"})
    assert (refused.status, refused.json()) == (
        400,
        {"error": "field-not-allowed", "field": "role"},
    )
    assert servers.fake.sessions() == []

    answer = mint(servers, {"launch_page": "rules"})
    assert answer.status == 200 and answer.headers["Cache-Control"] == "no-store"
    session = answer.json()
    assert sorted(session) == ["access_token", "expires_at", "launch_url", "session_id"]
    assert session["launch_url"].startswith(servers.embed_url + "/workspace/rules?launch=")
    minted = servers.fake.session(session["session_id"])
    assert (minted.external_user_id, minted.role) == (DEFAULT_USER, "member")
    assert minted.allowed_origins == (servers.host_url,)
    (create,) = servers.api.calls("create")  # through the real client, a JWT the fake checked
    assert create.status == 201 and create.claims is not None
    calls = servers.backend.calls("mint")
    assert [(c.method, c.path, c.status) for c in calls] == [("POST", "/meshes/session", 400)] + [
        ("POST", "/meshes/session", 200)
    ]
    assert json.loads(calls[1].body) == {"launch_page": "rules"}
    assert calls[1].headers["content-type"] == "application/json"

    servers.backend.policy = MintPolicy(role="admin")
    assert servers.fake.session(mint(servers).json()["session_id"]).role == "admin"
    servers.backend.user = None
    assert (mint(servers).status, len(servers.fake.sessions())) == (401, 2)


def test_refresh_is_the_owners_only(servers: HostServers) -> None:
    session = mint(servers).json()
    servers.backend.user = "mallory"
    stranger = refresh(servers, session["session_id"])
    assert (stranger.status, stranger.json()) == (404, {"error": "not-found"})
    servers.backend.user = DEFAULT_USER
    answer = refresh(servers, session["session_id"])
    assert answer.status == 200 and "launch_url" not in answer.json()
    renewed = answer.json()["access_token"]
    assert whoami(servers, session["access_token"]).json()["error"] == "stale_token"
    me = whoami(servers, renewed).json()
    assert (me["generation"], me["session_id"]) == (2, session["session_id"])
    assert [c.session_id for c in servers.backend.calls("refresh")] == [session["session_id"]] * 2
    servers.fake.revoke(session["session_id"])
    gone = refresh(servers, session["session_id"])
    assert (gone.status, gone.json()) == (404, {"error": "session-gone"})


def test_http_csrf(servers: HostServers) -> None:
    servers.backend.csrf = True
    assert mint(servers).status == 403
    assert mint(servers, headers={"Cookie": "csrftoken=abc"}).status == 403
    assert mint(servers, headers={"Cookie": "csrftoken=abc", "X-CSRFToken": "xyz"}).status == 403
    assert servers.api.calls() == []  # refused before the endpoint
    ok_headers = {"Cookie": "csrftoken=abc", "X-CSRFToken": "abc"}
    session = mint(servers, headers=ok_headers).json()
    assert refresh(servers, session["session_id"]).status == 403
    assert refresh(servers, session["session_id"], ok_headers).status == 200
    cookie = http("GET", servers.url("/set-csrf")).headers["Set-Cookie"]
    assert cookie.startswith("csrftoken=") and "Path=/" in cookie


def test_csrf_cookie_on_pages(servers: HostServers) -> None:
    servers.backend.add_page("/p", "<p>hi</p>")
    assert "Set-Cookie" not in http("GET", servers.url("/p")).headers
    servers.backend.csrf = True
    assert http("GET", servers.url("/p")).headers["Set-Cookie"].startswith("csrftoken=")


def test_fail_next(servers: HostServers) -> None:
    backend = servers.backend
    backend.fail_next("mint", 503, count=2)
    backend.fail_next("mint", 200, body="{broken")
    assert [mint(servers).status for _ in range(3)] == [503, 503, 200]
    assert backend.calls("mint")[2].status == 200
    fourth = mint(servers)
    assert fourth.status == 200 and "access_token" in fourth.json()
    assert len(servers.fake.sessions()) == 1  # the injected answers minted nothing
    session = fourth.json()
    backend.fail_next("refresh", 401, body={"error": "gone"})
    answer = refresh(servers, session["session_id"])
    assert (answer.status, answer.json()) == (401, {"error": "gone"})
    assert [c.status for c in backend.calls("refresh")] == [401]
    assert servers.transcript.count("(injected)") == 4
    with pytest.raises(ValueError):
        backend.fail_next("mint", 99)
    with pytest.raises(ValueError):
        backend.fail_next("logout", 500)  # type: ignore[arg-type]


def test_hang_next(servers: HostServers) -> None:
    session = mint(servers).json()
    refresh_url = servers.url(f"/meshes/session/{session['session_id']}/refresh")
    servers.backend.hang_next("refresh")
    with pytest.raises(TimeoutError):
        http("POST", refresh_url, {}, timeout=0.5)
    # The dropped request was recorded, never answered; the next one is served.
    assert http("POST", refresh_url, {}).status == 200
    assert [c.status for c in servers.backend.calls("refresh")] == [None, 200]

    servers.backend.hang_next("mint")
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(mint(servers).status))
    thread.start()
    servers.transcript.wait_for("mint request hangs", timeout=5)
    servers.backend.release_hung()
    thread.join(timeout=5)
    assert result == [503]


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("loader.js", "text/javascript"),
        ("pyscript/core.mjs", "text/javascript"),
        ("micropython/micropython.wasm", "application/wasm"),
        ("python/meshes_bridge/__init__.py", "text/x-python"),
        ("pyodide/pyodide-lock.json", "application/json"),
        ("pyodide/python_stdlib.zip", "application/zip"),
    ],
)
def test_static_tree(servers: HostServers, name: str, content_type: str) -> None:
    answer = http("GET", servers.url("/static/meshes-bridge/" + name))
    assert answer.status == 200
    assert answer.headers["Content-Type"].split(";")[0] == content_type
    assert answer.headers["Cache-Control"] == "no-store"


def test_static_tree_stays_inside(servers: HostServers) -> None:
    assert http("GET", servers.url("/static/meshes-bridge/missing.js")).status == 404
    assert http("GET", servers.url("/static/meshes-bridge/%2e%2e/secret.txt")).status == 404
    assert http("GET", servers.url("/static/meshes-bridge/python")).status == 404


def test_pages_files_and_csp(servers: HostServers) -> None:
    backend = servers.backend
    url = backend.add_page("/plain", "<p>plain</p>")
    assert url == servers.url("/plain")
    plain = http("GET", url)
    assert plain.text == "<p>plain</p>" and "Content-Security-Policy" not in plain.headers
    backend.add_page("/strict", "<p>strict</p>", csp="default-src 'self'")
    assert http("GET", servers.url("/strict")).headers["Content-Security-Policy"] == (
        "default-src 'self'"
    )
    backend.add_page("/echo", lambda query: f"<p>{query.get('runtime', 'micropython')}</p>")
    assert http("GET", servers.url("/echo?runtime=pyodide")).text == "<p>pyodide</p>"
    backend.add_file("/hooks/demo_hooks.py", "def on_ready(embed):\n    pass\n")
    hooks = http("GET", servers.url("/hooks/demo_hooks.py"))
    assert hooks.headers["Content-Type"].startswith("text/x-python")
    assert "on_ready" in hooks.text
    backend.remove("/plain")
    assert http("GET", servers.url("/plain")).status == 404
    with pytest.raises(ValueError):
        backend.add_page("/meshes/session", "<p>no</p>")


def test_page_html() -> None:
    text = page_html(
        runtime="pyodide",
        container_attrs={
            "data-session-body": {"launch_page": "connections"},
            "data-min-height": 300,
            "data-embed-origin": None,
            "title": 'a "quoted" <title>',
        },
        script_attrs={"data-hooks": "/hooks/demo_hooks.py", "data-debug": True},
        extra_body="<p id=extra>extra</p>",
        containers=2,
    )
    assert text.count("<div data-meshes-embed ") == 2
    assert 'id="embed-1"' in text and 'id="embed-2"' in text
    assert 'data-session-url="/meshes/session"' in text
    assert 'data-refresh-url="/meshes/session/{session_id}/refresh"' in text
    assert 'data-session-body="{&quot;launch_page&quot;: &quot;connections&quot;}"' in text
    assert 'title="a &quot;quoted&quot; &lt;title&gt;"' in text
    assert "data-embed-origin" not in text
    assert (
        '<script type="module" src="/static/meshes-bridge/loader.js" data-runtime="pyodide" '
        'data-hooks="/hooks/demo_hooks.py" data-debug></script>'
    ) in text
    assert text.index("<p id=extra>") < text.index("<script")


# -- HTTP: stub embed ------------------------------------------------------------------------


def test_launch_is_single_use_over_http(servers: HostServers) -> None:
    session = mint(servers).json()
    first = http("GET", session["launch_url"])
    assert first.status == 200
    assert LAUNCH_ERROR not in first.text
    assert json.dumps(servers.host_url) in first.text  # the host origin it posts to
    assert session["access_token"] not in first.text
    csp = first.headers["Content-Security-Policy"]
    assert f"frame-ancestors {servers.host_url};" in csp
    again = http("GET", session["launch_url"])
    assert again.status == 200
    assert LAUNCH_ERROR in again.text and "<script" not in again.text
    assert http("GET", servers.embed_url + "/workspace/dashboard").text == again.text
    assert http("GET", servers.embed_url + "/workspace/settings?launch=x").status == 404
    assert servers.transcript.count("refused a launch: token used") == 1


def test_ready_delay_reaches_the_page(servers: HostServers) -> None:
    servers.fake.ready_delay_ms = 250
    page = http("GET", mint(servers).json()["launch_url"]).text
    assert '"readyDelayMs": 250' in page


def test_whoami(servers: HostServers) -> None:
    session = mint(servers).json()
    me = whoami(servers, session["access_token"]).json()
    assert me["session_id"] == session["session_id"]
    assert me["expires_at"] == session["expires_at"]
    assert 1790 < me["expires_in"] <= 1800 and me["lifetime_seconds"] == 1800
    missing = whoami(servers, None)
    assert missing.status == 401 and missing.json()["message"] == "Authentication required"
    assert whoami(servers, "mat_forged").json()["error"] == "invalid_token"


def test_stub_reports_go_to_the_transcript(servers: HostServers) -> None:
    url = servers.embed_url + "/stub/api/report"
    reports = [
        {"event": "ready", "session_id": "sess_1", "page": "dashboard"},
        {"event": "auth", "valid": True, "status": 200, "generation": 2, "expires_in": 59.6},
        {"event": "auth", "valid": False, "status": 401, "reason": "stale_token"},
        {"event": "resize", "height": 612},
        {"event": "navigate", "page": "rules", "path": "/workspace/rules"},
        {"event": "refresh-asked", "reason": "scheduled"},
        {"event": "expired", "reason": "test"},
        {"event": "ignored", "reason": "wrong origin", "origin": "http://evil", "type": "x"},
    ]
    for report in reports:
        assert http("POST", url, report).status == 204
    lines = servers.transcript.lines()
    expected = [
        "embed posted meshes:ready (sess_1, page dashboard)",
        "embed got meshes:auth: token #2 valid",
        "token refused (HTTP 401 stale_token)",
        "embed posted meshes:resize height=612",
        "embed posted meshes:navigate page=rules path=/workspace/rules",
        "embed posted meshes:token-refresh (scheduled)",
        "embed posted meshes:token-expired (test)",
        "embed ignored a message (wrong origin; origin http://evil, type x)",
    ]
    for line, text in zip(lines, expected, strict=True):
        assert text in line
    assert http("POST", url, {"event": "whatever"}).status == 400


def test_no_token_in_the_transcript(servers: HostServers) -> None:
    session = mint(servers).json()
    refresh(servers, session["session_id"])
    http("GET", session["launch_url"])
    http("GET", session["launch_url"])
    servers.backend.fail_next("mint", 500)
    mint(servers)
    text = servers.transcript.text()
    fields = json.dumps([dict(e.fields) for e in servers.transcript.entries()])
    assert "minted session " + session["session_id"] in text
    assert "refreshed session " + session["session_id"] in text
    assert "mat_…(redacted)" in text
    secrets = servers.fake.issued_tokens()
    assert len(secrets) == 3  # two access tokens, one launch token
    for secret in secrets:
        assert secret not in text and secret not in fields


# -- HTTP: hostile ---------------------------------------------------------------------------


def test_hostile_pages(servers: HostServers) -> None:
    attack = http("GET", servers.attack_url())
    assert attack.status == 200 and "window.attack" in attack.text
    assert json.dumps(servers.host_url) in attack.text
    evil = http("GET", servers.hostile_url + "/evil-embed/workspace/dashboard?launch=mlt_x")
    assert '"postReady": true' in evil.text
    other = http("GET", servers.other_frame_url())
    assert other.status == 200 and json.dumps(servers.host_url) in other.text


def test_hostile_records_what_it_receives(servers: HostServers) -> None:
    token = mint(servers).json()["access_token"]
    report = {
        "kind": "received",
        "page": "evil-embed",
        "origin": servers.host_url,
        "data": {"type": "meshes:auth", "token": token},
    }
    assert http("POST", servers.hostile_url + "/hostile/report", report).status == 204
    assert servers.hostile.tokens_received() == [token]
    (message,) = servers.hostile.messages("evil-embed")
    assert message.origin == servers.host_url
    line = servers.transcript.wait_for("RECEIVED", timeout=1)
    assert token not in str(line) and "mat_…(redacted)" in str(line)
    posted = {"kind": "posted", "page": "other-frame", "to": "parent", "type": "meshes:ready"}
    assert http("POST", servers.embed_url + "/other-frame/report", posted).status == 204
    assert servers.hostile.messages("other-frame") == []


def test_reset(servers: HostServers) -> None:
    servers.backend.csrf = True
    servers.backend.user = None
    servers.backend.fail_next("mint", 500, count=5)
    servers.backend.delay("refresh", 3)
    servers.fake.ttl_override_seconds = 5
    servers.fake.ready_delay_ms = 100
    servers.backend.add_page("/kept", "<p>kept</p>")
    mint(servers)
    servers.reset()
    assert servers.backend.calls() == [] and servers.transcript.entries() == []
    assert servers.fake.sessions() == [] and servers.fake.ttl_override_seconds is None
    assert servers.fake.ready_delay_ms == 0
    assert mint(servers).status == 200
    assert http("GET", servers.url("/kept")).status == 200
