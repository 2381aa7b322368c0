"""The EMBED origin: a stub of the Meshes embed that behaves as the contract says.

Routes (all on the embed origin):

* ``GET /workspace/{page}?launch=<token>``: the server consumes the launch token (single
  use, within its launch TTL). Valid: the stub page, which knows the session's host origin.
  Anything else: a 200 error page saying "Invalid or expired embed launch token" that runs
  no script and posts nothing (so a hard reload yields no ``meshes:ready``).
* ``GET /stub/embed.js``: the page script (``stub_embed.js`` next to this file).
* ``GET /stub/api/whoami`` with ``Authorization: Bearer <token>``: 200 ``{session_id,
  expires_at, expires_in, lifetime_seconds, generation}`` or 401 ``{error, message}``.
* ``POST /stub/api/report``: the page reports what it did; the lines go to the transcript.

The page script (see ``stub_embed.js``) posts ``meshes:ready`` to its parent with
targetOrigin = the host origin (while the page loads, or ``ready_delay_ms`` after ``load``),
accepts ``meshes:auth`` only from that origin and from ``window.parent``, checks the token
with ``whoami``, then shows "Authenticated (session sess_...)", posts ``meshes:resize``
(and again whenever its content height changes), schedules ``meshes:token-refresh``
``min(60, lifetime / 2)`` s before expiry and ``meshes:token-expired`` at expiry. A 401
(stale token) makes it post ``meshes:token-refresh`` at once. Its nav links post
``meshes:navigate``. Tests drive it through ``window.stub`` in the frame: ``askRefresh()``,
``expire()``, ``resize(h)``, ``navigate(page)``, ``postRaw(obj)``, ``ready()``,
``reload()``, ``status()``.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from aiohttp import web

from meshes_bridge.testing.doubles._http import add_diagnostics
from meshes_bridge.testing.doubles.fake_meshes import LAUNCH_PAGES, FakeMeshes, SessionView, iso_utc
from meshes_bridge.testing.doubles.transcript import Transcript

SCRIPT_PATH = Path(__file__).with_name("stub_embed.js")
SCRIPT_URL = "/stub/embed.js"
WHOAMI_URL = "/stub/api/whoami"
REPORT_URL = "/stub/api/report"
LAUNCH_ERROR = "Invalid or expired embed launch token"
REPORT_EVENTS = frozenset(
    {"ready", "auth", "resize", "navigate", "refresh-asked", "expired", "ignored", "raw-posted"}
)
_TOKEN_ERRORS = {
    "missing": ("authentication_required", "Authentication required"),
    "unknown": ("invalid_token", "Authentication required: unknown token"),
    "stale": ("stale_token", "Token is no longer valid (the session was refreshed)"),
    "expired": ("token_expired", "Token expired"),
    "revoked": ("session_revoked", "Session revoked"),
}

_STYLE = """
  :root { font: 14px/1.4 system-ui, sans-serif; color: #1f2430; }
  body { margin: 0; background: #f6f7fb; }
  #app { padding: 16px 20px 20px; box-sizing: border-box; }
  header { display: flex; align-items: center; gap: 12px; }
  header .logo { font-weight: 700; color: #5b3df5; }
  #stub-status { margin-left: auto; font-size: 12px; color: #555; }
  nav { display: flex; gap: 4px; margin: 12px 0 16px; border-bottom: 1px solid #dde; }
  nav a { padding: 6px 12px; text-decoration: none; color: #445; border-radius: 6px 6px 0 0; }
  nav a.active { background: #fff; color: #5b3df5; border: 1px solid #dde;
                 border-bottom-color: #fff; margin-bottom: -1px; }
  .row { height: 40px; margin: 0 0 8px; padding: 0 12px; display: flex; align-items: center;
         background: #fff; border: 1px solid #e3e5ee; border-radius: 6px; }
  .row span:last-child { margin-left: auto; color: #778; font-size: 12px; }
  .cards { display: grid; grid-template-columns: repeat(3, 1fr); gap: 12px; }
  .card { height: 110px; background: #fff; border: 1px solid #e3e5ee; border-radius: 8px;
          padding: 12px; box-sizing: border-box; }
  .card b { display: block; font-size: 24px; margin-top: 8px; }
  h2 { font-size: 15px; margin: 0 0 10px; }
  h2.sub { margin-top: 18px; }
"""

_ROWS: dict[str, list[tuple[str, str]]] = {
    "connections": [
        ("Salesforce", "connected"),
        ("HubSpot", "connected"),
        ("Slack", "needs attention"),
        ("Stripe", "connected"),
        ("Zendesk", "not connected"),
        ("Intercom", "not connected"),
        ("Mailchimp", "connected"),
        ("Google Sheets", "connected"),
        ("Webhook: billing", "connected"),
        ("Webhook: audit", "paused"),
    ],
    "rules": [
        ("contact.created -> HubSpot", "active"),
        ("deal.won -> Slack #sales", "active"),
        ("invoice.paid -> Stripe metadata", "paused"),
        ("ticket.opened -> Zendesk", "draft"),
    ],
    "events": [(f"evt_{n:04d} contact.updated", f"{n % 60:02d}s ago") for n in range(1, 19)],
}
_CARDS = [
    ("Events today", "1,284"),
    ("Deliveries", "99.2%"),
    ("Active rules", "12"),
    ("Connections", "7"),
    ("Retries", "3"),
    ("Errors", "0"),
]

_RECENT = [
    ("deal.won -> Slack #sales", "delivered 2s ago"),
    ("contact.created -> HubSpot", "delivered 9s ago"),
    ("invoice.paid -> Stripe", "delivered 1m ago"),
    ("contact.updated -> Google Sheets", "retried, delivered 3m ago"),
]


def _section(page: str, visible: bool) -> str:
    hidden = "" if visible else " hidden"
    if page == "dashboard":
        cards = "".join(
            f'<div class="card">{html.escape(a)}<b>{html.escape(b)}</b></div>' for a, b in _CARDS
        )
        recent = "".join(
            f'<div class="row"><span>{html.escape(a)}</span><span>{html.escape(b)}</span></div>'
            for a, b in _RECENT
        )
        inner = (
            f'<h2>Dashboard</h2><div class="cards">{cards}</div>'
            f'<h2 class="sub">Recent deliveries</h2>{recent}'
        )
    else:
        rows = "".join(
            f'<div class="row"><span>{html.escape(a)}</span><span>{html.escape(b)}</span></div>'
            for a, b in _ROWS[page]
        )
        inner = f"<h2>{page.capitalize()}</h2>{rows}"
    return f'<section data-page="{page}"{hidden}>{inner}</section>'


def _script_json(value: Any) -> str:
    """JSON that is safe inside a <script> element."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def stub_page_html(session: SessionView, page: str, ready_delay_ms: int) -> str:
    """The stub embed's page for `session`, showing `page`."""
    config = {
        "hostOrigin": session.host_origin,
        "sessionId": session.session_id,
        "page": page,
        "pages": list(LAUNCH_PAGES),
        "readyDelayMs": ready_delay_ms,
        "whoamiUrl": WHOAMI_URL,
        "reportUrl": REPORT_URL,
    }
    links = "".join(
        f'<a href="/workspace/{p}" data-page="{p}"{" class=active" if p == page else ""}>'
        f"{p.capitalize()}</a>"
        for p in LAUNCH_PAGES
    )
    sections = "".join(_section(p, p == page) for p in LAUNCH_PAGES)
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>Meshes (stub embed)</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        '<div id="app">\n<header><span class="logo">Meshes</span><span>stub embed</span>'
        '<span id="stub-status">Waiting for auth…</span></header>\n'
        f"<nav>{links}</nav>\n<main>{sections}</main>\n</div>\n"
        f'<script type="application/json" id="stub-config">{_script_json(config)}</script>\n'
        f'<script src="{SCRIPT_URL}"></script>\n</body>\n</html>\n'
    )


def launch_error_html() -> str:
    """The page served for a missing, unknown, used or expired launch token: no script."""
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        "<title>Meshes: embed error</title>\n</head>\n<body>\n"
        f'<h1 id="launch-error">{LAUNCH_ERROR}</h1>\n'
        "<p>Ask the host application to open the embed again.</p>\n</body>\n</html>\n"
    )


def _text(value: Any, limit: int = 120) -> str:
    return str(value)[:limit] if value is not None else ""


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def describe_report(report: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The transcript line and fields for one report from the stub page."""
    event = report["event"]
    sid = _text(report.get("session_id"), 60)
    page = _text(report.get("page"), 40)
    fields: dict[str, Any] = {"session_id": sid, "page": page}
    if event == "ready":
        return f"embed posted meshes:ready ({sid}, page {page})", fields
    if event == "auth":
        valid = report.get("valid") is True
        fields.update(valid=valid, status=_number(report.get("status")))
        if valid:
            generation = _number(report.get("generation"))
            expires_in = _number(report.get("expires_in")) or 0
            fields.update(generation=generation, expires_in=expires_in)
            return (
                f"embed got meshes:auth: token #{generation} valid ({sid}, "
                f"expires in {expires_in:.0f} s)"
            ), fields
        reason = _text(report.get("reason"), 60)
        fields["reason"] = reason
        return (
            f"embed got meshes:auth: token refused (HTTP {fields['status']} {reason}) ({sid})",
            fields,
        )
    if event == "resize":
        fields["height"] = _number(report.get("height"))
        return f"embed posted meshes:resize height={fields['height']}", fields
    if event == "navigate":
        fields["path"] = _text(report.get("path"), 80)
        return f"embed posted meshes:navigate page={page} path={fields['path']}", fields
    if event == "refresh-asked":
        fields["reason"] = _text(report.get("reason"), 40)
        return f"embed posted meshes:token-refresh ({fields['reason']})", fields
    if event == "expired":
        fields["reason"] = _text(report.get("reason"), 40)
        return f"embed posted meshes:token-expired ({fields['reason']})", fields
    if event == "ignored":
        fields.update(
            reason=_text(report.get("reason"), 60),
            origin=_text(report.get("origin"), 100),
            type=_text(report.get("type"), 40),
        )
        return (
            f"embed ignored a message ({fields['reason']}; origin {fields['origin']}, "
            f"type {fields['type']})"
        ), fields
    fields["type"] = _text(report.get("type"), 40)
    return f"embed posted a raw message (type {fields['type']})", fields


class StubEmbed:
    """The stub embed's server side; :meth:`make_app` is the embed origin's application."""

    def __init__(self, fake: FakeMeshes, transcript: Transcript) -> None:
        self.fake = fake
        self.transcript = transcript

    def make_app(self) -> web.Application:
        """The aiohttp application for the embed origin."""
        app = web.Application()
        add_diagnostics(app)
        app.router.add_get("/workspace/{page}", self._launch)
        app.router.add_get(SCRIPT_URL, self._script)
        app.router.add_get(WHOAMI_URL, self._whoami)
        app.router.add_post(REPORT_URL, self._report)
        return app

    async def _launch(self, request: web.Request) -> web.Response:
        page = request.match_info["page"]
        if page not in LAUNCH_PAGES:
            raise web.HTTPNotFound(text="no such embed page")
        result = self.fake.consume_launch(request.query.get("launch"))
        if not isinstance(result, str) and not result.host_origin:
            result = "without a host origin (the mint named no allowed_origins)"
        if isinstance(result, str):
            self.transcript.add(
                "embed",
                "launch-refused",
                f"embed refused a launch: token {result} ({LAUNCH_ERROR})",
                reason=result,
            )
            return web.Response(
                text=launch_error_html(),
                content_type="text/html",
                headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
            )
        self.transcript.add(
            "embed",
            "launched",
            f"embed launched {result.session_id} (page {page}, host {result.host_origin})",
            session_id=result.session_id,
            page=page,
        )
        ancestors = " ".join(result.allowed_origins)
        csp = (
            f"frame-ancestors {ancestors}; default-src 'self'; script-src 'self'; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:"
        )
        return web.Response(
            text=stub_page_html(result, page, self.fake.ready_delay_ms),
            content_type="text/html",
            headers={
                "Cache-Control": "no-store",
                "Referrer-Policy": "no-referrer",
                "Content-Security-Policy": csp,
            },
        )

    async def _script(self, _request: web.Request) -> web.Response:
        return web.Response(
            text=SCRIPT_PATH.read_text(encoding="utf-8"),
            content_type="text/javascript",
            headers={"Cache-Control": "no-store"},
        )

    async def _whoami(self, request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        check = self.fake.inspect_token(token.strip() if scheme.lower() == "bearer" else None)
        if check.valid and check.session is not None:
            now = self.fake.now()
            session = check.session
            return web.json_response(
                {
                    "session_id": session.session_id,
                    "expires_at": iso_utc(session.expires_at),
                    "expires_in": max(0.0, session.expires_at - now),
                    "lifetime_seconds": session.token_lifetime,
                    "generation": check.generation,
                },
                headers={"Cache-Control": "no-store"},
            )
        code, message = _TOKEN_ERRORS[check.reason]
        return web.json_response(
            {"error": code, "message": message},
            status=401,
            headers={"Cache-Control": "no-store", "WWW-Authenticate": "Bearer"},
        )

    async def _report(self, request: web.Request) -> web.Response:
        try:
            report = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(text="not JSON") from None
        if not isinstance(report, dict) or report.get("event") not in REPORT_EVENTS:
            raise web.HTTPBadRequest(text="unknown report")
        text, fields = describe_report(report)
        self.transcript.add("embed", str(report["event"]), text, **fields)
        return web.Response(status=204)
