"""The browser asset tree as a Flask view, served straight from the installed package.

Only the paths of `asset_tree()` exist: ``..``, absolute paths and the package's host-side
modules (``meshes_bridge/server/...``) are not keys of the tree, so they are 404 without
any path arithmetic. Each answer has the MIME type browsers insist on (``.wasm`` ->
application/wasm, ``.mjs`` -> text/javascript), an ETag (304 on a matching
``If-None-Match``), ``nosniff`` and the file's caching policy (loader.js revalidated on
every load, every other file cached for good).
"""

from __future__ import annotations

import os

from flask import Response, abort, current_app, request
from werkzeug.wsgi import wrap_file

from meshes_bridge.server.static_files import CACHE_CONTROL, Asset, asset_tree


def _file_response(asset: Asset) -> Response:
    if asset.path is None:
        return current_app.response_class(asset.read(), content_type=asset.content_type)
    # Streamed, not read into memory: Pyodide's .wasm is several megabytes.
    handle = open(asset.path, "rb")  # noqa: SIM115 - closed by the WSGI server with the body
    response = current_app.response_class(
        wrap_file(request.environ, handle),
        content_type=asset.content_type,
        direct_passthrough=True,
    )
    response.content_length = os.fstat(handle.fileno()).st_size
    return response


def serve_asset(filename: str) -> Response:
    """`GET <static_url_path>/<filename>`: the file, a 304, or 404 when not in the tree."""
    asset = asset_tree().get(filename)
    if asset is None:
        abort(404)
    if asset.matches(request.headers.get("If-None-Match")):
        response = current_app.response_class(status=304)
    else:
        response = _file_response(asset)
    response.headers.update(asset.headers())
    return response


__all__ = ["CACHE_CONTROL", "serve_asset"]
