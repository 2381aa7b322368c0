"""`meshes-bridge doctor URL`: open the host's page in headless Chromium and report what
is wrong with each container's integration, with the fix for each problem.

The parts: `options` (what the command line takes), `browser` (which Chromium, logging
in), `session` (the run: the probe in `probe.js`, the network, the stop rules),
`observe` (what was seen), `checks/` (one module per report section), `report` (the
model and the exit code), `render_text`, `render_html` and `schema.json` (the JSON
form). Nothing printed or written holds a token, a launch URL, a JWT or a secret:
`redaction` learns the credentials the page was given and scrubs every string.

Exit codes: 0 every container authenticated and nothing to report; 1 a problem (or a
container that did not authenticate); 2 bad usage, or the doctor could not run
(no Playwright, no Chromium); 3 every container authenticated, with warnings.

Names are loaded on first use (PEP 562): the command line imports this package for its
arguments, and `meshes-bridge static` must not need the server half or Playwright.
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "DoctorOptions": "meshes_bridge.doctor.options",
    "UsageError": "meshes_bridge.doctor.options",
    "parse_cookie": "meshes_bridge.doctor.options",
    "EXIT_OK": "meshes_bridge.doctor.report",
    "EXIT_PROBLEM": "meshes_bridge.doctor.report",
    "EXIT_USAGE": "meshes_bridge.doctor.report",
    "EXIT_WARNING": "meshes_bridge.doctor.report",
    "report_data": "meshes_bridge.doctor.run",
    "run": "meshes_bridge.doctor.run",
}
__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    if name not in _NAMES:
        raise AttributeError(f"module 'meshes_bridge.doctor' has no attribute {name!r}")
    return getattr(importlib.import_module(_NAMES[name]), name)
