"""Attackers: pages on the HOSTILE origin, and a wrong frame on the EMBED origin.

* ``GET /attack?target=<host origin>`` (hostile origin): a page a host test page iframes
  (or opens as a popup). ``window.attack.post(obj, targetOrigin?)`` posts a forged message
  to ``window.parent`` (or ``window.opener`` when it is not framed); ``targetOrigin``
  defaults to `target`, else ``"*"``.
* ``GET /other-frame?target=<host origin>`` (EMBED origin): NOT the bridge's iframe, but
  of the right origin; ``window.attack.post(obj)`` posts to its parent with the host origin
  as targetOrigin (tests that ``event.source`` is checked).

Both pages also offer ``attack.open(url)``, ``attack.postToOpened(obj, targetOrigin)``
and ``attack.received()``. Every message they receive is recorded in
:meth:`Hostile.messages` (raw, so a test can see a leaked token) and in the transcript
(redacted).
"""

from __future__ import annotations

import html
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from meshes_bridge.testing.doubles._http import add_diagnostics
from meshes_bridge.testing.doubles.transcript import ACCESS_TOKEN_PREFIX, Transcript

_ATTACK_JS = """
(() => {
  "use strict";
  const cfg = JSON.parse(document.getElementById("attack-config").textContent);
  const received = [];
  let opened = null;

  function encode(data) {
    try { return JSON.parse(JSON.stringify(data)); } catch (error) { return String(data); }
  }
  function report(kind, fields) {
    return fetch(cfg.reportUrl, {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify(Object.assign({kind, page: cfg.page}, fields)),
      keepalive: true,
    }).catch(() => {});
  }
  function typeOf(obj) {
    return obj && typeof obj === "object" && typeof obj.type === "string" ? obj.type : typeof obj;
  }
  function send(win, label, obj, targetOrigin) {
    const to = targetOrigin || cfg.target || "*";
    if (!win) throw new Error("no " + label + " window to post to");
    win.postMessage(obj, to);
    report("posted", {to: label, type: typeOf(obj), targetOrigin: to});
    return true;
  }

  window.addEventListener("message", (event) => {
    const entry = {origin: event.origin, data: encode(event.data)};
    received.push(entry);
    report("received", entry);
  });

  window.attack = Object.freeze({
    post: (obj, targetOrigin) => window.parent !== window
      ? send(window.parent, "parent", obj, targetOrigin)
      : send(window.opener, "opener", obj, targetOrigin),
    postToParent: (obj, targetOrigin) => send(window.parent, "parent", obj, targetOrigin),
    postToOpener: (obj, targetOrigin) => send(window.opener, "opener", obj, targetOrigin),
    open: (url) => { opened = window.open(url); return opened !== null; },
    postToOpened: (obj, targetOrigin) => send(opened, "opened", obj, targetOrigin),
    received: () => received.slice(),
  });

  if (cfg.postReady && window.parent !== window) {
    send(window.parent, "parent", {type: "meshes:ready"}, "*");
  }
})();
"""


@dataclass(frozen=True)
class HostileMessage:
    """A message an attacker page received: `data` is raw (it may hold a leaked token)."""

    time: float
    page: str
    origin: str
    data: Any


def attack_page_html(page: str, target: str, report_url: str, post_ready: bool) -> str:
    """One attacker page (see the module doc); `target` is the default targetOrigin."""
    config = json.dumps(
        {"page": page, "target": target, "reportUrl": report_url, "postReady": post_ready}
    ).replace("<", "\\u003c")
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(page)}</title>\n</head>\n<body>\n"
        f"<h1>{html.escape(page)}</h1>\n<p>target: {html.escape(target or '*')}</p>\n"
        f'<script type="application/json" id="attack-config">{config}</script>\n'
        f"<script>{_ATTACK_JS}</script>\n</body>\n</html>\n"
    )


class Hostile:
    """The attackers' server side and their record of what they received."""

    #: The pages whose reports are recorded (a subclass adding a page names it here).
    pages: tuple[str, ...] = ("attack", "other-frame")

    def __init__(self, transcript: Transcript, host_url: str) -> None:
        self.transcript = transcript
        self.host_url = host_url.rstrip("/")
        self._lock = threading.Lock()
        self._messages: list[HostileMessage] = []

    def messages(self, page: str | None = None) -> list[HostileMessage]:
        """Every message the attacker pages (or one of them) received, oldest first."""
        with self._lock:
            return [m for m in self._messages if page is None or m.page == page]

    def tokens_received(self) -> list[str]:
        """Every string under a ``token`` key, or holding an access token, in a received
        message: a leak when not empty."""
        found: list[str] = []
        for message in self.messages():
            found.extend(_tokens(message.data))
        return found

    def clear(self) -> None:
        """Forget the received messages."""
        with self._lock:
            self._messages.clear()

    def make_app(self) -> web.Application:
        """The aiohttp application for the hostile origin."""
        app = web.Application()
        add_diagnostics(app)
        app.router.add_get("/attack", self._attack)
        app.router.add_post("/hostile/report", self._report)
        return app

    def add_other_frame(self, app: web.Application) -> None:
        """Add ``/other-frame`` (and its report URL) to the embed origin's application."""
        app.router.add_get("/other-frame", self._other_frame)
        app.router.add_post("/other-frame/report", self._report)

    async def _attack(self, request: web.Request) -> web.Response:
        target = request.query.get("target", "")
        return html_response(
            attack_page_html("attack", target, "/hostile/report", post_ready=False)
        )

    async def _other_frame(self, request: web.Request) -> web.Response:
        target = request.query.get("target", self.host_url)
        return html_response(
            attack_page_html("other-frame", target, "/other-frame/report", post_ready=False)
        )

    async def _report(self, request: web.Request) -> web.Response:
        try:
            report = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(text="not JSON") from None
        if not isinstance(report, dict) or report.get("page") not in self.pages:
            raise web.HTTPBadRequest(text="unknown report")
        page = str(report["page"])
        if report.get("kind") == "received":
            origin = str(report.get("origin", ""))[:200]
            data = report.get("data")
            with self._lock:
                self._messages.append(HostileMessage(time.time(), page, origin, data))
            shown = json.dumps(data)[:300]
            self.transcript.add(
                "hostile",
                "received",
                f"hostile {page} RECEIVED a message from {origin}: {shown}",
                page=page,
                origin=origin,
            )
        else:
            kind = str(report.get("type", ""))[:60]
            to = str(report.get("to", ""))[:20]
            target = str(report.get("targetOrigin", ""))[:200]
            self.transcript.add(
                "hostile",
                "posted",
                f"hostile {page} posted {kind} to its {to} (targetOrigin {target})",
                page=page,
                type=kind,
                target_origin=target,
            )
        return web.Response(status=204)


def html_response(text: str) -> web.Response:
    """An attacker page's answer (never cached)."""
    return web.Response(text=text, content_type="text/html", headers={"Cache-Control": "no-store"})


def _tokens(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        if ACCESS_TOKEN_PREFIX in value:
            yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "token" and isinstance(item, str) and ACCESS_TOKEN_PREFIX not in item:
                yield item
            else:
                yield from _tokens(item)
    elif isinstance(value, list):
        for item in value:
            yield from _tokens(item)
