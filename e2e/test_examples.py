"""The three example apps in Chromium, on both interpreters: log in as alice through the
app's own form, the embed authenticates, a refresh works, bob cannot refresh alice's
session, logout revokes it. Each app runs under its framework's real server as a separate
process (in-process bindings here; tests/server/test_examples_http.py runs them on Redis)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from meshes_bridge.testing import ask_refresh, expect_embed_authenticated, log_in
from meshes_bridge.testing.processes import AppProcess
from tests.host.servers import HostServers
from tests.support import FRAMEWORKS, PASSWORD, start_example

# A refresh POST from a page's own JavaScript, as a curious logged-in user would try it.
FETCH_REFRESH = """async (path) => {
  const headers = {"Content-Type": "application/json"};
  const csrf = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="));
  if (csrf) headers["X-CSRFToken"] = csrf.split("=")[1];
  const answer = await fetch(path, {method: "POST", headers, body: "{}"});
  return [answer.status, await answer.text()];
}"""

# Every securitypolicyviolation on a page, recorded before any of its scripts runs.
CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.effectiveDirective} ${e.blockedURI} ${e.sourceFile}`);
});
"""


@pytest.fixture(scope="module", params=FRAMEWORKS)
def example(request: pytest.FixtureRequest, session_servers: HostServers) -> Iterator[AppProcess]:
    with start_example(request.param, session_servers.meshes) as app:
        yield app


def log_in_quietly(page: Page, app: AppProcess, username: str) -> None:
    """Log in through the app's form. The page it lands on would start the bridge on the
    default runtime (a mint the test did not ask for): its loader is held back meanwhile."""
    loader = "**/static/meshes-bridge/loader.js"
    page.route(loader, lambda route: route.abort())
    log_in(page, app.url + "/login", username, PASSWORD)
    expect(page).to_have_url(app.url + "/")
    page.unroute(loader)


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[[], Page]]:
    """Pages in browser contexts of their own (own cookies), all closed after the test."""
    contexts: list[BrowserContext] = []

    def make() -> Page:
        contexts.append(browser.new_context())
        return contexts[-1].new_page()

    yield make
    for context in contexts:
        context.close()


def test_alice_embeds_refreshes_and_logs_out(
    example: AppProcess, servers: HostServers, runtime: str, new_page: Callable[[], Page]
) -> None:
    alice = new_page()
    alice.add_init_script(CSP_VIOLATIONS)
    log_in_quietly(alice, example, "alice")
    response = alice.goto(f"{example.url}/?runtime={runtime}")
    # The page is served with the helpers' strict policy (no 'unsafe-eval' or
    # 'unsafe-inline'), and nothing on it is refused.
    assert response is not None
    csp = response.headers["content-security-policy"]
    assert "'wasm-unsafe-eval'" in csp and "'unsafe-eval'" not in csp
    assert "'unsafe-inline'" not in csp
    embed = expect_embed_authenticated(alice)
    session = servers.fake.session(embed.session_id)
    assert session.host_origin == example.origin and session.external_user_id
    assert len(servers.fake.sessions()) == 1

    # A refresh asked by the embed goes through the app's endpoint, bound to alice.
    assert ask_refresh(embed, servers) == 2
    assert [c.endpoint for c in servers.api.calls()] == ["create", "refresh"]
    assert alice.evaluate("() => window.__cspViolations") == []

    # Bob, logged in in his own browser, cannot refresh alice's session.
    bob = new_page()
    log_in_quietly(bob, example, "bob")
    status, body = bob.evaluate(FETCH_REFRESH, f"/meshes/session/{session.session_id}/refresh")
    assert status == 404 and "not-found" in body
    assert len(servers.api.calls("refresh")) == 1

    # Logout revokes alice's live session at Meshes.
    with alice.expect_navigation():
        alice.locator("form[action$='/logout'] [type=submit]").click()
    assert session.session_id in servers.api.revoked_ids()
    assert servers.fake.session(session.session_id).revoked
    for token in servers.fake.issued_tokens():
        assert token not in alice.content() and token not in alice.url
