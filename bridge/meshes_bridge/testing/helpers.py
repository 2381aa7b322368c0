"""Typed helpers for a host team's end-to-end test: each reads as the behaviour it checks.

    def test_the_embed_works(page, meshes_app, meshes):
        log_in(page, meshes_app.url, "alice", "demo-password")
        embed = expect_embed_authenticated(page)
        assert ask_refresh(embed, meshes) == 2
        assert post_foreign_message(embed, meshes)["reason"] == "origin"

Every helper waits on a condition (a DOM state, an event, a transcript line) with a
bounded timeout, never on a fixed sleep; a timeout raises with the transcript's last lines.
Playwright is imported lazily, so importing `meshes_bridge.testing` needs no browser.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from meshes_bridge.testing.doubles.management_api import API_ENDPOINTS, ApiEndpoint
from meshes_bridge.testing.doubles.transcript import TranscriptEntry
from meshes_bridge.testing.page_watch import watch_page

if TYPE_CHECKING:
    from playwright.sync_api import Frame, Locator, Page

    from meshes_bridge.testing.doubles.servers import Servers

BOOT_TIMEOUT_MS = 60_000  # Pyodide's cold start on a loaded 2-core CI machine
LOGIN_TIMEOUT_MS = 10_000  # a server page, no runtime to boot: a missing form shows fast
CONTAINER = "[data-meshes-embed]"

# Records the container's data-state values from now on (a MutationObserver), so a
# short-lived state such as "expired" cannot be missed between two polls.
_WATCH_STATES = """(container) => {
  const seen = [container.getAttribute("data-state")];
  new MutationObserver(() => seen.push(container.getAttribute("data-state")))
    .observe(container, {attributes: true, attributeFilter: ["data-state"]});
  container.__meshesStates = seen;
}"""

# The container's state once it is authenticated or failed for good (else falsy: wait on).
_SETTLED = """(container) => {
  const state = container.getAttribute("data-state");
  return state === "authenticated" || state === "error" ? state : false;
}"""

# Resolves with the next meshes-bridge:rejected detail seen anywhere in the document.
_NEXT_REJECTION = """() => {
  window.__meshesNextRejection = new Promise((resolve) => {
    document.addEventListener("meshes-bridge:rejected",
      (event) => resolve(JSON.parse(JSON.stringify(event.detail))), {once: true});
  });
}"""


@dataclass(frozen=True)
class Embed:
    """An authenticated embed on a page: its container, the iframe's frame, the session."""

    page: Page
    container: Locator
    frame: Frame
    session_id: str

    def status(self) -> dict[str, Any]:
        """What the stub embed knows (never a token): authenticated, token_generation, ..."""
        return dict(self.frame.evaluate("window.stub.status()"))

    def state(self) -> str | None:
        """The container's `data-state`."""
        return self.container.get_attribute("data-state")


def log_in(
    page: Page,
    url: str,
    username: str,
    password: str,
    *,
    path: str | None = None,
    username_field: str = "username",
    password_field: str = "password",
    timeout_ms: int = LOGIN_TIMEOUT_MS,
) -> None:
    """Open the login page `url` (the ``meshes_login_url`` fixture: your app's URL plus
    ``meshes_login_path``; or pass the app's URL with `path`), fill the form and submit it
    (Enter in the password field), waiting for the page it leads to.

    A page without ``input[name=<username_field>]`` fails within `timeout_ms` naming the
    URL opened and the selector; so does a login that lands back on the form (a wrong
    password, or a user the app's database does not hold). The page is watched first
    (``page_watch``), so a later failure can tell what the page saw.

    The app's bare URL with no `path` (``log_in(page, meshes_app.url, ...)``) still opens
    ``/login``, with a DeprecationWarning: name the login page instead.
    """
    __tracebackhide__ = True  # the report shows the test's line and this message
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    if path is None and urlsplit(url).path in ("", "/"):
        warnings.warn(
            "log_in(page, app_url, ...) opening /login is deprecated: pass the login page's "
            "URL (the meshes_login_url fixture; set meshes_login_path, e.g. Django's "
            '"/accounts/login/") or path=',
            DeprecationWarning,
            stacklevel=2,
        )
        path = "/login"
    login_url = url.rstrip("/") + path if path is not None else url
    watch_page(page)
    username_input = page.locator(f"input[name={username_field}]")
    password_input = page.locator(f"input[name={password_field}]")
    answer = page.goto(login_url, timeout=timeout_ms)
    status = answer.status if answer is not None else "no answer"
    try:
        username_input.wait_for(timeout=timeout_ms)
    except PlaywrightTimeout:
        raise AssertionError(
            f"log_in: opened {login_url} (HTTP {status}, now at {page.url}): no "
            f"input[name={username_field}] within {timeout_ms / 1000:g} s; pass your login "
            "page (meshes_login_path; Django's default is /accounts/login/) or "
            "username_field="
        ) from None
    username_input.fill(username)
    password_input.fill(password, timeout=timeout_ms)
    with page.expect_navigation(timeout=timeout_ms) as navigation:
        password_input.press("Enter")
    landed = navigation.value
    if _same_page(page.url, login_url) and password_input.count() > 0:
        code = landed.status if landed is not None else "no answer"
        raise AssertionError(
            f"log_in: submitted {login_url} as {username!r} (HTTP {code}) and landed on the "
            "login form again: a wrong password, or a user your app's database does not "
            "hold (Django: the test database is empty until you create the user)"
        )


def _same_page(current: str, login_url: str) -> bool:
    here, there = urlsplit(current), urlsplit(login_url)
    return (here.netloc, here.path.rstrip("/")) == (there.netloc, there.path.rstrip("/"))


def expect_embed_authenticated(
    page: Page, *, timeout_ms: int = BOOT_TIMEOUT_MS, index: int = 0
) -> Embed:
    """Wait until the `index`-th embed container on `page` is `authenticated` (the bridge
    minted a session, the iframe said ready and got its token); return it.

    When it is not, the AssertionError says why, redacted: the container's `data-state`
    and its `meshes-bridge:error` code and message, the host endpoints' answers the page
    received (``POST /meshes/session -> 429 rate-limited``), rejected messages, the
    bridge's console lines and the app's last log lines (``page_watch.PageWatch``).
    Waiting stops early once the container is in `error`: the bridge never leaves that state."""
    __tracebackhide__ = True  # the report shows the test's line and this message
    from playwright.sync_api import Error as PlaywrightError

    container = page.locator(CONTAINER).nth(index)
    watch = watch_page(page)
    try:
        handle = container.element_handle(timeout=timeout_ms)
        if handle is None:
            raise AssertionError("no container")
        state = page.wait_for_function(
            _SETTLED, arg=handle, timeout=timeout_ms, polling=100
        ).json_value()
    except (AssertionError, PlaywrightError):
        state = None
    if state != "authenticated":
        waited = f"not authenticated within {timeout_ms / 1000:g} s"
        what = "ended in error" if state == "error" else waited
        raise AssertionError(f"embed #{index} on {page.url}: {what}\n{watch.report(index)}")
    handle = container.locator("iframe").element_handle(timeout=timeout_ms)
    frame = handle.content_frame() if handle is not None else None
    if frame is None:
        raise AssertionError("the authenticated embed has no iframe document")
    frame.wait_for_function(
        "() => window.stub && window.stub.status().authenticated", timeout=timeout_ms
    )
    session_id = str(frame.evaluate("window.stub.status().session_id"))
    return Embed(page, container, frame, session_id)


def _auth_after(generation: int) -> Any:
    def match(entry: TranscriptEntry) -> bool:
        fields = entry.fields
        return (
            entry.event == "auth"
            and fields.get("valid") is True
            and isinstance(fields.get("generation"), int | float)
            and fields["generation"] > generation
        )

    return match


def ask_refresh(embed: Embed, meshes: Servers, *, timeout: float = 30) -> int:
    """The embed asks for a refresh (`meshes:token-refresh`); wait until it holds the new
    token, which went through the host's refresh endpoint; return its generation (2 after
    the first refresh of a session)."""
    before = int(embed.status().get("token_generation") or 1)
    mark = meshes.transcript.mark()
    embed.frame.evaluate("window.stub.askRefresh()")
    entry = meshes.transcript.wait_for(_auth_after(before), timeout=timeout, after=mark)
    return int(entry.fields["generation"])


def expire_token(embed: Embed, meshes: Servers, *, timeout: float = 30) -> list[str]:
    """The embed says its token expired (`meshes:token-expired`); wait for the fallback
    (`data-state="expired"`) and the recovery (`authenticated` with a new token); return
    the states the container went through."""
    embed.container.evaluate(_WATCH_STATES)
    before = int(embed.status().get("token_generation") or 1)
    mark = meshes.transcript.mark()
    embed.frame.evaluate("window.stub.expire()")
    meshes.transcript.wait_for(_auth_after(before), timeout=timeout, after=mark)
    embed.container.evaluate(
        """(c) => new Promise((resolve) => {
            const done = () => c.getAttribute("data-state") === "authenticated";
            if (done()) return resolve();
            new MutationObserver((_, o) => { if (done()) { o.disconnect(); resolve(); } })
              .observe(c, {attributes: true, attributeFilter: ["data-state"]});
        })""",
        timeout=timeout * 1000,
    )
    states = [str(s) for s in embed.container.evaluate("(c) => c.__meshesStates")]
    if "expired" not in states:
        raise AssertionError(f"the container never showed the expired state: {states}")
    return states


def post_foreign_message(
    embed: Embed,
    meshes: Servers,
    message: Any = None,
    *,
    timeout: float = 10,
) -> dict[str, Any]:
    """A page on the attacker origin (opened by the host page as a popup) posts `message`
    (default: a forged `meshes:ready`) to the host page; wait for the bridge's
    `meshes-bridge:rejected` and return its detail (`{"reason": "origin", "origin": ...}`).
    """
    page = embed.page
    origin = page.evaluate("location.origin")
    page.evaluate(_NEXT_REJECTION)
    with page.expect_popup(timeout=timeout * 1000) as popup_info:
        page.evaluate("(url) => { window.open(url, '_blank'); }", meshes.attack_url(origin))
    popup = popup_info.value
    try:
        popup.wait_for_function("() => window.attack !== undefined", timeout=timeout * 1000)
        if not popup.evaluate("() => window.opener !== null"):
            raise AssertionError(
                "the attacker's popup lost its opener: the page sends "
                "Cross-Origin-Opener-Policy: same-origin, which also cuts off the embed's "
                "OAuth popups; send same-origin-allow-popups (Django: "
                'SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin-allow-popups")'
            )
        forged = {"type": "meshes:ready"} if message is None else message
        popup.evaluate("(message) => window.attack.post(message)", json.loads(json.dumps(forged)))
        detail = page.evaluate(
            """(ms) => Promise.race([window.__meshesNextRejection,
                new Promise((_, reject) => setTimeout(
                  () => reject(new Error("no meshes-bridge:rejected event")), ms))])""",
            timeout * 1000,
        )
    finally:
        popup.close()
    return dict(detail)


def fail_next_meshes_call(
    meshes: Servers,
    endpoint: str,
    status: int = 503,
    *,
    count: int = 1,
    retry_after: float | None = None,
) -> None:
    """Meshes answers the next `count` calls to `endpoint` ("create", "refresh", "list",
    "revoke") with `status` (a 401 is what Meshes says to refused credentials)."""
    meshes.api.fail_next(_endpoint(endpoint), status, count=count, retry_after=retry_after)


def slow_meshes_calls(meshes: Servers, endpoint: str, seconds: float) -> None:
    """Meshes waits `seconds` before answering every call to `endpoint` (0: no delay)."""
    meshes.api.delay(_endpoint(endpoint), seconds)


def revoke_session(meshes: Servers, session_id: str) -> None:
    """Revoke a session at Meshes (as from its dashboard): the embed's token stops working
    and the next refresh of it answers 404 session-gone."""
    meshes.api.revoke(session_id)


def _endpoint(endpoint: str) -> ApiEndpoint:
    """`endpoint` as the fake's endpoint name; a ValueError for any other string."""
    for known in API_ENDPOINTS:
        if endpoint == known:
            return known
    raise ValueError(f"endpoint must be one of {API_ENDPOINTS}, not {endpoint!r}")
