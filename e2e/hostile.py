"""The attacker of the browser tests: the kit's attacker origin, plus a mimic of the embed.

``GET /evil-embed/workspace/{page}`` (hostile origin) posts ``meshes:ready`` to its parent
at once, with targetOrigin ``"*"``, and records whatever it is sent: for tests where a mint
answers a ``launch_url`` on the hostile origin (``fake.launch_base_url = servers.hostile_url
+ "/evil-embed"``).
"""

from __future__ import annotations

from aiohttp import web

from meshes_bridge.testing.doubles.hostile import Hostile, attack_page_html, html_response


class EvilEmbedHostile(Hostile):
    """:class:`Hostile` with the ``/evil-embed`` page."""

    pages = (*Hostile.pages, "evil-embed")

    def make_app(self) -> web.Application:
        app = super().make_app()
        app.router.add_get("/evil-embed/workspace/{page}", self._evil_embed)
        return app

    async def _evil_embed(self, request: web.Request) -> web.Response:
        self.transcript.add(
            "hostile",
            "evil-embed-loaded",
            f"hostile evil embed loaded (page {request.match_info['page']}, {request.path_qs})",
        )
        return html_response(
            attack_page_html("evil-embed", "*", "/hostile/report", post_ready=True)
        )
