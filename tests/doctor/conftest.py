"""The doctor's tests: the example apps as real servers (their own processes, under their
frameworks' real servers), each behind a `FaultyProxy` that breaks it on purpose from the
outside, and `meshes-bridge doctor` run against them as a user runs it (a subprocess,
headless Chromium)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from meshes_bridge.testing.doubles import Servers, start_servers
from meshes_bridge.testing.doubles.management_api import TEST_SECRET_KEY
from meshes_bridge.testing.processes import AppProcess
from tests.doctor.faulty_proxy import FaultyProxy
from tests.support import PASSWORD, REPO, START_TIMEOUT

DOCTOR_TIMEOUT = 60  # the doctor's own --timeout; it stops by itself long before
RUN_TIMEOUT = 180  # the subprocess, whatever happens
WRONG_SECRET = "msk_not-the-secret-the-fake-meshes-knows"


@dataclass
class Example:
    """An example app, running, reached through its proxy (the page origin)."""

    framework: str
    app: AppProcess
    proxy: FaultyProxy

    @property
    def origin(self) -> str:
        return self.proxy.origin

    def login_args(self, username: str = "alice") -> list[str]:
        return [
            "--login-url",
            self.origin + "/login",
            "--username",
            username,
            "--password",
            PASSWORD,
        ]


@dataclass
class DoctorRun:
    exit_code: int
    stdout: str
    stderr: str
    html: str

    @property
    def data(self) -> dict[str, Any]:
        return json.loads(self.stdout)  # type: ignore[no-any-return]

    def findings(self) -> list[dict[str, Any]]:
        return [f for s in self.data["sections"] for f in s["findings"]]

    def finding(self, code: str) -> dict[str, Any]:
        found = [f for f in self.findings() if f["code"] == code]
        assert found, f"no finding {code!r} in {[f['code'] for f in self.findings()]}"
        return found[0]

    def section(self, key: str) -> dict[str, Any]:
        return next(s for s in self.data["sections"] if s["id"] == key)


@pytest.fixture(scope="session")
def fake() -> Iterator[Servers]:
    """The fake Meshes (management API, stub embed), for every app of these tests. Never
    reset: the tokens it issued are what the secret scan looks for."""
    with start_servers() as servers:
        yield servers


class Examples:
    """Example apps behind proxies, started on first use, each kept for the session."""

    def __init__(self, fake: Servers) -> None:
        self.fake = fake
        self.running: dict[tuple[str, tuple[tuple[str, str], ...]], Example] = {}

    def get(self, framework: str, **env: str) -> Example:
        key = (framework, tuple(sorted(env.items())))
        if key not in self.running:
            proxy = FaultyProxy()
            app = AppProcess(
                [
                    sys.executable,
                    str(REPO / "examples" / framework / "serve.py"),
                    "--port",
                    "{port}",
                ],
                cwd=REPO,
                start_timeout=START_TIMEOUT,
            )
            settings = self.fake.meshes_env(proxy.origin)
            # Many doctor runs as alice within a minute: only the limit test spends it.
            settings["MESHES_BRIDGE_MINT_LIMIT"] = "1000"
            settings.update(env)
            app.env.update(settings)
            try:
                app.start()
                proxy.start(app.url)
            except BaseException:
                proxy.stop()
                app.stop()
                raise
            self.running[key] = Example(framework, app, proxy)
        example = self.running[key]
        example.proxy.fault = None
        return example

    def stop(self) -> None:
        for example in self.running.values():
            example.proxy.stop()
            example.app.stop()


@pytest.fixture(scope="session")
def examples(fake: Servers) -> Iterator[Examples]:
    running = Examples(fake)
    try:
        yield running
    finally:
        running.stop()


def doctor_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO / "bridge"), str(REPO), *filter(None, [env.get("PYTHONPATH")])]
    )
    return env


def run_doctor(
    url: str,
    *args: str,
    tmp_path: Path,
    as_json: bool = True,
    cwd: Path = REPO,
    command: list[str] | None = None,
    extra_env: dict[str, str] | None = None,
) -> DoctorRun:
    """`meshes-bridge doctor URL ARGS` (or `command`) in a subprocess; with `as_json`, the
    report as JSON and the HTML page written too."""
    html = tmp_path / "report.html"
    argv = command or [sys.executable, "-m", "meshes_bridge", "doctor", url]
    env = {**doctor_env(), **(extra_env or {})}
    argv = [*argv, *args, "--timeout", str(DOCTOR_TIMEOUT)]
    if as_json:
        argv += ["--json", "--html", str(html)]
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=RUN_TIMEOUT, env=env, cwd=cwd
    )
    return DoctorRun(
        done.returncode,
        done.stdout,
        done.stderr,
        html.read_text(encoding="utf-8") if html.exists() else "",
    )


def secrets_of(fake: Servers) -> list[str]:
    """What must never be printed: every token the fake issued, the machine secrets, the
    demo password."""
    return [*fake.fake.issued_tokens(), TEST_SECRET_KEY, WRONG_SECRET, PASSWORD]


def assert_no_secret(fake: Servers, *outputs: str) -> None:
    secrets = secrets_of(fake)
    for text in outputs:
        leaked = [s[:6] + "…" for s in secrets if s and s in text]
        assert not leaked, f"a secret in the doctor's output: {leaked}"
        assert "?launch=" not in text and "launch=mlt_" not in text
        assert "eyJ" not in text, "a JWT in the doctor's output"
