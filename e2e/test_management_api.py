"""The fake Meshes management API (the API origin) over real HTTP, no browser.

What a server-side client will meet: machine-JWT checks one by one, the four session
endpoints with their errors, cursor pagination, organization scoping, fault injection, and
a transcript that never holds a JWT, a token or the secret.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pytest

from meshes_bridge.testing.doubles import (
    DEFAULT_WORKSPACE_ID,
    LAUNCH_ERROR,
    TEST_ACCESS_KEY,
    TEST_KEY,
    TEST_ORG_ID,
    TEST_SECRET_KEY,
    MachineKey,
    ManualClock,
    Servers,
    machine_jwt,
    redact,
    start_servers,
)

SESSIONS = "/api/v1/sessions"
OTHER_ORG_ID = "7d1e5b90-2f44-4c3a-9e1b-6a8c0f3d2e55"
OTHER_WORKSPACE_ID = "c3a9e7d1-8b2f-4e60-a1d4-9f7b3c5e2a08"
UNOWNED_WORKSPACE_ID = "11111111-2222-4333-8444-555555555555"
OTHER_KEY = MachineKey(
    "mak_test_otherOrgKey01",
    "msk_test_Pz4Rq8Lm2Vx6Tn0Wb3Yk7Hc1Jd5Gf9Sa2Ue6Xi0Ko4Mp8Nr3Qt7Lv1Bw5Cy9Dz2Ex6Fg0Hj",
    OTHER_ORG_ID,
    frozenset({OTHER_WORKSPACE_ID}),
)
LIST_FIELDS = {
    "session_id",
    "workspace_id",
    "session_type",
    "role",
    "external_user_id",
    "status",
    "created_at",
    "expires_at",
}


#: The host page's origin, as an app would name it (no page is served there).
HOST_ORIGIN = "http://127.0.0.1:5999"


# -- fixtures and helpers ---------------------------------------------------------------


@pytest.fixture(scope="module")
def module_servers() -> Iterator[Servers]:
    """One set of origins for the module (no asset tree needed: no browser here)."""
    with start_servers(host_origin=HOST_ORIGIN) as running:
        yield running


@pytest.fixture
def servers(module_servers: Servers) -> Iterator[Servers]:
    """The running doubles, reset for this test (overrides conftest's browser fixture)."""
    module_servers.reset()
    yield module_servers
    module_servers.reset()


@pytest.fixture
def client(servers: Servers) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=servers.api_url, timeout=5.0) as http:
        yield http


def bearer(token: str | None = None, key: MachineKey = TEST_KEY) -> dict[str, str]:
    """An Authorization header with a fresh, valid machine JWT (or `token`)."""
    return {"Authorization": f"Bearer {token or machine_jwt(key)}"}


def mint(
    client: httpx.Client,
    body: Any = None,
    key: MachineKey = TEST_KEY,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    payload = {"workspace_id": DEFAULT_WORKSPACE_ID} if body is None else body
    return client.post(
        SESSIONS, json=payload, headers=bearer(key=key) if headers is None else headers
    )


def refresh(client: httpx.Client, session_id: str, key: MachineKey = TEST_KEY) -> httpx.Response:
    return client.post(f"{SESSIONS}/{session_id}/refresh", headers=bearer(key=key))


def revoke(client: httpx.Client, session_id: str, key: MachineKey = TEST_KEY) -> httpx.Response:
    return client.delete(f"{SESSIONS}/{session_id}", headers=bearer(key=key))


def list_sessions(
    client: httpx.Client, key: MachineKey = TEST_KEY, **params: str | int
) -> httpx.Response:
    query: dict[str, str | int] = {"workspace_id": DEFAULT_WORKSPACE_ID, **params}
    return client.get(SESSIONS, params=query, headers=bearer(key=key))


def list_all(client: httpx.Client, **params: str | int) -> tuple[list[dict[str, Any]], int]:
    """Follow the cursor to the end: every item, and how many pages it took."""
    items: list[dict[str, Any]] = []
    pages = 0
    cursor: str | None = None
    while True:
        extra = dict(params) if cursor is None else {**params, "cursor": cursor}
        answer = list_sessions(client, **extra)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        items += page["data"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            return items, pages


def whoami(servers: Servers, token: str) -> httpx.Response:
    url = servers.embed_url + "/stub/api/whoami"
    return httpx.get(url, headers={"Authorization": f"Bearer {token}"})


def add_other_org(servers: Servers) -> MachineKey:
    return servers.api.add_key(
        OTHER_KEY.access_key, OTHER_KEY.secret_key, OTHER_KEY.org_id, OTHER_KEY.workspace_ids
    )


# -- the origin ------------------------------------------------------------------------------


def test_api_is_an_origin_of_its_own(servers: Servers) -> None:
    urls = {servers.embed_url, servers.hostile_url, servers.api_url}
    assert len(urls) == 3
    assert httpx.get(servers.api_url + "/_doubles/socket").json() == {"tcp_nodelay": True}


def test_meshes_env(servers: Servers) -> None:
    assert servers.meshes_env() == {
        "MESHES_ORG_ID": TEST_ORG_ID,
        "MESHES_ACCESS_KEY": TEST_ACCESS_KEY,
        "MESHES_SECRET_KEY": TEST_SECRET_KEY,
        "MESHES_WORKSPACE_ID": DEFAULT_WORKSPACE_ID,
        "MESHES_API_URL": servers.api_url,
        "MESHES_EMBED_ORIGIN": servers.embed_url,
    }
    app = "http://127.0.0.1:8000"
    assert servers.meshes_env(app)["MESHES_ALLOWED_ORIGINS"] == app
    assert servers.meshes_env([app, "https://a.example"])["MESHES_ALLOWED_ORIGINS"] == (
        app + ",https://a.example"
    )
    assert TEST_SECRET_KEY.startswith("msk_test_") and TEST_SECRET_KEY not in repr(TEST_KEY)


# -- machine JWT checks ----------------------------------------------------------------------


def _with_header(header: dict[str, Any]) -> str:
    """A valid token's payload and signature under another header (as an attacker would)."""
    encoded = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
    return encoded + "." + machine_jwt().split(".", 1)[1]


def _future() -> float:
    return time.time() + 30


def _past() -> float:
    return time.time() - 120


@pytest.mark.parametrize(
    ("make_header", "reason"),
    [
        (lambda: None, "missing Authorization header"),
        (lambda: "Basic dXNlcjpwYXNz", "Authorization scheme is not Bearer"),
        (lambda: "Bearer not-a-jwt", "malformed token"),
        (
            lambda: "Bearer " + _with_header({"alg": "HS256", "typ": "JWT", "kid": 5}),
            "malformed token",
        ),
        (
            lambda: "Bearer " + machine_jwt(secret="msk_test_" + "w" * 60),
            "bad signature",
        ),
        (lambda: "Bearer " + machine_jwt(headers={"kid": "mak_unknown"}), "unknown kid"),
        (lambda: "Bearer " + machine_jwt(headers={"kid": None}), "missing kid"),
        (
            lambda: "Bearer " + machine_jwt(claims={"iss": "urn:meshes:m2m:mak_other"}),
            "iss does not match the kid",
        ),
        (lambda: "Bearer " + machine_jwt(claims={"aud": "meshes-web"}), "aud must be meshes-api"),
        (lambda: "Bearer " + machine_jwt(claims={"org": OTHER_ORG_ID}), "wrong org"),
        (lambda: "Bearer " + machine_jwt(claims={"org": None}), "missing claim org"),
        (lambda: "Bearer " + machine_jwt(claims={"iat": None}), "missing claim iat"),
        (lambda: "Bearer " + machine_jwt(claims={"exp": None}), "missing claim exp"),
        (lambda: "Bearer " + machine_jwt(lifetime=61), "exp is more than 60 s after iat"),
        (lambda: "Bearer " + machine_jwt(now=_past()), "token expired"),
        (lambda: "Bearer " + machine_jwt(now=_future()), "iat is in the future"),
        (lambda: "Bearer " + machine_jwt(algorithm="none"), "alg must be HS256, not none"),
        (lambda: "Bearer " + machine_jwt(algorithm="HS512"), "alg must be HS256, not HS512"),
        (lambda: "Bearer " + machine_jwt(headers={"typ": "at+jwt"}), "typ must be JWT"),
    ],
    ids=[
        "no-header",
        "basic",
        "garbage",
        "kid-not-a-string",
        "bad-signature",
        "wrong-kid",
        "no-kid",
        "wrong-iss",
        "wrong-aud",
        "wrong-org",
        "no-org",
        "no-iat",
        "no-exp",
        "exp-iat-over-60",
        "expired",
        "iat-in-future",
        "alg-none",
        "hs512",
        "typ",
    ],
)
def test_each_jwt_check_refuses(
    servers: Servers, client: httpx.Client, make_header: Any, reason: str
) -> None:
    header = make_header()
    headers = {} if header is None else {"Authorization": header}
    answer = mint(client, headers=headers)
    assert answer.status_code == 401
    assert answer.json() == {"error": "invalid_token", "message": reason}
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    if header is not None:
        assert header.split(" ", 1)[1] not in answer.text
    (call,) = servers.api.calls("create")
    assert (call.status, call.rejection, call.claims) == (401, reason, None)
    assert servers.fake.sessions() == []
    servers.transcript.wait_for(f"api refused a request: invalid_token ({reason})", timeout=1)


def test_every_route_needs_the_jwt(servers: Servers, client: httpx.Client) -> None:
    session_id = mint(client).json()["session_id"]
    bad = {"Authorization": "Bearer " + machine_jwt(secret="msk_test_" + "x" * 60)}
    answers = [
        client.post(SESSIONS, json={"workspace_id": DEFAULT_WORKSPACE_ID}, headers=bad),
        client.post(f"{SESSIONS}/{session_id}/refresh", headers=bad),
        client.get(SESSIONS, params={"workspace_id": DEFAULT_WORKSPACE_ID}, headers=bad),
        client.delete(f"{SESSIONS}/{session_id}", headers=bad),
    ]
    assert [a.status_code for a in answers] == [401] * 4
    assert {a.json()["message"] for a in answers} == {"bad signature"}
    assert len(servers.fake.sessions()) == 1 and not servers.fake.sessions()[0].revoked
    assert servers.fake.session(session_id).token_generation == 1


def test_jwt_edges_that_pass(servers: Servers, client: httpx.Client) -> None:
    """Exactly 60 s of lifetime, and an iat a little ahead (clock skew within 5 s)."""
    assert mint(client, headers=bearer(machine_jwt(lifetime=60))).status_code == 201
    assert mint(client, headers=bearer(machine_jwt(now=time.time() + 3))).status_code == 201
    (first, second) = servers.api.calls("create")
    assert first.claims is not None and first.claims["exp"] - first.claims["iat"] == 60
    assert first.claims["iss"] == "urn:meshes:m2m:" + TEST_ACCESS_KEY
    assert (first.claims["aud"], first.claims["org"]) == ("meshes-api", TEST_ORG_ID)
    assert second.rejection is None


def test_jwt_times_use_the_fake_clock() -> None:
    clock = ManualClock(start=time.time() - 3600)
    with (
        start_servers(host_origin=HOST_ORIGIN, clock=clock) as running,
        httpx.Client(timeout=5) as http,
    ):
        url = running.api_url + SESSIONS
        body = {"workspace_id": DEFAULT_WORKSPACE_ID}
        token = machine_jwt(now=clock())
        assert http.post(url, json=body, headers=bearer(token)).status_code == 201
        clock.advance(59)
        assert http.post(url, json=body, headers=bearer(token)).status_code == 201
        clock.advance(1)
        expired = http.post(url, json=body, headers=bearer(token))
        assert (expired.status_code, expired.json()["message"]) == (401, "token expired")
        # The wall clock is an hour ahead of this clock.
        wall = http.post(url, json=body, headers=bearer(machine_jwt()))
        assert wall.json()["message"] == "iat is in the future"


# -- create ----------------------------------------------------------------------------------


def test_create(servers: Servers, client: httpx.Client) -> None:
    body = {
        "workspace_id": DEFAULT_WORKSPACE_ID,
        "external_user_id": "alice",
        "launch_page": "connections",
        "role": "admin",
        "ttl_seconds": 600,
    }
    answer = mint(client, body)
    assert answer.status_code == 201
    assert answer.headers["Cache-Control"] == "no-store"
    session = answer.json()
    assert set(session) == {
        "session_id",
        "access_token",
        "expires_at",
        "launch_url",
        "workspace_id",
        "role",
        "session_type",
    }
    assert session["launch_url"].startswith(servers.embed_url + "/workspace/connections?launch=")
    assert (session["role"], session["workspace_id"]) == ("admin", DEFAULT_WORKSPACE_ID)
    view = servers.fake.session(session["session_id"])
    assert view.host_origin == servers.host_origin  # no allowed_origins: the default
    assert view.external_user_id == "alice" and view.token_lifetime == 600
    (call,) = servers.api.calls("create")
    assert (call.method, call.path, call.status, call.body) == ("POST", SESSIONS, 201, body)
    assert call.session_id == session["session_id"]
    assert call.claims is not None and call.claims["org"] == TEST_ORG_ID
    servers.transcript.wait_for(
        f"api minted session {session['session_id']} for user alice (page connections)",
        timeout=1,
    )


def test_create_takes_the_host_origin_from_allowed_origins(
    servers: Servers, client: httpx.Client
) -> None:
    origins = ["http://127.0.0.1:9", servers.host_origin]
    session = mint(client, {"workspace_id": DEFAULT_WORKSPACE_ID, "allowed_origins": origins})
    view = servers.fake.session(session.json()["session_id"])
    assert view.host_origin == "http://127.0.0.1:9"
    assert view.allowed_origins == tuple(origins)


def test_create_accepts_the_older_launch_path(servers: Servers, client: httpx.Client) -> None:
    answer = mint(client, {"workspace_id": DEFAULT_WORKSPACE_ID, "launch_path": "/workspace/rules"})
    assert answer.status_code == 201
    assert "/workspace/rules?launch=" in answer.json()["launch_url"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "workspace_id"),
        ({"workspace_id": "not-a-uuid"}, "workspace_id"),
        ({"workspace_id": 7}, "workspace_id"),
        ({"workspace_id": DEFAULT_WORKSPACE_ID, "ttl_seconds": 10}, "ttl_seconds"),
        ({"workspace_id": DEFAULT_WORKSPACE_ID, "role": "guest"}, "role"),
        ({"workspace_id": DEFAULT_WORKSPACE_ID, "allowed_origins": ["nope"]}, "allowed_origins"),
        ({"workspace_id": DEFAULT_WORKSPACE_ID, "surprise": 1}, "surprise"),
        ([], "body"),
        ("text", "body"),
        (None, "body"),
    ],
)
def test_create_validation(servers: Servers, client: httpx.Client, body: Any, field: str) -> None:
    answer = client.post(SESSIONS, content=json.dumps(body), headers=bearer())
    assert answer.status_code == 400
    assert answer.json()["error"] == "validation_error"
    assert answer.json()["field"] == field and answer.json()["message"]
    assert servers.fake.sessions() == []
    servers.transcript.wait_for("api refused a mint: validation_error", timeout=1)


def test_create_body_not_json(servers: Servers, client: httpx.Client) -> None:
    for content in (b"{not json", b""):
        answer = client.post(SESSIONS, content=content, headers=bearer())
        assert answer.status_code == 400
        assert answer.json()["field"] == "body"
    assert servers.fake.sessions() == []


def test_create_in_another_orgs_workspace_is_forbidden(
    servers: Servers, client: httpx.Client
) -> None:
    for workspace in (UNOWNED_WORKSPACE_ID, OTHER_WORKSPACE_ID):
        answer = mint(client, {"workspace_id": workspace})
        assert answer.status_code == 403
        assert answer.json()["error"] == "forbidden"
    assert servers.fake.sessions() == []


def test_launch_url_works_once(servers: Servers, client: httpx.Client) -> None:
    session = mint(client).json()
    first = httpx.get(session["launch_url"])
    assert first.status_code == 200
    assert LAUNCH_ERROR not in first.text
    assert json.dumps(servers.host_origin) in first.text  # the stub posts to the host origin
    assert session["access_token"] not in first.text
    again = httpx.get(session["launch_url"])
    assert LAUNCH_ERROR in again.text and "<script" not in again.text


# -- refresh and revoke ----------------------------------------------------------------------


def test_refresh(servers: Servers, client: httpx.Client) -> None:
    session = mint(client).json()
    answer = refresh(client, session["session_id"])
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    renewed = answer.json()
    assert set(renewed) == {"session_id", "access_token", "expires_at"}
    assert renewed["session_id"] == session["session_id"]
    assert renewed["access_token"] != session["access_token"]
    assert whoami(servers, session["access_token"]).json()["error"] == "stale_token"
    assert whoami(servers, renewed["access_token"]).json()["generation"] == 2
    servers.transcript.wait_for(f"api refreshed session {session['session_id']}", timeout=1)


def test_refresh_unknown_or_revoked_is_404(servers: Servers, client: httpx.Client) -> None:
    missing = refresh(client, "sess_unknown")
    assert missing.status_code == 404
    assert missing.json()["error"] == "session_not_found"
    session_id = mint(client).json()["session_id"]
    servers.fake.revoke(session_id)
    assert refresh(client, session_id).status_code == 404
    servers.transcript.wait_for(f"api refused a refresh: session_not_found ({session_id})")


def test_revoke(servers: Servers, client: httpx.Client) -> None:
    session = mint(client).json()
    answer = revoke(client, session["session_id"])
    assert (answer.status_code, answer.content) == (204, b"")
    assert servers.api.revoked_ids() == [session["session_id"]]
    assert servers.fake.session(session["session_id"]).revoked
    assert whoami(servers, session["access_token"]).json()["error"] == "session_revoked"
    again = revoke(client, session["session_id"])
    assert (again.status_code, again.json()["error"]) == (404, "session_not_found")
    assert revoke(client, "sess_unknown").status_code == 404
    assert refresh(client, session["session_id"]).status_code == 404
    assert servers.api.revoked_ids() == [session["session_id"]]
    servers.transcript.wait_for(f"api revoked session {session['session_id']}", timeout=1)


# -- list ------------------------------------------------------------------------------------


def _mint_many(servers: Servers, count: int, workspace: str = DEFAULT_WORKSPACE_ID) -> list[str]:
    """Sessions straight in the store (as the host backend double mints them)."""
    return [
        servers.fake.create_session(
            {"workspace_id": workspace, "external_user_id": f"user-{n}"},
            allowed_origin=servers.host_origin,
        )["session_id"]
        for n in range(count)
    ]


def test_list_pages_through_the_cursor(servers: Servers, client: httpx.Client) -> None:
    minted = _mint_many(servers, 43)
    via_api = mint(client, {"workspace_id": DEFAULT_WORKSPACE_ID, "external_user_id": "bob"})
    minted.append(via_api.json()["session_id"])
    _mint_many(servers, 3, UNOWNED_WORKSPACE_ID)  # another workspace: never listed

    first = list_sessions(client)
    assert first.status_code == 200
    page = first.json()
    assert len(page["data"]) == 20 and isinstance(page["next_cursor"], str)  # default limit
    assert page["data"][0]["session_id"] == minted[-1]  # newest first
    assert page["data"][0]["external_user_id"] == "bob"
    assert set(page["data"][0]) == LIST_FIELDS
    assert page["data"][0]["status"] == "active"

    items, pages = list_all(client, limit=15)
    assert pages == 3
    assert [item["session_id"] for item in items] == minted[::-1]

    everything = list_sessions(client, limit=100).json()
    assert len(everything["data"]) == 44 and everything["next_cursor"] is None
    for secret in servers.fake.issued_tokens():
        assert secret not in json.dumps(everything)
    assert "launch" not in json.dumps(everything)


def test_list_status_filter(servers: Servers, client: httpx.Client) -> None:
    minted = _mint_many(servers, 9)
    revoked = minted[::3]
    for session_id in revoked:
        assert revoke(client, session_id).status_code == 204
    active_items, pages = list_all(client, status="active", limit=2)
    assert [i["session_id"] for i in active_items] == [s for s in minted[::-1] if s not in revoked]
    assert pages == 3 and {i["status"] for i in active_items} == {"active"}
    revoked_items, _ = list_all(client, status="revoked", limit=2)
    assert [i["session_id"] for i in revoked_items] == revoked[::-1]
    assert {i["status"] for i in revoked_items} == {"revoked"}
    all_items, _ = list_all(client)
    assert len(all_items) == 9


def test_list_cursor_stays_put_when_sessions_are_added(
    servers: Servers, client: httpx.Client
) -> None:
    minted = _mint_many(servers, 4)
    page = list_sessions(client, limit=2).json()
    _mint_many(servers, 2)  # newer sessions land before the cursor, not after it
    rest = list_sessions(client, limit=2, cursor=page["next_cursor"]).json()
    assert [i["session_id"] for i in rest["data"]] == minted[1::-1]
    assert rest["next_cursor"] is None


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"workspace_id": ""}, 400, "workspace_id"),
        ({"workspace_id": "nope"}, 400, "workspace_id"),
        ({"status": "expired"}, 400, "status"),
        ({"limit": 0}, 400, "limit"),
        ({"limit": 101}, 400, "limit"),
        ({"limit": "ten"}, 400, "limit"),
        ({"cursor": "cur_unknown"}, 400, "cursor"),
        ({"workspace_id": UNOWNED_WORKSPACE_ID}, 403, None),
    ],
)
def test_list_errors(
    client: httpx.Client, params: dict[str, Any], status: int, field: str | None
) -> None:
    answer = list_sessions(client, **params)
    assert answer.status_code == status
    assert answer.json().get("field") == field


def test_list_needs_workspace_id(client: httpx.Client) -> None:
    answer = client.get(SESSIONS, headers=bearer())
    assert (answer.status_code, answer.json()["field"]) == (400, "workspace_id")


def test_cursor_is_bound_to_its_query(servers: Servers, client: httpx.Client) -> None:
    _mint_many(servers, 3)
    cursor = list_sessions(client, limit=1).json()["next_cursor"]
    assert list_sessions(client, limit=1, cursor=cursor).status_code == 200
    other = list_sessions(client, limit=1, cursor=cursor, status="active")
    assert (other.status_code, other.json()["field"]) == (400, "cursor")


# -- organization scoping --------------------------------------------------------------------


def test_org_scoping(servers: Servers, client: httpx.Client) -> None:
    other = add_other_org(servers)
    theirs = mint(client, {"workspace_id": OTHER_WORKSPACE_ID}, key=other)
    assert theirs.status_code == 201
    their_id = theirs.json()["session_id"]
    ours = mint(client).json()["session_id"]

    # Our key cannot see, refresh, revoke or mint in their workspace, and vice versa.
    assert refresh(client, their_id).status_code == 404
    assert revoke(client, their_id).status_code == 404
    assert mint(client, {"workspace_id": OTHER_WORKSPACE_ID}).status_code == 403
    listed = list_sessions(client, workspace_id=OTHER_WORKSPACE_ID)
    assert (listed.status_code, listed.json()["error"]) == (403, "forbidden")
    assert refresh(client, ours, key=other).status_code == 404
    assert revoke(client, ours, key=other).status_code == 404
    assert list_sessions(client, key=other).status_code == 403
    assert not servers.fake.session(their_id).revoked
    assert servers.fake.session(their_id).token_generation == 1

    # Each org sees its own.
    mine = list_sessions(client).json()["data"]
    assert [i["session_id"] for i in mine] == [ours]
    yours = list_sessions(client, key=other, workspace_id=OTHER_WORKSPACE_ID).json()["data"]
    assert [i["session_id"] for i in yours] == [their_id]
    assert refresh(client, their_id, key=other).status_code == 200


def test_add_key_rules(servers: Servers, client: httpx.Client) -> None:
    other = add_other_org(servers)
    assert {k.access_key for k in servers.api.keys()} == {TEST_ACCESS_KEY, other.access_key}
    with pytest.raises(ValueError, match="already known"):
        add_other_org(servers)
    with pytest.raises(ValueError, match="belongs to org"):
        servers.api.add_key(
            "mak_test_thief2", "msk_test_" + "t" * 40, TEST_ORG_ID, [OTHER_WORKSPACE_ID]
        )
    with pytest.raises(ValueError, match="32"):
        servers.api.add_key("mak_test_short", "short", TEST_ORG_ID)
    # A second key of our org shares its workspaces.
    second = servers.api.add_key("mak_test_rotated", "msk_test_" + "r" * 40, TEST_ORG_ID)
    assert mint(client, key=second).status_code == 201
    servers.api.reset()  # forgets added keys
    gone = mint(client, key=other, body={"workspace_id": OTHER_WORKSPACE_ID})
    assert (gone.status_code, gone.json()["message"]) == (401, "unknown kid")


# -- fault controls --------------------------------------------------------------------------


def test_fail_next(servers: Servers, client: httpx.Client) -> None:
    api = servers.api
    api.fail_next("create", 503, count=2)
    statuses = [mint(client).status_code for _ in range(3)]
    assert statuses == [503, 503, 201]
    assert [c.status for c in api.calls("create")] == [503, 503, 201]
    assert len(servers.fake.sessions()) == 1  # the injected answers minted nothing
    session_id = servers.fake.sessions()[0].session_id

    api.fail_next("refresh", 429, retry_after=2)
    limited = refresh(client, session_id)
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "2"
    assert limited.json()["error"] == "rate_limited"
    assert servers.fake.session(session_id).token_generation == 1
    assert "Retry-After" not in refresh(client, session_id).headers

    api.fail_next("list", 500, body={"error": "boom"})
    api.fail_next("list", 502, body="<html>bad gateway</html>")
    assert list_sessions(client).json() == {"error": "boom"}
    assert list_sessions(client).text == "<html>bad gateway</html>"
    assert list_sessions(client).status_code == 200

    api.fail_next("revoke", 503, retry_after="Wed, 21 Oct 2026 07:28:00 GMT")
    unavailable = revoke(client, session_id)
    assert unavailable.headers["Retry-After"] == "Wed, 21 Oct 2026 07:28:00 GMT"
    assert not servers.fake.session(session_id).revoked and api.revoked_ids() == []
    assert revoke(client, session_id).status_code == 204
    assert servers.transcript.count("(injected)") == 6

    with pytest.raises(ValueError):
        api.fail_next("create", 99)
    with pytest.raises(ValueError):
        api.fail_next("mint", 500)  # type: ignore[arg-type]


def test_injections_come_before_authentication(servers: Servers, client: httpx.Client) -> None:
    """As from a gateway: the injected answer wins, and the record still says why the
    token would have been refused."""
    servers.api.fail_next("create", 503)
    answer = mint(client, headers=bearer(machine_jwt(algorithm="HS512")))
    assert answer.status_code == 503
    (call,) = servers.api.calls()
    assert call.rejection == "alg must be HS256, not HS512"


def test_delay(servers: Servers, client: httpx.Client) -> None:
    servers.api.delay("list", 30)
    query = {"workspace_id": DEFAULT_WORKSPACE_ID}
    with pytest.raises(httpx.ReadTimeout):  # held past the client's patience
        client.get(SESSIONS, params=query, headers=bearer(), timeout=1)
    (held,) = servers.api.calls("list")
    assert held.status is None
    servers.api.delay("list", 0)
    assert client.get(SESSIONS, params=query, headers=bearer(), timeout=10).status_code == 200


def test_hang_next_until_the_client_gives_up(servers: Servers, client: httpx.Client) -> None:
    session_id = mint(client).json()["session_id"]
    servers.api.hang_next("refresh")
    with pytest.raises(httpx.ReadTimeout):
        client.post(
            f"{SESSIONS}/{session_id}/refresh", headers=bearer(), timeout=httpx.Timeout(0.5)
        )
    assert refresh(client, session_id).status_code == 200
    assert [c.status for c in servers.api.calls("refresh")] == [None, 200]


def test_hang_next_until_released(servers: Servers, client: httpx.Client) -> None:
    servers.api.hang_next("create")
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(mint(client).status_code))
    thread.start()
    servers.transcript.wait_for("api create request hangs", timeout=5)
    servers.api.release_hung()
    thread.join(timeout=5)
    assert result == [503]
    assert servers.fake.sessions() == []
    assert mint(client).status_code == 201


def test_revoke_convenience_and_calls(servers: Servers, client: httpx.Client) -> None:
    session_id = mint(client, {"workspace_id": DEFAULT_WORKSPACE_ID, "scopes": []}).json()[
        "session_id"
    ]
    servers.api.revoke(session_id)
    assert servers.fake.session(session_id).revoked
    assert servers.api.revoked_ids() == []  # only DELETEs count
    assert revoke(client, session_id).status_code == 404
    list_sessions(client, status="revoked", limit=5)

    create, delete, listing = servers.api.calls()
    assert create.body == {"workspace_id": DEFAULT_WORKSPACE_ID, "scopes": []}
    assert (delete.method, delete.path, delete.session_id) == (
        "DELETE",
        f"{SESSIONS}/{session_id}",
        session_id,
    )
    assert listing.query == {
        "workspace_id": DEFAULT_WORKSPACE_ID,
        "status": "revoked",
        "limit": "5",
    }
    assert [c.endpoint for c in servers.api.calls("list")] == ["list"]
    for call in servers.api.calls():
        assert call.headers["Authorization"] == "Bearer …(redacted)"
        assert "eyJ" not in call.text() and TEST_SECRET_KEY not in call.text()


def test_reset(servers: Servers, client: httpx.Client) -> None:
    servers.api.fail_next("create", 500, count=5)
    servers.api.delay("list", 3)
    servers.api.hang_next("refresh", 2)
    assert mint(client).status_code == 500
    servers.reset()  # the API's reset runs too
    assert servers.api.calls() == [] and servers.api.revoked_ids() == []
    session_id = mint(client).json()["session_id"]
    assert refresh(client, session_id).status_code == 200
    # No delay left: answered well within a patience shorter than the 3 s delay was.
    query = {"workspace_id": DEFAULT_WORKSPACE_ID}
    assert client.get(SESSIONS, params=query, headers=bearer(), timeout=2).status_code == 200
    assert revoke(client, session_id).status_code == 204
    servers.api.reset()
    assert servers.api.revoked_ids() == []


# -- secrets stay out of the transcript ------------------------------------------------------


def test_no_jwt_or_token_in_the_transcript(servers: Servers, client: httpx.Client) -> None:
    jwts = [machine_jwt() for _ in range(4)]
    forged = machine_jwt(secret="msk_test_" + "f" * 60)
    session = mint(
        client,
        {"workspace_id": DEFAULT_WORKSPACE_ID, "external_user_id": "alice"},
        headers=bearer(jwts[0]),
    ).json()
    client.post(f"{SESSIONS}/{session['session_id']}/refresh", headers=bearer(jwts[1]))
    client.get(SESSIONS, params={"workspace_id": DEFAULT_WORKSPACE_ID}, headers=bearer(jwts[2]))
    mint(client, headers=bearer(forged))
    mint(client, headers={"Authorization": f"Bearer {TEST_SECRET_KEY}"})
    httpx.get(session["launch_url"])
    client.delete(f"{SESSIONS}/{session['session_id']}", headers=bearer(jwts[3]))
    servers.transcript.wait_for("api revoked session", timeout=1)

    text = servers.transcript.text()
    fields = json.dumps([dict(e.fields) for e in servers.transcript.entries()])
    assert "api refused a request: invalid_token (bad signature)" in text
    for secret in [*jwts, forged, TEST_SECRET_KEY, *servers.fake.issued_tokens()]:
        assert secret not in text and secret not in fields
    assert "eyJ" not in text.replace("eyJ…(redacted)", "")


def test_redact_jwts_and_secret_keys() -> None:
    token = machine_jwt()
    unsigned = machine_jwt(algorithm="none")
    out = redact(f"jwt={token} none={unsigned} key={TEST_SECRET_KEY} end")
    assert token not in out and unsigned not in out and TEST_SECRET_KEY not in out
    assert out == "jwt=eyJ…(redacted) none=eyJ…(redacted) key=msk_…(redacted) end"
