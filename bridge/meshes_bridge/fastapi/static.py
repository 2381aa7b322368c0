"""The browser asset tree as a tiny ASGI app, served straight from the installed package.

    app.mount("/static/meshes-bridge", AssetApp())     # or MeshesBridge.mount_static(app)

Only the paths of `asset_tree()` exist: ``..``, absolute paths and the package's host-side
modules are never files here, so they are 404 without any path arithmetic. Each answer has
the MIME type browsers insist on (``.wasm`` -> application/wasm, ``.mjs`` ->
text/javascript), an ETag (304 on a matching ``If-None-Match``) and ``nosniff``.
"""

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from meshes_bridge.server.static_files import Asset, AssetTree, asset_tree

#: None: each file's own policy (loader.js revalidated on every load, every other file, in
#: a folder named after its content, cached for good; see static_files).
DEFAULT_CACHE_CONTROL: str | None = None
_METHODS = ("GET", "HEAD")


def _route_path(scope: Scope) -> str:
    """The path below the mount point (what Starlette's Mount leaves in `root_path`)."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        return path[len(root_path) :]
    return path


class AssetApp:
    """ASGI app answering GET/HEAD for the files of an `AssetTree` (default: the package's).

    `cache_control`, when given, is sent with every file and every 304 instead of each
    file's own policy.
    """

    def __init__(
        self, tree: AssetTree | None = None, *, cache_control: str | None = DEFAULT_CACHE_CONTROL
    ) -> None:
        # Built now, so a package without its runtime fails at start-up, not at page load.
        self.tree = tree if tree is not None else asset_tree()
        self.cache_control = cache_control

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # no websockets (and no lifespan duties) here
        response = self.response_for(Request(scope, receive))
        await response(scope, receive, send)

    def response_for(self, request: Request) -> Response:
        """The answer for one request (404, 405, 304 or the file)."""
        rel = _route_path(request.scope)
        # Exactly "/<path in the tree>": anything else ("", "//x", "/../x") is not a key.
        asset = self.tree.get(rel[1:]) if rel.startswith("/") else None
        if asset is None:
            return PlainTextResponse("Not Found", status_code=404)
        if request.method not in _METHODS:
            return PlainTextResponse(
                "Method Not Allowed", status_code=405, headers={"Allow": ", ".join(_METHODS)}
            )
        headers = asset.headers(self.cache_control)
        if asset.matches(request.headers.get("if-none-match")):
            return Response(status_code=304, headers=headers)
        return self._file(asset, headers, head=request.method == "HEAD")

    @staticmethod
    def _file(asset: Asset, headers: dict[str, str], *, head: bool) -> Response:
        if asset.path is not None:
            # Streamed from disk (Pyodide's files are megabytes); HEAD and Range handled.
            return FileResponse(asset.path, headers=headers, media_type=asset.content_type)
        body = asset.read()
        if head:
            headers = {**headers, "Content-Length": str(len(body))}
            body = b""
        return Response(body, headers=headers, media_type=asset.content_type)


__all__ = ["DEFAULT_CACHE_CONTROL", "AssetApp"]
