"""The second plugin object of the test kit: pytest-playwright's
``browser_type_launch_args``, extended for a system Chromium.

It is a module of its own because ``meshes_bridge.testing.plugin`` registers it in
``pytest_configure``, after every entry-point plugin, so that this definition comes after
pytest-playwright's whatever order the entry points loaded in, and can request that one
by the same name (a conftest.py's definition still wins over both). A module, not a class
instance: pytest deprecates session-scoped fixtures defined as instance methods.
"""

from __future__ import annotations

from typing import Any

import pytest

from meshes_bridge.testing.chromium import launch_args


@pytest.fixture(scope="session")
def browser_type_launch_args(
    browser_type_launch_args: dict[str, Any],
    browser_name: str | None,
    request: pytest.FixtureRequest,
) -> dict[str, Any]:
    """Session: pytest-playwright's launch options; with a system Chromium (see
    ``meshes_chromium``) also its ``executable_path`` and the headless flags. Left alone
    for Firefox/WebKit, a ``--browser-channel`` or an explicit executable."""
    if browser_name not in (None, "chromium") or browser_type_launch_args.get("channel"):
        return browser_type_launch_args
    if browser_type_launch_args.get("executable_path"):
        return browser_type_launch_args
    return launch_args(browser_type_launch_args, request.getfixturevalue("meshes_chromium"))
