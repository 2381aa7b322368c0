"""`meshes-bridge dev`: the fake Meshes for local development.

Starts the test kit's fake Meshes management API and stub embed on loopback, prints the
`MESHES_*` settings a host app needs to mint through them (and writes them to a `.env`
file on request), then streams the fake's redacted transcript until Ctrl-C or SIGTERM.

The ports are fixed (`DEFAULT_PORT` and the next one, or `--port BASE`), so the settings
printed once stay valid across restarts. The fake's dependencies (aiohttp) come with the
`[testing]` extra; without them the command says so in one line and exits 2.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, TextIO

from meshes_bridge import __version__
from meshes_bridge.core.origins import OriginError, parse_origin_only

if TYPE_CHECKING:
    from meshes_bridge.testing.doubles import Servers

#: The management API listens here, the stub embed on the next port.
DEFAULT_PORT = 8710
#: Django's runserver and uvicorn serve on port 8000 by default (Flask's dev server: 5000).
DEFAULT_ORIGIN = "http://127.0.0.1:8000"
LOOPBACK = "127.0.0.1"
INSTALL_HINT = 'pip install "meshes-bridge[testing]"'
# The fake's own third-party imports: a missing one means the extra is not installed.
EXTRA_MODULES = ("aiohttp", "multidict", "yarl", "httpx", "jwt")
# What the variables are called in a .env file or the shell: anything else is quoted.
_PLAIN_VALUE = re.compile(r"^[A-Za-z0-9_@%+=:,./-]*$")
_ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")
DOTENV_HEADER = "# The fake Meshes of `meshes-bridge dev` (test keys, not a real account)"

EXIT_OK = 0
EXIT_FAILED = 1  # could not start (a port in use, the .env file not writable)
EXIT_USAGE = 2  # bad arguments, or the [testing] extra is missing


class DevError(Exception):
    """`meshes-bridge dev` cannot start; the message says why and what to do."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def parse_origins(values: Sequence[str] | None) -> list[str]:
    """The host origins from every ``--origin`` (each may hold several, comma-separated),
    canonical, without duplicates; `DEFAULT_ORIGIN` when none was given."""
    origins: list[str] = []
    for value in values or [DEFAULT_ORIGIN]:
        for part in value.split(","):
            text = part.strip()
            if not text:
                continue
            try:
                origin = parse_origin_only(text).serialize()
            except OriginError:
                raise DevError(
                    f"--origin {text!r} is not an origin: write scheme://host[:port], e.g. "
                    f"{DEFAULT_ORIGIN}, with no path",
                    EXIT_USAGE,
                ) from None
            if origin not in origins:
                origins.append(origin)
    if not origins:
        raise DevError(f"--origin needs a value, e.g. {DEFAULT_ORIGIN}", EXIT_USAGE)
    return origins


def ports(base: int) -> tuple[int, int, int]:
    """(embed, attacker pages, API) ports for a base port: the API on `base`, the embed on
    `base` + 1; the attacker pages (unused in development) on any free port. 0: all free."""
    if base == 0:
        return 0, 0, 0
    return base + 1, 0, base


def quote_value(value: str) -> str:
    return value if _PLAIN_VALUE.match(value) else shlex.quote(value)


def shell_exports(env: dict[str, str]) -> list[str]:
    return [f"export {name}={quote_value(value)}" for name, value in env.items()]


def dotenv_text(env: dict[str, str], previous: str = "") -> str:
    """`previous` (a .env file's text) with every line that sets one of `env`'s variables
    replaced by the new values, appended at the end; every other line kept."""
    kept = [
        line
        for line in previous.splitlines()
        if not ((m := _ENV_LINE.match(line)) and m.group(1) in env)
        and line.strip() != DOTENV_HEADER
    ]
    while kept and not kept[-1].strip():
        kept.pop()
    block = [DOTENV_HEADER, *(f"{name}={quote_value(value)}" for name, value in env.items())]
    return "\n".join([*kept, *([""] if kept else []), *block]) + "\n"


def write_env_file(path: Path, env: dict[str, str]) -> None:
    try:
        previous = path.read_text(encoding="utf-8") if path.exists() else ""
        tmp = path.with_name(f".{path.name}.meshes-bridge-{os.getpid()}")
        tmp.write_text(dotenv_text(env, previous), encoding="utf-8")
        tmp.replace(path)
    except OSError as error:
        raise DevError(f"cannot write {path}: {error.strerror or error}") from None


def load_doubles() -> Callable[..., Servers]:
    """`start_servers` of the test kit, or a DevError naming the extra."""
    try:
        from meshes_bridge.testing.doubles import start_servers
    except ImportError as error:
        missing = (error.name or "").split(".")[0]
        if missing not in EXTRA_MODULES:
            raise
        raise DevError(
            f"`meshes-bridge dev` needs the test kit's dependencies ({missing} is not "
            f"installed): {INSTALL_HINT}",
            EXIT_USAGE,
        ) from None
    return start_servers


@contextmanager
def _stop_on_sigterm() -> Iterator[None]:
    """SIGTERM (a process manager, `timeout`, CI) ends the run like Ctrl-C."""

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def banner(servers: Servers, origins: list[str], env: dict[str, str]) -> list[str]:
    allowed = ", ".join(origins)
    return [
        f"meshes-bridge {__version__} dev: the fake Meshes for local development "
        "(test keys only; not the real Meshes)",
        f"  management API   {servers.api_url}",
        f"  embed            {servers.embed_url}",
        f"  allowed origin{'s' if len(origins) > 1 else ' '}  {allowed}",
        "  (your app's page must be served from there: change it with --origin)",
        "",
        "Settings for your app, as shell exports (--env-file FILE writes them as a .env file):",
        "",
        *shell_exports(env),
        "",
    ]


def run(
    origin_values: Sequence[str] | None,
    base_port: int,
    env_file: str | None,
    out: TextIO | None = None,
) -> int:
    """The command: start, print, stream until interrupted. Returns the exit code."""
    out = out or sys.stdout

    def say(line: str = "") -> None:
        print(line, file=out, flush=True)

    try:
        origins = parse_origins(origin_values)
        if not 0 <= base_port <= 65534:
            raise DevError(f"--port {base_port}: choose a port from 1024 to 65534", EXIT_USAGE)
        start_servers = load_doubles()
        try:
            servers = start_servers(*ports(base_port), host_origin=origins[0])
        except OSError as error:
            raise DevError(
                f"{error.strerror or error} (is another `meshes-bridge dev` running? "
                "choose other ports with --port BASE)"
            ) from None
    except DevError as error:
        print(f"meshes-bridge: error: {error}", file=sys.stderr)
        return error.exit_code

    with servers, _stop_on_sigterm():
        env = servers.meshes_env(allowed_origins=origins)
        try:
            if env_file:
                write_env_file(Path(env_file), env)
        except DevError as error:
            print(f"meshes-bridge: error: {error}", file=sys.stderr)
            return error.exit_code
        try:
            for line in banner(servers, origins, env):
                say(line)
            if env_file:
                say(f"Wrote them to {env_file} (its other lines are kept).")
                say()
            say("Transcript of what the fake Meshes sees (tokens redacted); Ctrl-C to stop:")
            seen = 0
            while True:
                for entry in servers.transcript.wait_new(seen, timeout=0.5):
                    say(str(entry))
                    seen = entry.index + 1
        except KeyboardInterrupt:
            say("stopped")
        except BrokenPipeError:  # `meshes-bridge dev | head`: the reader is gone
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return EXIT_OK
