"""The access token lives only in the bridge's memory (host interface 3.9).

After a full pass with data-debug on (auth, a refresh, navigations, a resize, a
token-expired and its recovery, rejected messages, one of them carrying the token), no
access token ever issued may be found anywhere a host, a script on the page or an
attacker could read it. Launch tokens are by design in the iframe's src, so the scan is
for access tokens only. And meshes:auth goes to the embed origin, never to "*".
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from e2e.harness import HostPage, child_frame, iframe_tag

ATTACK_ID = "attack"

# Everything a script on the host page can read back: attributes of every element (in
# shadow roots too), both storages, IndexedDB, Cache Storage, cookies, URL, history
# state, window.name and the resource timing entries.
PAGE_STATE = """
async () => {
  const text = (value) => JSON.stringify(value, (key, v) => {
    if (v instanceof ArrayBuffer) v = new Uint8Array(v);
    if (ArrayBuffer.isView(v)) return new TextDecoder("latin1").decode(v);
    return v;
  });
  const attributes = [];
  const walk = (root) => {
    for (const el of root.querySelectorAll("*")) {
      for (const a of el.attributes) attributes.push(el.tagName + " " + a.name + "=" + a.value);
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  walk(document);
  const storage = (s) => text(Object.fromEntries(Object.keys(s).map((k) => [k, s.getItem(k)])));
  const idb = [];
  const databases = indexedDB.databases ? await indexedDB.databases() : [];
  const done = (r) => new Promise((ok, ko) => {
    r.onsuccess = () => ok(r.result);
    r.onerror = () => ko(r.error);
  });
  for (const info of databases) {
    idb.push("database " + info.name);
    const db = await done(indexedDB.open(info.name));
    for (const name of db.objectStoreNames) {
      const store = db.transaction(name, "readonly").objectStore(name);
      idb.push(name + " keys " + text(await done(store.getAllKeys())));
      idb.push(name + " values " + text(await done(store.getAll())));
    }
    db.close();
  }
  const caches_ = [];
  if (globalThis.caches) {
    for (const key of await caches.keys()) {
      caches_.push(key);
      for (const request of await (await caches.open(key)).keys()) caches_.push(request.url);
    }
  }
  return {
    attributes: attributes.join("\\n"),
    localStorage: storage(localStorage),
    sessionStorage: storage(sessionStorage),
    indexedDB: idb.join("\\n"),
    cacheStorage: caches_.join("\\n"),
    documentCookie: document.cookie,
    location: location.href + " " + document.referrer + " " + text(history.state)
      + " " + history.length + " " + window.name + " " + document.title,
    performance: performance.getEntries().map((e) => e.name).join("\\n"),
  };
}
"""


def _readable_places(host: HostPage) -> dict[str, str]:
    """Every place to scan, by name, as text."""
    page = host.page
    places: dict[str, str] = dict(page.evaluate(PAGE_STATE))
    places["page.content()"] = page.content()
    places["page.url"] = page.url
    places["cookies"] = json.dumps(page.context.cookies())
    places["console"] = "\n".join(host.console)
    places["page errors"] = "\n".join(host.errors)
    places["event details"] = json.dumps(host.events())
    places["host page requests"] = "\n".join(
        f"{r.method} {r.url} {r.frame_url}\n{json.dumps(r.headers)}\n{r.body}"
        for r in host.host_requests()
    )
    places["backend requests"] = "\n".join(c.text() for c in host.servers.backend.calls())
    return places


def _leaks(places: dict[str, str], tokens: list[str]) -> list[str]:
    # Name a leaked token by its position only: the report itself must not spread it.
    return [
        f"access token #{n} found in {where}"
        for n, token in enumerate(tokens, 1)
        for where, text in places.items()
        if token in text
    ]


def test_no_access_token_anywhere_after_a_full_pass(host: HostPage) -> None:
    servers = host.servers
    transcript = servers.transcript
    host.open(
        script_attrs={"data-debug": True},
        extra_body=iframe_tag(servers.attack_url(), ATTACK_ID),
        frames=[servers.hostile_url],  # frame-src also names the attacker's origin
    )
    host.wait_authenticated()
    transcript.wait_for("token #1 valid")
    host.wait_event("resize")
    session_id = servers.fake.sessions()[0].session_id

    # A refresh asked by the embed.
    host.stub("askRefresh()")
    host.wait_event("token-refreshed")
    transcript.wait_for("token #2 valid")

    # Navigations: one by the embed's own links, one that echoes the current token back.
    host.stub("navigate('connections')")
    host.wait_event("navigate")
    echo = servers.fake.access_token(session_id)
    host.frame().evaluate(
        "t => window.stub.postRaw({type: 'meshes:navigate', page: 'rules', echo: t})", echo
    )
    navigations = host.wait_event("navigate", count=2)
    assert navigations[1]["detail"] == {"page": "rules"}

    # A resize.
    host.stub("resize(702)")
    host.page.wait_for_function(
        "() => window.__meshesEvents.some(e => e.name === 'resize' && e.detail.height === 702)"
    )

    # Token expired, then recovered with a fresh token.
    host.stub("expire()")
    host.wait_event("token-expired")
    host.wait_event("token-refreshed", count=2)
    transcript.wait_for("token #3 valid")
    host.wait_authenticated()

    # Rejected messages: a forged ready from the hostile origin, and a malformed message
    # from the embed that carries the current token.
    attack = child_frame(host.page, ATTACK_ID)
    attack.evaluate("() => window.attack.post({type: 'meshes:ready'})")
    current = servers.fake.access_token(session_id)
    host.frame().evaluate(
        "t => window.stub.postRaw({type: 'meshes:bogus', token: t, note: 'x ' + t})", current
    )
    host.wait_event("rejected", count=2)
    # Something after all of that, through the embed: every message above was handled.
    host.stub("resize(703)")
    host.page.wait_for_function(
        "() => window.__meshesEvents.some(e => e.name === 'resize' && e.detail.height === 703)"
    )

    tokens = host.access_tokens()
    assert len(tokens) == 3  # mint + the asked refresh + the recovery refresh
    assert host.container().get_attribute("data-state") == "authenticated"
    # The debug log did speak (so the scan of it means something).
    assert any("sent meshes:auth" in line for line in host.console)
    assert _leaks(_readable_places(host), tokens) == []
    # meshes:auth is never posted with targetOrigin "*": the hostile frame got nothing.
    assert attack.evaluate("window.attack.received()") == []
    assert servers.hostile.tokens_received() == []


# A same-origin stand-in for the embed: same-origin, so it can record how the bridge calls
# its window's postMessage (the targetOrigin is not observable across origins).
PROBE_EMBED = """<!doctype html>
<html><head><meta charset="utf-8"><title>probe embed</title></head><body>
<script>
  window.__posted = [];
  const realPost = window.postMessage.bind(window);
  window.postMessage = function (message, targetOrigin, transfer) {
    window.__posted.push({
      type: message && message.type,
      hasToken: !!(message && typeof message.token === "string"),
      targetOrigin: typeof targetOrigin === "string" ? targetOrigin : JSON.stringify(targetOrigin),
    });
    return realPost(message, targetOrigin, transfer);
  };
  window.__ready = () => window.parent.postMessage({type: "meshes:ready"}, location.origin);
  window.__ready();
</script>
</body></html>
"""


def test_auth_is_posted_to_the_embed_origin_never_star(host: HostPage) -> None:
    servers = host.servers
    launch_url = servers.backend.add_page("/probe-embed/workspace/dashboard", PROBE_EMBED)
    expires = datetime.now(timezone.utc) + timedelta(minutes=30)
    servers.backend.fail_next(
        "mint",
        200,
        body={
            "session_id": "sess_probe",
            "access_token": "mat_probe_access_token_for_target_origin",
            "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "launch_url": launch_url + "?launch=mlt_probe",
        },
    )
    # frame-src names the probe's origin (the host's own) and the attacker's, not the stub's.
    host.open(
        extra_body=iframe_tag(servers.attack_url(), ATTACK_ID),
        frames=[servers.host_url, servers.hostile_url],
    )
    host.wait_authenticated()
    probe = host.iframe().element_handle().content_frame()
    assert probe is not None
    probe.wait_for_function("window.__posted.length >= 1")
    # A later ready is answered again, again to the embed origin.
    probe.evaluate("window.__ready()")
    probe.wait_for_function("window.__posted.length >= 2")

    posted: list[dict[str, Any]] = probe.evaluate("window.__posted")
    assert posted == [
        {"type": "meshes:auth", "hasToken": True, "targetOrigin": servers.host_url}
    ] * len(posted)
    attack = child_frame(host.page, ATTACK_ID)
    assert attack.evaluate("window.attack.received()") == []
    assert servers.hostile.tokens_received() == []
