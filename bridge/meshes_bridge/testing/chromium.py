"""Which Chromium the browser tests run: a system one (Debian's `/usr/bin/chromium`) or
Playwright's own download.

Host teams' CI images differ: some run `playwright install chromium`, many only have the
distribution's package (`apt-get install chromium`), and Playwright refuses to guess an
executable. The order, first match wins:

1. the pytest option ``--meshes-chromium PATH`` (or a name on PATH);
2. the environment variable ``MESHES_BRIDGE_CHROMIUM``;
3. Playwright's own Chromium, when ``playwright install chromium`` put it there (None is
   returned: Playwright launches its own);
4. ``/usr/bin/chromium``, else ``chromium`` or ``chromium-browser`` on PATH.

A system Chromium is launched with :data:`SYSTEM_CHROMIUM_ARGS` (headless without a
sandbox, GPU or background network traffic: CI containers have neither a user namespace
nor a network for Google's update and sync services). Only the standard library is
imported here, so the pytest plugin loads without the ``[testing]`` extra.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

ENV_VAR = "MESHES_BRIDGE_CHROMIUM"
OPTION = "--meshes-chromium"
SYSTEM_CHROMIUM = "/usr/bin/chromium"
SYSTEM_NAMES = ("chromium", "chromium-browser")
SYSTEM_CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
NOT_FOUND = (
    "no Chromium found: apt-get install chromium, or playwright install chromium, "
    f"or pass {OPTION} PATH"
)


class ChromiumNotFound(RuntimeError):
    """No usable Chromium; the message is one line saying how to get one."""


def _executable(candidate: str, source: str) -> str:
    """`candidate` as an absolute path to an executable file, or ChromiumNotFound naming
    where the bad value came from (a typo in CI config must not fall back silently)."""
    found = shutil.which(candidate) if os.sep not in candidate else None
    path = Path(found or candidate).expanduser()
    if not path.is_file():
        raise ChromiumNotFound(
            f"{source} {candidate}: no such file; point it at a Chromium executable "
            "(e.g. /usr/bin/chromium) or leave it unset"
        )
    if not os.access(path, os.X_OK):
        raise ChromiumNotFound(f"{source} {candidate}: not executable (chmod +x it)")
    return str(path.resolve())


def system_chromium() -> str | None:
    """The distribution's Chromium: /usr/bin/chromium, else one on PATH."""
    if os.access(SYSTEM_CHROMIUM, os.X_OK):
        return SYSTEM_CHROMIUM
    for name in SYSTEM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def find_chromium(
    option: str | None = None,
    environ: Mapping[str, str] | None = None,
    playwright_executable: Callable[[], str | None] | None = None,
) -> str | None:
    """The Chromium to launch: a path, or None for Playwright's own.

    `option` is the ``--meshes-chromium`` value, `environ` defaults to ``os.environ``,
    `playwright_executable` says where Playwright expects its own Chromium
    (``playwright.chromium.executable_path``; None when unknown); it is called only when
    neither the option nor the variable decides, since asking starts Playwright. Raises
    :class:`ChromiumNotFound` (one line) when an explicit choice is unusable or nothing
    is installed.
    """
    if option:
        return _executable(option, OPTION)
    env = os.environ if environ is None else environ
    if env.get(ENV_VAR):
        return _executable(env[ENV_VAR], ENV_VAR)
    own = playwright_executable() if playwright_executable is not None else None
    if own and os.access(own, os.X_OK):
        return None
    found = system_chromium()
    if found is None:
        raise ChromiumNotFound(NOT_FOUND)
    return found


def launch_args(base: Mapping[str, Any], executable: str | None) -> dict[str, Any]:
    """Playwright launch options `base` with a system Chromium: its executable_path (unless
    `base` names one already) and :data:`SYSTEM_CHROMIUM_ARGS` added to any `args`."""
    launch = dict(base)
    if executable is None or launch.get("executable_path"):
        return launch
    launch["executable_path"] = executable
    args: Sequence[str] = launch.get("args") or ()
    launch["args"] = [*args, *(flag for flag in SYSTEM_CHROMIUM_ARGS if flag not in args)]
    return launch
