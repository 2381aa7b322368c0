"""The bridge's Python files as the browser runs them: MicroPython imports the precompiled
bytecode (`.mpy`) that the loader unpacked, of the very bytecode version the interpreter
reads; a traceback through that code still names the module and the function; with
`data-debug` MicroPython gets the sources instead, tracebacks with their line numbers.
Pyodide always runs the sources."""

from __future__ import annotations

import json
from itertools import count
from typing import Any

import pytest

from e2e.harness import BOOT_TIMEOUT_MS, HostPage
from meshes_bridge import assets, bytecode

# A hooks module (it runs before the containers mount): what the interpreter's working
# directory holds, the bytecode version it reads, and the traceback of an exception raised
# inside a bridge function (core/config.py, parse_loader_options: `options.get` on None).
PROBE = """
import json
import os
import sys

import js

from meshes_bridge.core import config

found = {"files": sorted(os.listdir("meshes_bridge/core")), "mpy": None}
if hasattr(sys.implementation, "_mpy"):
    found["mpy"] = sys.implementation._mpy
try:
    config.parse_loader_options(None)
except Exception as exc:
    if hasattr(sys, "print_exception"):
        import io

        out = io.StringIO()
        sys.print_exception(exc, out)
        found["traceback"] = out.getvalue()
    else:
        import traceback

        found["traceback"] = "".join(traceback.format_exception(exc))
js.document.body.setAttribute("data-probe", json.dumps(found))
"""
# The line of core/config.py that raises, as in the installed source (slimming keeps lines).
RAISING_LINE = '    runtime = options.get("runtime") or "micropython"'
_numbers = count(1)


def _probe(host: HostPage, debug: bool) -> dict[str, Any]:
    path = f"/probe/p{next(_numbers)}.py"
    host.servers.backend.add_file(path, PROBE, "text/plain")
    attrs: dict[str, Any] = {"data-hooks": path}
    if debug:
        attrs["data-debug"] = True
    failed: list[str] = []
    host.page.on("requestfailed", lambda request: failed.append(request.url))
    host.open(script_attrs=attrs)
    host.page.wait_for_selector("body[data-probe]", state="attached", timeout=BOOT_TIMEOUT_MS)
    host.wait_authenticated()  # the bridge runs on the files it was given
    # The bundle's request completes: nothing cancels it once its gzip data has ended.
    assert failed == []
    found: dict[str, Any] = json.loads(host.page.get_attribute("body", "data-probe") or "")
    return found


def _bundles_fetched(host: HostPage) -> list[str]:
    names = [r.url.rsplit("/", 1)[1] for r in host.host_requests()]
    return [name for name in names if name.endswith(assets.BUNDLE_SUFFIX)]


def _raising_line_number() -> int:
    source = (assets.package_dir() / "core" / "config.py").read_text(encoding="utf-8")
    return source.split("\n").index(RAISING_LINE) + 1


def test_micropython_runs_the_bytecode(host: HostPage) -> None:
    if host.runtime != "micropython":
        pytest.skip("Pyodide runs the sources")
    found = _probe(host, debug=False)
    assert _bundles_fetched(host) == ["micropython.bin"]
    # Only bytecode in the working directory: nothing else could have been imported.
    assert "session.mpy" in found["files"] and "config.mpy" in found["files"]
    assert not [name for name in found["files"] if name.endswith(".py")]
    # The bytecode version the interpreter reads (sys.implementation._mpy's low byte) is
    # the one the files were compiled to (the header's second byte).
    assert found["mpy"] & 0xFF == bytecode.MPY_HEADER[1]
    # The traceback names the module and the function (its line numbers are gone).
    assert 'File "meshes_bridge/core/config.py"' in found["traceback"]
    assert "in parse_loader_options" in found["traceback"]
    assert "AttributeError" in found["traceback"]


def test_data_debug_runs_the_sources_with_line_numbers(host: HostPage) -> None:
    found = _probe(host, debug=True)
    expected = "micropython-source.bin" if host.runtime == "micropython" else "pyodide.bin"
    assert _bundles_fetched(host) == [expected]
    assert "config.py" in found["files"]
    assert not [name for name in found["files"] if name.endswith(".mpy")]
    line = f'"meshes_bridge/core/config.py", line {_raising_line_number()}, in parse_loader_options'
    assert line in found["traceback"].replace('"/home/pyodide/', '"')
