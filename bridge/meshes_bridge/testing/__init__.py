"""Test kit for host teams (`pip install "meshes-bridge[testing]"`).

The pytest plugin (`meshes_bridge.testing.plugin`, registered through the `pytest11` entry
point) gives the fixtures: `meshes_fake`, `meshes`, `meshes_env`, `meshes_app`,
`meshes_chromium`; this package gives the helpers:

    from meshes_bridge.testing import (ask_refresh, expect_embed_authenticated, expire_token,
        fail_next_meshes_call, log_in, post_foreign_message, revoke_session,
        slow_meshes_calls)

Names are loaded on first use (PEP 562), so importing this package (the plugin does, in
every pytest run where meshes-bridge is installed) imports neither aiohttp nor Playwright.
"""

from __future__ import annotations

import importlib
from typing import Any

_HELPERS = (
    "BOOT_TIMEOUT_MS",
    "Embed",
    "ask_refresh",
    "expect_embed_authenticated",
    "expire_token",
    "fail_next_meshes_call",
    "log_in",
    "post_foreign_message",
    "revoke_session",
    "slow_meshes_calls",
)
_PROCESSES = (
    "AppProcess",
    "ProcessStartError",
    "RedisClusterServer",
    "RedisSentinelServer",
    "RedisServer",
    "free_port",
)
_DOUBLES = ("Servers", "start_servers")

__all__ = [*_HELPERS, *_PROCESSES, *_DOUBLES]


def __getattr__(name: str) -> Any:
    if name in _HELPERS:
        module = "meshes_bridge.testing.helpers"
    elif name in _PROCESSES:
        module = "meshes_bridge.testing.processes"
    elif name in _DOUBLES:
        module = "meshes_bridge.testing.doubles"
    else:
        raise AttributeError(f"module 'meshes_bridge.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
