"""Serve the browser asset tree straight from the installed package (Flask, FastAPI).

`AssetTree` maps a path under the tree's URL prefix (``loader.js``,
``micropython/<hash>/micropython.wasm``, ...) to its bytes' source, with the MIME types
browsers insist on (``.wasm`` -> application/wasm, ``.mjs``/``.js`` -> text/javascript) and
its caching policy: loader.js revalidated on every load, every other file (in a folder
named after its content) cacheable for good. Django's staticfiles finder collects the
same files.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from meshes_bridge import __version__, assets

#: URL prefix of the tree under the host's static URL, as in host-interface.md.
TREE_NAME = "meshes-bridge"

MIME_TYPES = {
    ".mjs": "text/javascript; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".wasm": "application/wasm",
    ".py": "text/x-python; charset=utf-8",
    ".json": "application/json",
    ".zip": "application/zip",
    ".gz": "application/gzip",
    ".whl": "application/zip",
    ".tar": "application/x-tar",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".toml": "text/plain; charset=utf-8",
    ".html": "text/html; charset=utf-8",
}


def mime_type(name: str) -> str:
    return MIME_TYPES.get(PurePosixPath(name).suffix.lower(), "application/octet-stream")


#: loader.js: revalidated on every load (a 304 costs one round trip, not the bytes). It is
#: the tree's only short-lived file: it names every other one, and a browser must never
#: run a loader of one version with files of another.
CACHE_CONTROL = "no-cache"
#: Every other file of the tree: its folder is named after its content, so a new release
#: brings new names and what a browser holds never goes stale.
IMMUTABLE = "public, max-age=31536000, immutable"


def cache_control_for(rel: str) -> str:
    """The Cache-Control a file of the tree is served with."""
    return IMMUTABLE if assets.is_immutable(rel) else CACHE_CONTROL


@dataclass(frozen=True)
class Asset:
    """One file of the tree: either a `path` on disk or rendered `content`."""

    rel: str
    content_type: str
    path: Path | None = None
    content: bytes | None = None

    def read(self) -> bytes:
        if self.content is not None:
            return self.content
        assert self.path is not None
        return self.path.read_bytes()

    @property
    def etag(self) -> str:
        """Changes with the file (an editable checkout edits files in place)."""
        if self.content is not None:
            stamp = hashlib.sha1(self.content).hexdigest()
        else:
            assert self.path is not None
            info = self.path.stat()
            stamp = f"{info.st_mtime_ns}:{info.st_size}"
        digest = hashlib.sha1(f"{__version__}:{self.rel}:{stamp}".encode()).hexdigest()
        return f'"{digest[:16]}"'

    @property
    def cache_control(self) -> str:
        return cache_control_for(self.rel)

    def headers(self, cache_control: str | None = None) -> dict[str, str]:
        """What every answer for this file carries, a 304 included (not Content-Type).
        `cache_control` overrides the file's own policy (`cache_control_for`)."""
        return {
            "ETag": self.etag,
            "Cache-Control": cache_control or self.cache_control,
            "X-Content-Type-Options": "nosniff",
        }

    def matches(self, if_none_match: str | None) -> bool:
        """Whether a request's If-None-Match names this file as it is now (weak tags and
        `*` included): then the answer is a 304."""
        if not if_none_match:
            return False
        etag = self.etag
        for candidate in if_none_match.split(","):
            candidate = candidate.strip()
            if candidate == "*" or candidate.removeprefix("W/") == etag:
                return True
        return False


class AssetTree:
    """The tree `meshes-bridge static` would write, served from the package in place.

    Built once (a dict of a few hundred paths); `get(rel)` returns None for anything
    not in the tree, so `..`, absolute paths and host-side modules can never be served.
    """

    def __init__(self) -> None:
        assets.check_runtime()
        self._files = {
            rel: Asset(rel, mime_type(rel), path=src) for rel, src in assets.tree_sources().items()
        }
        for rel, content in assets.rendered_files().items():  # loader.js, the archives
            self._files[rel] = Asset(rel, mime_type(rel), content=content)

    def get(self, rel: str) -> Asset | None:
        return self._files.get(rel)

    def __contains__(self, rel: object) -> bool:
        return rel in self._files

    def __len__(self) -> int:
        return len(self._files)

    def paths(self) -> list[str]:
        return sorted(self._files)


_TREE: AssetTree | None = None


def asset_tree() -> AssetTree:
    """The process-wide tree (built on first use)."""
    global _TREE
    if _TREE is None:
        _TREE = AssetTree()
    return _TREE
