"""`meshes-bridge dev`: the fake Meshes for local development, run as a user runs it.

Each test starts the real command in a subprocess (this checkout's package), reads what it
prints, and uses the settings as a host app would: the server half's own MeshesSettings and
MeshesClient mint a session through the fake, and the launch URL opens on the stub embed.
"""

from __future__ import annotations

import os
import queue
import shlex
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from meshes_bridge import dev
from meshes_bridge.server import MeshesClient, MeshesSettings

REPO = Path(__file__).resolve().parent.parent
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
READY_LINE = "Transcript of what the fake Meshes sees"


def bridge_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO / "bridge"), "PYTHONUNBUFFERED": "1"}


def free_base_port() -> int:
    """A port P with P and P+1 both free on 127.0.0.1 right now."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base >= 65534:
            continue
        try:
            with (
                socket.create_server(("127.0.0.1", base)),
                socket.create_server(("127.0.0.1", base + 1)),
            ):
                return int(base)
        except OSError:
            continue
    raise RuntimeError("no two adjacent free ports")


@dataclass
class DevProcess:
    process: subprocess.Popen[str]
    lines: queue.Queue[str | None] = field(default_factory=queue.Queue)
    seen: list[str] = field(default_factory=list)

    def read_until(self, text: str, timeout: float = START_TIMEOUT) -> list[str]:
        """The lines printed up to and including the first one holding `text`."""
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(
                    f"no {text!r} within {timeout} s:\n" + "\n".join(self.seen)
                ) from None
            if line is None:
                stderr = self.process.stderr.read() if self.process.stderr else ""
                raise AssertionError(f"ended before {text!r}:\n" + "\n".join(self.seen) + stderr)
            self.seen.append(line)
            if text in line:
                return list(self.seen)

    def exports(self) -> dict[str, str]:
        found = {}
        for line in self.read_until(READY_LINE):
            if line.startswith("export "):
                name, _, value = line.removeprefix("export ").partition("=")
                found[name] = shlex.split(value)[0] if value else ""
        return found

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=STOP_TIMEOUT)


@pytest.fixture
def start_dev(tmp_path: Path) -> Iterator[object]:
    started: list[DevProcess] = []

    def start(*args: str) -> DevProcess:
        process = subprocess.Popen(
            [sys.executable, "-m", "meshes_bridge", "dev", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            env=bridge_env(),
        )
        running = DevProcess(process)

        def pump() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                running.lines.put(line.rstrip("\n"))
            running.lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        started.append(running)
        return running

    yield start
    for running in started:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait(timeout=STOP_TIMEOUT)


def test_mints_through_the_printed_settings_and_stops_on_sigterm(start_dev, tmp_path) -> None:
    base = free_base_port()
    env_file = tmp_path / ".env"
    env_file.write_text("DJANGO_DEBUG=1\nexport MESHES_API_URL=https://old.example\n")
    running = start_dev("--port", str(base), "--env-file", str(env_file))
    env = running.exports()

    # Fixed ports: the API on BASE, the embed on BASE+1; the default origin allowed.
    assert env["MESHES_API_URL"] == f"http://127.0.0.1:{base}"
    assert env["MESHES_EMBED_ORIGIN"] == f"http://127.0.0.1:{base + 1}"
    assert env["MESHES_ALLOWED_ORIGINS"] == "http://127.0.0.1:8000"
    assert any(
        "allowed origin" in line and "http://127.0.0.1:8000" in line for line in running.seen
    )

    # The .env file: the same settings, the file's other lines kept, the stale one replaced.
    lines = env_file.read_text().splitlines()
    assert lines[0] == "DJANGO_DEBUG=1"
    assert "https://old.example" not in env_file.read_text()
    assert {k: v for k, _, v in (line.partition("=") for line in lines[1:] if "=" in line)} == env

    # What a host app does with them: its own settings and client, a session, the embed.
    settings = MeshesSettings.from_env(env)
    mark = len(running.seen)
    with MeshesClient.from_settings(settings) as client:
        session = client.create_session(
            workspace_id=settings.workspace_id,
            external_user_id="alice",
            allowed_origins=list(settings.allowed_origins),
        )
    assert session.launch_url.startswith(env["MESHES_EMBED_ORIGIN"] + "/")
    assert httpx.get(session.launch_url, timeout=10).status_code == 200

    # The transcript is streamed, redacted.
    running.read_until(session.session_id)
    streamed = "\n".join(running.seen[mark:])
    assert session.access_token not in streamed and settings.secret_key not in streamed

    assert running.stop(signal.SIGTERM) == 0
    running.read_until("stopped", timeout=5)


def test_ctrl_c_stops_cleanly(start_dev) -> None:
    running = start_dev("--port", "0", "--origin", "http://127.0.0.1:5000")
    env = running.exports()
    assert env["MESHES_ALLOWED_ORIGINS"] == "http://127.0.0.1:5000"
    assert running.stop(signal.SIGINT) == 0
    assert running.process.stderr is not None
    assert "Traceback" not in running.process.stderr.read()


def test_origins_repeated_or_comma_separated(start_dev) -> None:
    running = start_dev(
        "--port",
        "0",
        "--origin",
        "http://localhost:8000/, http://127.0.0.1:8000",
        "--origin",
        "http://127.0.0.1:5000",
    )
    env = running.exports()
    assert env["MESHES_ALLOWED_ORIGINS"] == (
        "http://localhost:8000,http://127.0.0.1:8000,http://127.0.0.1:5000"
    )
    assert MeshesSettings.from_env(env).allowed_origins == tuple(
        env["MESHES_ALLOWED_ORIGINS"].split(",")
    )
    assert running.stop() == 0


def run_dev(*args: str, code: str | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "meshes_bridge", "dev", *args]
    if code is not None:
        cmd = [sys.executable, "-c", code, *args]
    return subprocess.run(
        cmd, capture_output=True, text=True, env=bridge_env(), timeout=START_TIMEOUT
    )


def test_bad_origin_is_a_usage_error() -> None:
    r = run_dev("--origin", "http://127.0.0.1:8000/app", "--port", "0")
    assert r.returncode == 2
    assert "--origin" in r.stderr and "no path" in r.stderr and "Traceback" not in r.stderr


def test_port_in_use_says_so() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        r = run_dev("--port", str(port))
    assert r.returncode == 1
    assert "--port" in r.stderr and "Traceback" not in r.stderr


# Import as if the [testing] extra were not installed: `aiohttp` cannot be imported.
WITHOUT_AIOHTTP = (
    "import sys; sys.modules['aiohttp'] = None; "
    "from meshes_bridge.cli import main; sys.exit(main(['dev', *sys.argv[1:]]))"
)


def test_missing_testing_extra_is_one_clear_line() -> None:
    r = run_dev("--port", "0", code=WITHOUT_AIOHTTP)
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr.strip().splitlines() == [
        "meshes-bridge: error: `meshes-bridge dev` needs the test kit's dependencies "
        '(aiohttp is not installed): pip install "meshes-bridge[testing]"'
    ]


def test_help_names_ports_origins_and_the_extra() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "meshes_bridge", "dev", "--help"],
        capture_output=True,
        text=True,
        env=bridge_env(),
    )
    assert r.returncode == 0
    text = " ".join(r.stdout.split())
    for needed in (
        "--origin ORIGIN",
        "--port BASE",
        "--env-file FILE",
        f"default {dev.DEFAULT_PORT}",
        "http://127.0.0.1:8000",
        "port 5000",
        "uvicorn",
        'pip install "meshes-bridge[testing]"',
        "exit codes",
    ):
        assert needed in text, needed


def test_dotenv_text_keeps_other_lines() -> None:
    env = {"MESHES_API_URL": "http://127.0.0.1:8710", "MESHES_ALLOWED_ORIGINS": "a b"}
    first = dev.dotenv_text(env, "SECRET=1\nexport MESHES_API_URL=x\n\n")
    assert first.splitlines() == [
        "SECRET=1",
        "",
        dev.DOTENV_HEADER,
        "MESHES_API_URL=http://127.0.0.1:8710",
        "MESHES_ALLOWED_ORIGINS='a b'",
    ]
    assert dev.dotenv_text(env, first) == first  # rewriting changes nothing
