"""Which launch_url the bridge will frame (host interface 3.2 and `data-embed-origin`).

The embed origin comes from the mint's launch_url: it must be https (or http on a loopback
host), and when the container names `data-embed-origin`, exactly that origin. A refused
launch_url means state `error`, a `meshes-bridge:error` event, no iframe at all, and no
token in the error.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from playwright.sync_api import Route

from e2e.harness import HostPage, origin_of

HTTPS_EMBED = "https://embed.meshes.test"


def _session(n: int, launch_url: str) -> dict[str, Any]:
    """A mint answer with a token we know (the fake Meshes never issued it)."""
    expires = datetime.now(timezone.utc) + timedelta(minutes=30)
    return {
        "session_id": f"sess_injected_{n}",
        "access_token": f"mat_injected_access_token_{n}_do_not_leak",
        "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "launch_url": launch_url,
        "workspace_id": "5f0c3c9e-6d1b-4a57-9a53-2f1d8e0b7a11",
        "role": "member",
    }


def _no_token_in_errors(host: HostPage, tokens: list[str]) -> None:
    errors = json.dumps(host.events("error"))
    console = "\n".join(host.console)
    assert tokens
    assert [t for t in tokens if t in errors or t in console] == []


def test_launch_url_off_data_embed_origin_is_refused(host: HostPage) -> None:
    servers = host.servers
    # The mint answers a launch_url on the hostile origin (a mimic of the embed).
    servers.fake.launch_base_url = servers.hostile_url + "/evil-embed"
    host.open(container_attrs={"data-embed-origin": servers.embed_url})
    host.wait_state("error")
    errors = host.wait_event("error")
    assert [e["detail"]["code"] for e in errors] == ["embed-origin"]
    assert set(errors[0]["detail"]) == {"code", "message"}
    assert host.iframe().count() == 0
    # No iframe was ever made: nothing was asked of the hostile origin at all.
    assert [r.url for r in host.requests if origin_of(r.url) == servers.hostile_url] == []
    assert servers.transcript.count("evil embed loaded") == 0
    assert servers.hostile.tokens_received() == []
    assert host.events("ready") == [] and host.events("authenticated") == []
    assert len(servers.backend.calls("mint")) == 1
    _no_token_in_errors(host, servers.fake.issued_tokens())


# Each is refused as a launch_url (code launch-url) whatever data-embed-origin says.
REFUSED_LAUNCH_URLS = (
    "http://embed.example.test/workspace/dashboard?launch=mlt_refused_1",
    "http://10.20.30.40/workspace/dashboard?launch=mlt_refused_2",
    "http://localhost.evil.test/workspace/dashboard?launch=mlt_refused_3",
    "javascript:parent.postMessage({type:'meshes:ready'},'*')",
)


def test_insecure_or_odd_launch_urls_are_refused(host: HostPage) -> None:
    servers = host.servers
    sessions = [_session(n, url) for n, url in enumerate(REFUSED_LAUNCH_URLS, 1)]
    for body in sessions:
        servers.backend.fail_next("mint", 200, body=body)
    count = len(sessions)
    # One container per launch_url: their mints are answered in arrival order, and
    # every answer must end the same way.
    host.open(containers=count)
    for index in range(1, count + 1):
        host.wait_state("error", index=index)
    errors = host.wait_event("error", count=count)
    assert sorted(e["target"] for e in errors) == [f"embed-{n}" for n in range(1, count + 1)]
    assert [e["detail"]["code"] for e in errors] == ["launch-url"] * count
    assert host.page.locator("iframe").count() == 0
    # Not one request left the host origin: no iframe navigation ever started.
    assert [r.url for r in host.requests if origin_of(r.url) != servers.host_url] == []
    assert len(servers.backend.calls("mint")) == count
    _no_token_in_errors(host, [s["access_token"] for s in sessions])


# Served by Playwright in place of https://embed.meshes.test: says ready, records what the
# host page sends it.
HTTPS_EMBED_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>https embed</title></head><body>
<script>
  window.__got = [];
  window.addEventListener("message", (e) => {
    window.__got.push({origin: e.origin, type: e.data && e.data.type, token: e.data.token});
  });
  window.parent.postMessage({type: "meshes:ready"}, HOST_ORIGIN);
</script>
</body></html>
"""


def test_https_launch_url_on_data_embed_origin_is_framed(host: HostPage) -> None:
    servers = host.servers
    launch_url = HTTPS_EMBED + "/workspace/dashboard?launch=mlt_https_probe"
    session = _session(1, launch_url)
    servers.backend.fail_next("mint", 200, body=session)
    page_html = HTTPS_EMBED_PAGE.replace("HOST_ORIGIN", json.dumps(servers.host_url))

    def serve(route: Route) -> None:
        route.fulfill(status=200, content_type="text/html", body=page_html)

    host.page.route(HTTPS_EMBED + "/**", serve)
    # frame-src names this embed origin (the stub's stays listed, unused).
    host.open(container_attrs={"data-embed-origin": HTTPS_EMBED}, frames=[HTTPS_EMBED])
    host.wait_authenticated()
    assert host.iframe().get_attribute("src") == launch_url
    frame = host.iframe().element_handle().content_frame()
    assert frame is not None
    frame.wait_for_function("window.__got.length >= 1")
    got = frame.evaluate("window.__got")
    assert got == [
        {"origin": servers.host_url, "type": "meshes:auth", "token": session["access_token"]}
    ]
    assert host.events("error") == []
