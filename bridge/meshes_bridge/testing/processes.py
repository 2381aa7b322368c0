"""Real processes for tests: a private redis-server and a host app under its real server.

Both start on a free loopback port, wait until the port answers (never a fixed sleep),
fail with one line saying what went wrong and how to fix it, and are stopped (the whole
process group) when their `with` block ends, also when the test failed.

    with RedisServer() as redis:                     # redis.url = redis://127.0.0.1:PORT/0
        with AppProcess([sys.executable, "examples/flask/serve.py", "--port", "{port}"],
                        env={"MESHES_BRIDGE_REDIS_URL": redis.url}) as app:
            httpx.get(app.url + "/login")
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

LOOPBACK = "127.0.0.1"
DEFAULT_START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


class ProcessStartError(RuntimeError):
    """A test process could not start; the message is one line with the fix."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = LOOPBACK) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _tail(path: Path, limit: int = 1500) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return text[-limit:].strip()


class _Process:
    """A child process in its own process group, with its output in a log file."""

    name = "process"

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self._dir = Path(tempfile.mkdtemp(prefix=f"meshes-{self.name}-"))
        self.log_path = self._dir / "output.log"

    def _spawn(self, argv: Sequence[str], env: Mapping[str, str] | None, cwd: str | None) -> None:
        log = open(self.log_path, "wb")  # noqa: SIM115 - closed with the process
        try:
            self.proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,  # its own group: stop() reaches its children too
            )
        finally:
            log.close()

    def _wait_for_port(self, timeout: float, what: str) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        delay = 0.02
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                output = _tail(self.log_path)
                self.stop()
                raise ProcessStartError(
                    f"{what} exited with code {code} before listening on port {self.port}: "
                    + (output.splitlines()[-1] if output else "(no output)")
                    + f" (full output: {self.log_path})"
                )
            if port_open(self.port):
                return
            time.sleep(delay)
            delay = min(delay * 2, 0.25)
        self.stop()
        raise ProcessStartError(
            f"{what} did not listen on port {self.port} within {timeout:.0f} s "
            f"(output: {self.log_path})"
        )

    @property
    def running(self) -> bool:
        """Started and not exited (a `with` on a started process does not start it again)."""
        return self.proc is not None and self.proc.poll() is None

    def output(self) -> str:
        """What the process printed so far (for failure reports and log assertions)."""
        return _tail(self.log_path, limit=1_000_000)

    def stop(self) -> None:
        """Stop the process group (TERM, then KILL); idempotent."""
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=STOP_TIMEOUT)
        else:
            try:  # children it left behind in its group
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __exit__(self, *exc_info: object) -> None:
        self.cleanup()


class RedisServer(_Process):
    """A throwaway redis-server (Debian's) on a free port: no persistence, no config file.

    `url` is ``redis://127.0.0.1:PORT/0``; `flush()` empties it between tests.
    """

    name = "redis"

    def __init__(self, executable: str | None = None, port: int = 0) -> None:
        super().__init__()
        self.executable = executable or shutil.which("redis-server") or "/usr/bin/redis-server"
        self.port = port or free_port()

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    def start(self) -> RedisServer:
        if not Path(self.executable).exists():
            raise ProcessStartError(
                f"redis-server not found at {self.executable}: "
                "apt-get install redis-server (or pass executable=)"
            )
        if port_open(self.port):
            raise ProcessStartError(f"port {self.port} is taken: choose another port for Redis")
        argv = [
            self.executable,
            "--port", str(self.port),
            "--bind", LOOPBACK,
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self._dir),
            "--protected-mode", "yes",
        ]  # fmt: skip
        self._spawn(argv, env=None, cwd=str(self._dir))
        self._wait_for_port(DEFAULT_START_TIMEOUT, "redis-server")
        return self

    def flush(self) -> None:
        """FLUSHALL through redis-py."""
        import redis

        client = redis.Redis.from_url(self.url)
        try:
            client.flushall()
        finally:
            client.close()

    def __enter__(self) -> RedisServer:
        return self if self.running else self.start()


class OnLoopback:
    """Something listening on ``127.0.0.1:<port>``: its ``url`` and ``origin`` (the same
    string: no path)."""

    port: int

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def origin(self) -> str:
        return self.url


class AppProcess(_Process, OnLoopback):
    """A host app under its framework's real server, started from a command line.

    `argv` may hold ``{port}``, replaced by the port (a free one unless given); `env` is
    added to this process's environment. `url` is ``http://127.0.0.1:PORT``.
    """

    name = "app"

    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        port: int = 0,
        cwd: str | os.PathLike[str] | None = None,
        start_timeout: float = DEFAULT_START_TIMEOUT,
    ) -> None:
        super().__init__()
        self.port = port or free_port()
        self.argv = [part.replace("{port}", str(self.port)) for part in argv]
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.cwd = str(cwd) if cwd is not None else None
        self.start_timeout = start_timeout

    def start(self) -> AppProcess:
        if port_open(self.port):
            raise ProcessStartError(f"port {self.port} is taken: choose another port for the app")
        command = " ".join(self.argv[:3])
        self._spawn(self.argv, env=self.env, cwd=self.cwd)
        self._wait_for_port(self.start_timeout, f"the app ({command})")
        return self

    def __enter__(self) -> AppProcess:
        return self if self.running else self.start()
