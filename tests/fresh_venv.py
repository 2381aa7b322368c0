"""A fresh virtualenv with the built meshes-bridge wheel installed, for the tests that must
hold "from a fresh venv" (issue 17): the getting-started walkthroughs and the examples'
suites run with this venv's `python` and scripts, nothing of the checkout importable.

Offline: the venv sees this environment's packages (`--system-site-packages`: Flask,
Django, pytest, Playwright...), and the wheel goes in with `pip install --no-deps
--no-index --ignore-installed`. The venv's own site-packages come first on `sys.path`, so
its meshes_bridge wins over any install of this environment (an editable install's `.pth`
only appends the checkout to the end); `make()` checks that. The console scripts of this
environment's packages (`flask`, `django-admin`...) are written again into the venv's
`bin/` for its own `python`, as `pip install` into the venv would have written them: the
originals would run this environment's interpreter, not the venv's.
"""

from __future__ import annotations

import os
import subprocess
import venv
from dataclasses import dataclass
from pathlib import Path

INSTALL_TIMEOUT = 300

# Run by the venv's python: every console script of the distributions it sees, once.
_LIST_SCRIPTS = """
import importlib.metadata as md
seen = set()
for dist in md.distributions():
    for ep in dist.entry_points:
        if ep.group == "console_scripts" and ep.name not in seen:
            seen.add(ep.name)
            print(ep.name, ep.value)
"""

_SCRIPT = """#!{python}
import re
import sys
from {module} import {head}
if __name__ == "__main__":
    sys.argv[0] = re.sub(r"(-script\\.pyw|\\.exe)?$", "", sys.argv[0])
    sys.exit({call}())
"""


@dataclass(frozen=True)
class FreshVenv:
    root: Path

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def python(self) -> Path:
        return self.bin / "python"

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """`base` (default: this process's environment) as an activated venv has it: its
        `bin/` first on PATH, VIRTUAL_ENV set, no PYTHONPATH (no checkout importable)."""
        env = dict(os.environ if base is None else base)
        env.pop("PYTHONPATH", None)
        env.pop("PYTHONHOME", None)
        env["VIRTUAL_ENV"] = str(self.root)
        env["PATH"] = os.pathsep.join(filter(None, [str(self.bin), env.get("PATH")]))
        env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        return env


def _run(venv_: FreshVenv, *args: str, cwd: Path | None = None) -> str:
    result = subprocess.run(
        [str(venv_.python), *args],
        capture_output=True,
        text=True,
        cwd=cwd or venv_.root,
        env=venv_.env(),
        timeout=INSTALL_TIMEOUT,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def _write_console_scripts(venv_: FreshVenv) -> None:
    for line in _run(venv_, "-c", _LIST_SCRIPTS).splitlines():
        name, value = line.split(" ", 1)
        target = venv_.bin / name
        if target.exists() or "/" in name:
            continue
        module, _, attr = value.partition(":")
        attr = attr.split("[")[0].strip()  # drop extras, as pip does
        if not attr:
            continue
        head = attr.split(".")[0]
        target.write_text(
            _SCRIPT.format(python=venv_.python, module=module.strip(), head=head, call=attr)
        )
        target.chmod(0o755)


def make(root: Path, wheel: Path) -> FreshVenv:
    """A venv at `root` with `wheel` installed (offline) over this environment's packages."""
    # without_pip: this environment's pip (visible through the system site packages) installs
    # into the venv it runs in, and ensurepip would take as long as the rest together.
    venv.EnvBuilder(system_site_packages=True, with_pip=False, symlinks=True).create(root)
    fresh = FreshVenv(root)
    _run(
        fresh,
        *("-m", "pip", "install", "-q", "--no-deps", "--no-index", "--ignore-installed"),
        str(wheel),
    )
    _write_console_scripts(fresh)
    where = _run(fresh, "-c", "import meshes_bridge; print(meshes_bridge.__file__)", cwd=root)
    site = _run(fresh, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    assert where.strip().startswith(site.strip()), (where, site)
    return fresh
