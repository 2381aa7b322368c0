"""Section 4 of server-interface.md over real HTTP, for each framework: the example app
runs under its framework's real server as a separate process, minting through the fake
Meshes management API, with bindings and rate limits in a private Redis. Also what the
examples' own login and logout must hold, since the logged-in user is who embeds are
minted for: other sites' forms cannot log anyone in or out, and logout ends the session on
the server."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from meshes_bridge.testing.doubles import Servers
from meshes_bridge.testing.doubles.management_api import TEST_SECRET_KEY
from meshes_bridge.testing.processes import AppProcess, RedisServer
from tests import support
from tests.support import FRAMEWORKS, PASSWORD, form_token, start_example

FORBIDDEN_FIELDS = (
    "role",
    "workspace_id",
    "external_user_id",
    "allowed_origins",
    "ttl_seconds",
    "scopes",
)


EVIL_ORIGIN = "https://evil.example"


# The forms' hidden CSRF field: Django's, and Flask-WTF's name the FastAPI example shares.
class Visitor(support.Visitor):
    """The e2e Visitor, telling whether its session still reaches `/`."""

    def is_logged_in(self) -> bool:
        page = self.http.get("/")
        if page.status_code in (302, 303):
            assert "/login" in page.headers["location"]
            return False
        assert page.status_code == 200, page.status_code
        return True


@pytest.fixture(scope="module", params=FRAMEWORKS)
def framework(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def example(
    framework: str, meshes_fake: Servers, redis_server: RedisServer
) -> Iterator[AppProcess]:
    """The framework's example app, bindings and limits in Redis."""
    with start_example(framework, meshes_fake, MESHES_BRIDGE_REDIS_URL=redis_server.url) as app:
        yield app


@pytest.fixture
def app(example: AppProcess, meshes: Servers, redis_server: RedisServer) -> Iterator[AppProcess]:
    """The running example, with empty Redis (no bindings, fresh limits) and a clean fake;
    afterwards, no token this test had issued is in the app's output."""
    redis_server.flush()
    yield example
    assert_no_credentials(example.output(), meshes.fake.issued_tokens())


def assert_no_credentials(output: str, tokens: list[str]) -> None:
    for secret in [TEST_SECRET_KEY, *tokens]:
        assert secret not in output
    assert "eyJ" not in output  # no JWT


@pytest.fixture
def alice(app: AppProcess) -> Iterator[Visitor]:
    with Visitor(app) as visitor:
        assert visitor.login("alice").status_code in (302, 303)
        yield visitor


@pytest.fixture
def bob(app: AppProcess) -> Iterator[Visitor]:
    with Visitor(app) as visitor:
        assert visitor.login("bob").status_code in (302, 303)
        yield visitor


def assert_error(answer, status: int, error: str | None = None) -> None:
    assert answer.status_code == status, answer.text[:300]
    if error is not None:
        assert answer.json()["error"] == error


def test_login_is_required(app: AppProcess, meshes: Servers) -> None:
    with Visitor(app) as anonymous:
        assert_error(anonymous.mint(), 401, "login-required")
        assert_error(anonymous.refresh("sess_anything"), 401, "login-required")
        assert anonymous.http.get("/").status_code in (302, 303)  # the page wants a login
        assert anonymous.login("alice", "wrong-password").status_code == 401
        assert_error(anonymous.mint(), 401, "login-required")
    assert meshes.api.calls() == []


def test_another_sites_form_cannot_log_the_visitor_in(app: AppProcess, meshes: Servers) -> None:
    """Login CSRF: a page elsewhere posts the attacker's credentials to /login from the
    victim's browser, so that the embed would show the attacker's Meshes data."""
    credentials = {"username": "bob", "password": PASSWORD}
    with Visitor(app) as victim, Visitor(app) as attacker:
        # From the attacker's page: a foreign Origin and no token (the victim's cookies are
        # sent, as a browser without SameSite would).
        refused = victim.http.post("/login", data=credentials, headers={"Origin": EVIL_ORIGIN})
        assert refused.status_code in (400, 403), refused.status_code
        assert not victim.is_logged_in()
        assert_error(victim.mint(), 401, "login-required")
        # The attacker's own valid token does not fit the victim's session.
        stolen = form_token(attacker.http.get("/login").text)
        assert stolen
        refused = victim.http.post("/login", data={**credentials, **stolen})
        assert refused.status_code in (400, 403), refused.status_code
        assert not victim.is_logged_in()
    with httpx.Client(base_url=app.url, follow_redirects=False) as fresh:  # no cookie at all
        refused = fresh.post("/login", data=credentials, headers={"Origin": EVIL_ORIGIN})
        assert refused.status_code in (400, 403), refused.status_code
        assert fresh.get("/").status_code in (302, 303)
    assert meshes.api.calls() == []


def test_another_sites_form_cannot_log_the_user_out(alice: Visitor, meshes: Servers) -> None:
    session_id = alice.mint().json()["session_id"]
    refused = alice.http.post("/logout", headers={"Origin": EVIL_ORIGIN})
    assert refused.status_code in (400, 403), refused.status_code
    refused = alice.http.post("/logout", data={"csrf_token": "forged", "csrfmiddlewaretoken": "x"})
    assert refused.status_code in (400, 403), refused.status_code
    assert alice.is_logged_in()
    assert meshes.api.revoked_ids() == []
    assert alice.refresh(session_id).status_code == 200


def test_a_cookie_saved_before_logout_does_not_work_after_it(
    alice: Visitor, meshes: Servers
) -> None:
    """Logout ends the session on the server: a copy of the cookie (a shared computer, a
    stolen backup) cannot carry on as the user."""
    saved = httpx.Cookies(alice.http.cookies)
    assert alice.logout().status_code in (302, 303)
    with Visitor(alice.app) as replay:
        replay.http.cookies = saved
        assert not replay.is_logged_in()
        assert_error(replay.mint(), 401, "login-required")
    assert meshes.api.calls("create") == []


def test_a_mint_and_a_refresh_for_the_logged_in_user(alice: Visitor, meshes: Servers) -> None:
    answer = alice.mint({"launch_page": "connections"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["Cache-Control"].startswith("no-store")
    session = answer.json()
    assert set(session) == {"session_id", "access_token", "expires_at", "launch_url"}
    assert session["launch_url"].startswith(meshes.embed_url + "/workspace/connections?")
    view = meshes.fake.session(session["session_id"])
    assert view.external_user_id  # the server's user id, not the browser's word
    assert view.allowed_origins == (alice.app.origin,) and view.role == "member"

    renewed = alice.refresh(session["session_id"])
    assert renewed.status_code == 200, renewed.text
    assert renewed.headers["Cache-Control"].startswith("no-store")
    assert set(renewed.json()) == {"access_token", "expires_at"}
    assert meshes.fake.inspect_token(renewed.json()["access_token"]).valid


def test_a_foreign_origin_is_refused(alice: Visitor, meshes: Servers) -> None:
    for origin in ("https://evil.example", "null", alice.app.origin + ".evil.example"):
        assert_error(alice.mint(origin=origin), 403)
    session_id = alice.mint().json()["session_id"]
    assert_error(alice.refresh(session_id, origin="https://evil.example"), 403)
    assert len(meshes.api.calls("create")) == 1


def test_a_cross_site_form_cannot_post(framework: str, alice: Visitor, meshes: Servers) -> None:
    form = "launch_page=connections"
    for content_type in (
        "application/x-www-form-urlencoded",
        "text/plain",
        "multipart/form-data; boundary=x",
    ):
        answer = alice.mint(content=form, content_type=content_type)
        assert answer.status_code in (403, 415), (content_type, answer.status_code)
    assert meshes.api.calls("create") == []


def test_django_needs_the_csrf_header(framework: str, alice: Visitor, meshes: Servers) -> None:
    if framework != "django":
        pytest.skip("CSRF tokens are Django's; the others rely on Origin + JSON")
    assert_error(alice.mint(csrf=False), 403)
    assert_error(alice.mint(csrf=False, headers={"X-CSRFToken": "forged" * 6}), 403)
    assert meshes.api.calls("create") == []
    assert alice.mint().status_code == 200


@pytest.mark.parametrize("field", FORBIDDEN_FIELDS)
def test_the_browser_cannot_choose_what_the_server_decides(
    field: str, alice: Visitor, meshes: Servers
) -> None:
    values = {
        "role": "owner",
        "workspace_id": "5f0c3c9e-6d1b-4a57-9a53-2f1d8e0b7a11",
        "external_user_id": "bob",
        "allowed_origins": ["https://evil.example"],
        "ttl_seconds": 3600,
        "scopes": ["events.payload:read"],
    }
    answer = alice.mint({"launch_page": "rules", field: values[field]})
    assert_error(answer, 400, "field-not-allowed")
    assert answer.json()["field"] == field
    assert meshes.api.calls("create") == [] and meshes.fake.sessions() == []


def test_an_unknown_launch_page_is_a_bad_value(alice: Visitor, meshes: Servers) -> None:
    for page in ("billing", "", 7, None):
        answer = alice.mint({"launch_page": page})
        assert_error(answer, 400, "bad-value")
        assert answer.json()["field"] == "launch_page"
    assert_error(alice.mint(content="{not json"), 400, "bad-value")
    assert meshes.api.calls("create") == []


def test_no_one_refreshes_another_users_session(
    alice: Visitor, bob: Visitor, meshes: Servers
) -> None:
    alices = alice.mint().json()["session_id"]
    stolen = bob.refresh(alices)
    unknown = bob.refresh("sess_00000000-0000-0000-0000-000000000000")
    malformed = bob.refresh("..%2F..%2Fetc")
    assert stolen.status_code == unknown.status_code == 404
    assert stolen.json() == unknown.json() == {"error": "not-found"}
    assert malformed.status_code == 404
    assert meshes.api.calls("refresh") == []  # nothing reached Meshes
    assert alice.refresh(alices).status_code == 200


def test_a_session_meshes_forgot_is_gone(alice: Visitor, meshes: Servers) -> None:
    session_id = alice.mint().json()["session_id"]
    meshes.fake.revoke(session_id)
    assert_error(alice.refresh(session_id), 404, "session-gone")
    assert_error(alice.refresh(session_id), 404, "not-found")  # the binding went with it


def test_meshes_5xx_is_a_502_after_bounded_retries(alice: Visitor, meshes: Servers) -> None:
    meshes.api.fail_next("create", 503, count=10)
    assert_error(alice.mint(), 502, "meshes-unavailable")
    assert 2 <= len(meshes.api.calls("create")) <= 4
    meshes.api.clear_injections()
    session_id = alice.mint().json()["session_id"]
    meshes.api.fail_next("refresh", 500, count=10)
    assert_error(alice.refresh(session_id), 502, "meshes-unavailable")


def test_the_eleventh_mint_in_a_minute_is_refused(
    alice: Visitor, bob: Visitor, meshes: Servers
) -> None:
    for _ in range(10):
        assert alice.mint().status_code == 200
    refused = alice.mint()
    assert_error(refused, 429, "rate-limited")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert len(meshes.api.calls("create")) == 10
    assert bob.mint().status_code == 200  # per user


def test_logout_revokes_the_users_sessions(alice: Visitor, bob: Visitor, meshes: Servers):
    mine = {alice.mint().json()["session_id"] for _ in range(2)}
    bobs = bob.mint().json()["session_id"]
    assert alice.logout().status_code in (302, 303)
    assert set(meshes.api.revoked_ids()) == mine
    assert not meshes.fake.session(bobs).revoked
    assert_error(alice.mint(), 401, "login-required")


def test_the_app_logs_what_it_does_without_credentials(alice: Visitor, meshes: Servers) -> None:
    session_id = alice.mint().json()["session_id"]
    alice.refresh(session_id)
    alice.logout()
    output = alice.app.output()
    assert session_id in output  # the service logged the mint (ids are not secrets)
    assert_no_credentials(output, meshes.fake.issued_tokens())


@pytest.fixture(scope="module")
def misconfigured(framework: str, meshes_fake: Servers) -> Iterator[AppProcess]:
    """The example with a machine secret Meshes does not know."""
    with start_example(framework, meshes_fake, MESHES_SECRET_KEY="msk_test_" + "W" * 64) as app:
        yield app


def test_meshes_refusing_our_credentials_is_a_500_named_in_the_log(
    misconfigured: AppProcess, meshes: Servers
) -> None:
    with Visitor(misconfigured) as visitor:
        visitor.login("alice")
        answer = visitor.mint()
    assert_error(answer, 500, "meshes-credentials")
    (call,) = meshes.api.calls("create")
    assert call.status == 401 and call.rejection  # the fake really refused the JWT
    output = misconfigured.output()
    assert "MESHES_SECRET_KEY" in output  # the log line names the cause
    assert "W" * 64 not in output and TEST_SECRET_KEY not in output and "eyJ" not in output


@pytest.fixture(scope="module")
def second_example(
    framework: str, meshes_fake: Servers, redis_server: RedisServer
) -> Iterator[AppProcess]:
    """Another process of the same app on the same Redis (a second worker, a second host)."""
    with start_example(framework, meshes_fake, MESHES_BRIDGE_REDIS_URL=redis_server.url) as app:
        yield app


def assert_two_processes_share_bindings_and_limits(
    app: AppProcess, second: AppProcess, meshes: Servers
) -> None:
    """Alice mints on one process and refreshes on the other; Bob may not refresh her
    session; her per-user limit counts across both; her logout on one revokes every session
    either minted for her, and none of Bob's."""
    with Visitor(app) as on_a, Visitor(second) as on_b:
        assert on_a.login("alice").status_code in (302, 303)
        assert on_b.login("alice").status_code in (302, 303)
        session_id = on_a.mint().json()["session_id"]
        assert on_b.refresh(session_id).status_code == 200  # bound where B sees it
        with Visitor(second) as bob:
            bob.login("bob")
            assert_error(bob.refresh(session_id), 404, "not-found")  # only the owner
            bobs = bob.mint().json()["session_id"]
        for visitor in [on_b] * 5 + [on_a] * 4:  # with the first, 10 mints across both
            assert visitor.mint().status_code == 200
        assert_error(on_b.mint(), 429, "rate-limited")
        assert_error(on_a.mint(), 429, "rate-limited")
        assert on_b.logout().status_code in (302, 303)  # revokes what A minted too
    revoked = meshes.api.revoked_ids()
    assert len(revoked) == 10 and session_id in revoked and bobs not in revoked


def test_two_app_processes_share_bindings_and_limits(
    app: AppProcess, second_example: AppProcess, meshes: Servers
) -> None:
    assert_two_processes_share_bindings_and_limits(app, second_example, meshes)
