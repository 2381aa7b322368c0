"""meshes-bridge for FastAPI: ``pip install "meshes-bridge[fastapi]"``.

    from fastapi import FastAPI, Request
    from fastapi.templating import Jinja2Templates
    from meshes_bridge.fastapi import MeshesBridge

    def current_user(request: Request) -> User | None:      # any FastAPI dependency
        ...

    bridge = MeshesBridge(get_user=current_user)    # MESHES_* settings; ConfigurationError now
    app = FastAPI()
    app.include_router(bridge.router)               # POST /meshes/session, .../refresh
    bridge.mount_static(app)                        # GET /static/meshes-bridge/loader.js, ...
    templates = Jinja2Templates("templates")
    bridge.install_templates(templates)             # {{ meshes_embed(launch_page="dashboard") }}

    # the page with the embed:
    templates.TemplateResponse(request, "page.html", headers={
        "Content-Security-Policy": bridge.content_security_policy()})

    # logout (FastAPI has no logout signal: this is the one call to make):
    bridge.revoke_user(user_key)          # sync handler; `await bridge.arevoke_user(key)` in async

The Content-Security-Policy is left to the app (pages without the embed may need another
one); `content_security_policy()` gives the value for pages with it.
"""

from meshes_bridge.fastapi.adapter import (
    DEFAULT_PREFIX,
    DEFAULT_STATIC_PATH,
    MeshesBridge,
    default_user_key,
)
from meshes_bridge.fastapi.static import AssetApp
from meshes_bridge.server.service import MintPolicy
from meshes_bridge.server.settings import ConfigurationError, MeshesSettings

__all__ = [
    "DEFAULT_PREFIX",
    "DEFAULT_STATIC_PATH",
    "AssetApp",
    "ConfigurationError",
    "MeshesBridge",
    "MeshesSettings",
    "MintPolicy",
    "default_user_key",
]
