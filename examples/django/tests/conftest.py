"""How this app starts under test: the kit's `meshes_app` runs it against the fake Meshes."""

import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def meshes_app_command() -> list[str]:
    return [sys.executable, str(Path(__file__).parents[1] / "serve.py"), "--port", "{port}"]
