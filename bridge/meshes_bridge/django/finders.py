"""`MeshesBridgeFinder`: the browser asset tree as static files, under ``meshes-bridge/``.

    STATICFILES_FINDERS = [..., "meshes_bridge.django.finders.MeshesBridgeFinder"]
    {% static "meshes-bridge/loader.js" %}

`collectstatic` copies the tree, `findstatic meshes-bridge/loader.js` names its file, and
`runserver` (DEBUG, or ``--insecure``) serves it, with no extra command. The files are
served straight from the installed package (`meshes_bridge.server.static_files`), except
the rendered ones (loader.js, with the tree's manifest filled in, and the bundles of the
bridge's Python files): they are written once per process into a private cache directory
keyed by the package version and the loader's own hash (which names every bundle), so
processes with different installs never overwrite each other.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

from django.contrib.staticfiles import finders
from django.contrib.staticfiles.finders import BaseFinder
from django.contrib.staticfiles.utils import matches_patterns
from django.core import checks
from django.core.files.storage import FileSystemStorage

from meshes_bridge import __version__, assets
from meshes_bridge.server.static_files import TREE_NAME, AssetTree, asset_tree

PREFIX = TREE_NAME  # "meshes-bridge": the tree's folder under STATIC_URL / STATIC_ROOT
LOADER = "loader.js"


def _private_dir(path: Path) -> bool:
    """`path` is a directory of ours that nobody else can write into."""
    try:
        info = path.lstat()
    except OSError:
        return False
    if not stat.S_ISDIR(info.st_mode):
        return False
    if hasattr(os, "getuid") and (info.st_uid != os.getuid() or info.st_mode & 0o022):
        return False
    return True


def _cache_dir(content: bytes) -> Path:
    digest = hashlib.sha256(content).hexdigest()[:16]
    owner = os.getuid() if hasattr(os, "getuid") else "user"
    base = Path(tempfile.gettempdir()) / f"meshes-bridge-static-{owner}"
    base.mkdir(mode=0o700, exist_ok=True)
    if not _private_dir(base):
        # Someone else made it (a shared /tmp): never serve a file they could replace.
        return Path(tempfile.mkdtemp(prefix="meshes-bridge-static-"))
    directory = base / f"{__version__}-{digest}"
    directory.mkdir(mode=0o700, exist_ok=True)
    return directory


@cache
def rendered_dir() -> Path:
    """The directory holding the tree's rendered files (written once per process, each
    atomically), at their paths in the tree."""
    tree = asset_tree()
    loader = tree.get(LOADER)
    assert loader is not None
    directory = _cache_dir(loader.read())
    for rel in tree.paths():
        asset = tree.get(rel)
        if asset is None or asset.path is not None:
            continue
        content = asset.read()
        target = directory.joinpath(*rel.split("/"))
        if target.is_file() and target.read_bytes() == content:
            continue
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        partial.write_bytes(content)
        os.replace(partial, target)
    return directory


def loader_path() -> Path:
    """The rendered loader.js on disk."""
    return rendered_dir() / LOADER


class AssetTreeStorage(FileSystemStorage):
    """Read-only storage whose names are the tree's relative paths (``loader.js``,
    ``micropython/<hash>/micropython.wasm``, ...) and whose files are the package's own
    (or, for the rendered ones, the copies in `rendered_dir()`).

    collectstatic reads it through `path`, `open`, `exists`, `size` and
    `get_modified_time`, all of which go through `path`; `prefix` puts the files under
    ``meshes-bridge/``.
    """

    prefix = PREFIX

    def __init__(self, tree: AssetTree) -> None:
        self.tree = tree
        super().__init__(location=str(rendered_dir()))

    def path(self, name: str) -> str:
        rel = name.replace(os.sep, "/")
        asset = self.tree.get(rel)
        if asset is None or asset.path is None:
            # A rendered file is where rendered_dir() wrote it; anything else is not there
            # either, and exists() says no.
            return super().path(name)
        return str(asset.path)

    def exists(self, name: str) -> bool:
        return name.replace(os.sep, "/") in self.tree

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        base = path.strip("/")
        base = f"{base}/" if base else ""
        dirs: set[str] = set()
        files: list[str] = []
        for rel in self.tree.paths():
            if not rel.startswith(base):
                continue
            head, sep, _ = rel[len(base) :].partition("/")
            if sep:
                dirs.add(head)
            else:
                files.append(head)
        return sorted(dirs), files

    def _save(self, name: str, content: Any) -> str:
        raise NotImplementedError("the meshes-bridge asset tree is read-only")

    def delete(self, name: str) -> None:
        raise NotImplementedError("the meshes-bridge asset tree is read-only")


def _ignored(rel: str, patterns: Iterable[str]) -> bool:
    patterns = list(patterns or ())
    return matches_patterns(rel, patterns) or any(
        matches_patterns(part, patterns) for part in rel.split("/")
    )


class MeshesBridgeFinder(BaseFinder):
    """Finds ``meshes-bridge/<path of the tree>`` (and lists the whole tree)."""

    def __init__(self, app_names: Any = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._storage: AssetTreeStorage | None = None

    @property
    def storage(self) -> AssetTreeStorage:
        if self._storage is None:
            self._storage = AssetTreeStorage(asset_tree())
        return self._storage

    def check(self, **kwargs: Any) -> list[checks.CheckMessage]:
        """meshes_bridge.E004 when the package lacks its runtime files."""
        try:
            assets.check_runtime()
        except assets.AssetsError as exc:
            return [checks.Error(str(exc), id="meshes_bridge.E004")]
        return []

    # django-stubs types a miss as None; Django's own finders answer [] whatever
    # `find_all` (FileSystemFinder, AppDirectoriesFinder), and so does this one.
    def find(  # type: ignore[override]
        self, path: str, find_all: bool = False, **kwargs: Any
    ) -> str | list[str]:
        # Django < 5.2 passes `all=`, 5.2+ `find_all=`.
        find_all = find_all or bool(kwargs.get("all", False))
        location = str(assets.package_dir())
        if location not in finders.searched_locations:  # for findstatic -v 2
            finders.searched_locations.append(location)
        head, sep, rel = path.replace(os.sep, "/").partition("/")
        if sep and head == PREFIX and rel in asset_tree():
            match = self.storage.path(rel)
            return [match] if find_all else match
        return []

    def list(self, ignore_patterns: Iterable[str] | None) -> Iterator[tuple[str, Any]]:
        patterns = list(ignore_patterns or ())
        for rel in self.storage.tree.paths():
            if not _ignored(rel, patterns):
                yield rel, self.storage
