"""The core's portable unit tests, run inside the browser on MicroPython and Pyodide.

The tests in tests/core/ use nothing but plain asserts, so the very same files that pytest
runs on CPython run here on each interpreter (through tests/core/runner.py), against the
core files exactly as `meshes-bridge static` ships them.

The page runs under the suite's strict Content-Security-Policy (no 'unsafe-eval'): it starts
PyScript through a module file that empties PyScript's worker hooks right after importing
it, as the bridge's loader does, so PyScript never composes them with Function().
"""

from __future__ import annotations

import json
from pathlib import Path

from playwright.sync_api import Page

from e2e.harness import BOOT_TIMEOUT_MS, RECORDER, strict_csp
from meshes_bridge import assets
from tests.host.servers import HostServers

ROOT = Path(__file__).resolve().parents[1]
CORE_TESTS = ROOT / "tests" / "core"
RUNNER = """
import json
import js
from tests.core import runner
passed, failed, failures = runner.run_all()
modules = [runner.module_name(module) for module in runner.MODULES]
result = {"passed": passed, "failed": failed, "failures": failures, "modules": modules}
js.document.body.setAttribute("data-core-tests", json.dumps(result))
"""
BOOT_PATH = "/portable/boot.mjs"
# What the loader does (static/loader.js withoutWorkerHooks), for a page without the loader.
BOOT = """\
import { hooks } from "CORE_URL";
const names = ["onReady", "onBeforeRun", "onBeforeRunAsync", "onAfterRun", "onAfterRunAsync"];
for (const name of names) hooks.worker[name].clear();
"""
BASE = "/static/meshes-bridge/"


def _tree_path(static_dir: Path, folder: str, name: str) -> str:
    """A runtime file's path in the tree (its folder is named after its content)."""
    (found,) = static_dir.glob(f"{folder}/*/{name}")
    return found.relative_to(static_dir).as_posix()


def _bundle(static_dir: Path, runtime: str) -> dict[str, bytes]:
    """The bridge's Python files as the tree ships them for `runtime` ({path: content}):
    MicroPython's compiled to bytecode (.mpy), Pyodide's the sources."""
    (found,) = static_dir.glob(f"python/*/{runtime}.bin")
    return assets.unpack_bundle(found.read_bytes())


def _test_files() -> list[str]:
    """The tests' files, as paths from the project root: the runner imports them as the
    package `tests.core`, so its parents' __init__ files come too."""
    files = [ROOT / "tests" / "__init__.py", *sorted(CORE_TESTS.glob("*.py"))]
    return [path.relative_to(ROOT).as_posix() for path in files]


def _page(static_dir: Path, runtime: str) -> str:
    base = BASE
    files: dict[str, str] = {}
    for rel in _test_files():
        files[f"/portable/{rel}"] = f"./{rel}"
    # The core exactly as shipped: the files of the tree's Python bundle for this runtime,
    # each served on its own (the bundle is unpacked by the loader, not here).
    for rel in sorted(_bundle(static_dir, runtime)):
        if not rel.startswith("meshes_bridge/browser/") and rel.startswith("meshes_bridge/"):
            files[f"/portable/{rel}"] = f"./{rel}"
    interpreter = _tree_path(
        static_dir,
        "pyodide" if runtime == "pyodide" else "micropython",
        "pyodide.mjs" if runtime == "pyodide" else "micropython.mjs",
    )
    config = {"interpreter": base + interpreter, "plugins": ["!error"], "files": files}
    kind = "py" if runtime == "pyodide" else "mpy"
    return (
        "<!doctype html><html><body>"
        f"<script type=\"{kind}\" config='{json.dumps(config)}'>{RUNNER}</script>"
        f'<script type="module" src="{BOOT_PATH}"></script>'
        "</body></html>"
    )


def test_core_unit_tests_pass_in_the_browser(
    page: Page, servers: HostServers, static_dir: Path, runtime: str
) -> None:
    for rel in _test_files():
        servers.backend.add_file(f"/portable/{rel}", (ROOT / rel).read_text())
    for rel, content in _bundle(static_dir, runtime).items():
        servers.backend.add_file(f"/portable/{rel}", content, "application/octet-stream")
    core = BASE + _tree_path(static_dir, "pyscript", "core.js")
    servers.backend.add_file(BOOT_PATH, BOOT.replace("CORE_URL", core))
    page.add_init_script(RECORDER)
    url = servers.backend.add_page(
        f"/core-tests/{runtime}", _page(static_dir, runtime), csp=strict_csp(servers.embed_url)
    )
    page.goto(url)
    page.wait_for_selector("body[data-core-tests]", state="attached", timeout=BOOT_TIMEOUT_MS)
    result = json.loads(page.get_attribute("body", "data-core-tests"))
    assert result["failures"] == []
    assert result["failed"] == 0
    # Guard against a runner that finds nothing, or leaves a module out.
    assert result["passed"] >= 100
    assert sorted(result["modules"]) == sorted(p.stem for p in CORE_TESTS.glob("test_*.py"))
    # Not one securitypolicyviolation under the strict policy.
    assert page.evaluate("() => window.__cspViolations") == []
