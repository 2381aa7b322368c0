"""Session fixtures of our own tests: the wheel, built once, and a fresh venv holding it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import fresh_venv as fresh
from tests.wheel_build import build_wheel


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The meshes-bridge wheel (`python -m build --wheel` of a clean copy), built once."""
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="session")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory, built_wheel: Path) -> fresh.FreshVenv:
    """A venv with that wheel installed over this environment's packages (offline); its
    `env()` is an activated venv's environment, no checkout importable."""
    return fresh.make(tmp_path_factory.mktemp("fresh") / "venv", built_wheel)
