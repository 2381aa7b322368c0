"""Container configuration features (host interface 2): `data-session-body` is the mint
body, the CSRF cookie/header pair rides on both POSTs, `data-min-height` is the iframe's
height from the start."""

from __future__ import annotations

import json

from e2e.harness import HostPage
from tests.host.pages import REFRESH_PATH, SESSION_PATH, render_attrs

CSRF_VALUE = "csrf-value-0123456789abcdef"
CSRF_ATTRS = {"data-csrf-cookie": "csrftoken", "data-csrf-header": "X-CSRFToken"}

# Runs before any page script: each iframe's style.height at the moment it is inserted.
IFRAME_HEIGHTS = """
window.__iframeHeights = {};
new MutationObserver((records) => {
  for (const record of records) {
    for (const node of record.addedNodes) {
      if (node.tagName === "IFRAME" && node.parentElement) {
        window.__iframeHeights[node.parentElement.id] = node.style.height;
      }
    }
  }
}).observe(document, { childList: true, subtree: true });
"""


def _header(headers: dict[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def _container(element_id: str, attrs: dict) -> str:
    base = {
        "data-meshes-embed": True,
        "data-session-url": SESSION_PATH,
        "data-refresh-url": REFRESH_PATH,
        "id": element_id,
    }
    return f"<div{render_attrs({**base, **attrs})}></div>"


def test_session_body_and_min_height(host: HostPage) -> None:
    host.page.add_init_script(IFRAME_HEIGHTS)
    extra = "\n".join(
        _container(element_id, attrs)
        for element_id, attrs in (
            ("min-600", {"data-min-height": "600"}),
            ("min-fraction", {"data-min-height": "500.25"}),
            ("min-zero", {"data-min-height": "0", "data-max-height": "900"}),
        )
    )
    host.open(
        container_attrs={"data-session-body": {"launch_page": "connections"}}, extra_body=extra
    )
    for element_id in ("embed-1", "min-600", "min-fraction", "min-zero"):
        host.page.locator(f"#{element_id} iframe").wait_for(state="attached")
    # data-min-height is the iframe's height from the moment it is inserted.
    assert host.page.evaluate("window.__iframeHeights") == {
        "embed-1": "480px",  # the default
        "min-600": "600px",
        "min-fraction": "501px",  # rounded up to whole px
        "min-zero": "0px",
    }
    host.wait_authenticated()
    # data-session-body is the mint body; the others (no attribute) send {}.
    mints = host.servers.backend.calls("mint")
    assert len(mints) == 4
    bodies = sorted((json.loads(m.body) for m in mints), key=len)
    assert bodies == [{}, {}, {}, {"launch_page": "connections"}]
    for mint in mints:
        assert mint.method == "POST" and mint.path == SESSION_PATH
        assert _header(mint.headers, "Content-Type") == "application/json"
        assert mint.status == 200
    # The fake Meshes honoured it: the embed opened on the connections page.
    assert "/workspace/connections?launch=" in host.iframe().get_attribute("src")
    assert host.stub("status()")["page"] == "connections"
    for element_id in ("min-600", "min-fraction", "min-zero"):
        src = host.page.locator(f"#{element_id} iframe").get_attribute("src")
        assert "/workspace/dashboard?launch=" in src
    assert host.page.locator("[data-state='error']").count() == 0


def test_csrf_pair_rides_on_both_posts_and_without_it_the_mint_is_refused(
    host: HostPage,
) -> None:
    backend = host.servers.backend
    backend.csrf = True
    host.page.goto(host.servers.url(f"/set-csrf?value={CSRF_VALUE}"))
    # embed-1 names the pair; "plain" does not.
    host.open(container_attrs=CSRF_ATTRS, extra_body=_container("plain", {}))
    host.wait_authenticated()
    host.stub("askRefresh()")
    host.wait_event("token-refreshed")
    host.wait_state("authenticated")
    refused = host.page.locator("#plain")
    assert refused.get_attribute("data-state") == "error"
    assert refused.locator("iframe").count() == 0
    [error] = host.events("error")
    assert error["target"] == "plain"
    assert error["detail"]["code"] == "mint-failed"
    assert "403" in error["detail"]["message"]

    mints = backend.calls("mint")
    assert len(mints) == 2  # a 403 is not retried
    with_pair = [m for m in mints if _header(m.headers, "X-CSRFToken") is not None]
    without = [m for m in mints if _header(m.headers, "X-CSRFToken") is None]
    assert len(with_pair) == 1 and len(without) == 1
    assert _header(with_pair[0].headers, "X-CSRFToken") == CSRF_VALUE
    assert with_pair[0].status == 200
    assert without[0].status == 403
    [refresh] = backend.calls("refresh")
    assert _header(refresh.headers, "X-CSRFToken") == CSRF_VALUE
    assert refresh.status == 200
