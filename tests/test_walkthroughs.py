"""The getting-started pages, followed word for word by someone with the package and the
docs alone (issue 17).

Each test reads its page's Markdown, writes every block with a `title="path"` into a fresh
directory (a title `"path: add at the end"` appends to a file an earlier command made,
e.g. Django's generated settings), then runs the page's own shell lines: `meshes-bridge
dev` and the app's start command, on free ports instead of the page's, and signs in in
Chromium until the embed is authenticated; then the page's own pytest test, with
`python -m pytest tests` in that directory.

All of it runs as in an activated fresh venv holding the built wheel (tests/fresh_venv.py):
its `python`, `meshes-bridge`, `flask` and `django-admin` first on PATH, and nothing of
this checkout importable. A block that includes a file (`--8<--`) is
resolved as pymdownx.snippets does, so an included file is the file used here.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from meshes_bridge.testing.processes import free_port, port_open
from tests.fresh_venv import FreshVenv

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT / "docs" / "getting-started"
FENCE = re.compile(
    r"^```(?P<lang>[\w-]*)(?P<attrs>[^\n]*)\n(?P<body>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL
)
TITLE = re.compile(r'title="([^"]+)"')
INCLUDE = re.compile(r'^\s*-{1,}8<-{1,}\s+"([^"]+)"\s*$')
APPEND = ": add at the end"
START_TIMEOUT = 60.0

pytestmark = pytest.mark.slow


def _included(spec: str) -> str:
    """What pymdownx.snippets puts in place of `--8<-- "spec"` (a file, or a named section
    of it without its marker lines)."""
    path, _, section = spec.partition(":")
    text = (ROOT / path).read_text()
    if not section:
        return text
    start, end = f"--8<-- [start:{section}]", f"--8<-- [end:{section}]"
    lines = text[text.index(start) : text.index(end)].splitlines(keepends=True)[1:]
    return "".join(line for line in lines if "--8<--" not in line)


def blocks(page: Path) -> list[tuple[str, str, str]]:
    """The page's fenced blocks as (language, title or "", text), includes resolved."""
    found = []
    for match in FENCE.finditer(page.read_text()):
        title = TITLE.search(match["attrs"])
        body = "".join(
            _included(m[1]) if (m := INCLUDE.match(line)) else line
            for line in match["body"].splitlines(keepends=True)
        )
        found.append((match["lang"], title[1] if title else "", body))
    return found


def write_files(page: Path, project: Path) -> list[str]:
    """Write (or append) the page's titled blocks into `project`; the paths written."""
    written = []
    for _lang, title, body in blocks(page):
        if not title:
            continue
        append = title.endswith(APPEND)
        path = project / title.removesuffix(APPEND)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a" if append else "w") as out:
            out.write(("\n" + body) if append else body)
        written.append(title)
    return written


def shell_lines(page: Path) -> list[str]:
    """The commands of the page's ```sh blocks, without their comments."""
    lines = []
    for lang, _title, body in blocks(page):
        if lang == "sh":
            lines += [line.split("  #")[0].rstrip() for line in body.splitlines() if line.strip()]
    return lines


def the_line(lines: list[str], start: str) -> str:
    found = [line for line in lines if line.startswith(start)]
    assert len(found) == 1, f"the page should have one `{start}...` command: {found}"
    return found[0]


def environment(venv: FreshVenv) -> dict[str, str]:
    """An activated fresh venv's environment (the package from the built wheel, no
    PYTHONPATH to this checkout), no MESHES_* of ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESHES_")}
    env.pop("PYTEST_ADDOPTS", None)
    return venv.env(env)


class Shell:
    """Background shell scripts run in `cwd`, each in its own process group (stopped at the
    end, with what they printed kept for the failure message)."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.cwd = cwd
        self.env = env
        self.procs: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(self, script: str, name: str) -> subprocess.Popen[bytes]:
        log = self.cwd.parent / f"{name}.log"
        proc = subprocess.Popen(
            ["bash", "-c", script],
            cwd=self.cwd,
            env=self.env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append((proc, log))
        return proc

    def output(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for _, log in self.procs)

    def wait_for(self, ready: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not ready():
            dead = [p for p, _ in self.procs if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                pytest.fail(f"{what} did not happen\n{self.output()}")
            time.sleep(0.2)

    def stop(self) -> None:
        for proc, _log in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


@pytest.fixture
def shell(tmp_path: Path, fresh_venv: FreshVenv) -> Iterator[Shell]:
    project = tmp_path / "project"
    project.mkdir()
    runner = Shell(project, environment(fresh_venv))
    where = subprocess.run(
        ["bash", "-c", "python -c 'import meshes_bridge; print(meshes_bridge.__file__)'"],
        cwd=project,
        env=runner.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert where.stdout.startswith(str(fresh_venv.root)), where
    try:
        yield runner
    finally:
        runner.stop()


def start_fake_meshes(shell: Shell, lines: list[str], page_port: str, app_port: int) -> None:
    """The page's `meshes-bridge dev` line, with the app's port and free ports of its own."""
    command = the_line(lines, "meshes-bridge dev")
    assert f"--origin http://127.0.0.1:{page_port}" in command
    env_file = shlex.split(command)[shlex.split(command).index("--env-file") + 1]
    shell.start(command.replace(page_port, str(app_port)) + " --port 0", "meshes-dev")

    def written() -> bool:
        path = shell.cwd / env_file
        return path.is_file() and "MESHES_EMBED_ORIGIN" in path.read_text()

    shell.wait_for(written, f"meshes-bridge dev writing {env_file}")


def sign_in_and_see_the_embed(page: Page, shell: Shell, url: str, login_path: str) -> None:
    from meshes_bridge.testing import expect_embed_authenticated, log_in

    try:
        log_in(page, url + login_path, "alice", "demo-password")
        expect_embed_authenticated(page)
    except AssertionError as error:
        raise AssertionError(f"{error}\n{shell.output()}") from None
    assert page.locator("[data-meshes-embed]").get_attribute("data-state") == "authenticated"


def run_the_pages_test(shell: Shell) -> None:
    """`python -m pytest tests`, the page's command, with the venv's `python`."""
    result = subprocess.run(
        ["bash", "-c", "python -m pytest tests -q -p no:cacheprovider"],
        cwd=shell.cwd,
        env=shell.env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert re.search(r"\b1 passed\b", result.stdout), result.stdout[-2000:]


def start_the_app(shell: Shell, page: Path, page_port: str, app_port: int) -> None:
    """The page's second terminal (the ```sh block starting `set -a`), run as it is on our
    free port instead of the page's, its last command (the server) in the foreground."""
    found = [body for lang, _t, body in blocks(page) if lang == "sh" and body.startswith("set -a")]
    assert len(found) == 1, "the page should have one block starting `set -a; . ./meshes.env`"
    *setup, serve = found[0].strip().splitlines()
    assert page_port in serve, f"{serve!r} should listen on {page_port}, the page's origin"
    script = "\n".join(["set -e", *setup, f"exec {serve}"]).replace(page_port, str(app_port))
    shell.start(script, "app")
    shell.wait_for(lambda: port_open(app_port), f"the app answering on {app_port}")


def test_the_flask_page_word_for_word(shell: Shell, page: Page) -> None:
    doc = PAGES / "flask.md"
    written = write_files(doc, shell.cwd)
    assert {"app.py", "templates/index.html", "tests/test_embed.py"} <= set(written)
    lines = shell_lines(doc)
    app_port = free_port()
    start_fake_meshes(shell, lines, "5000", app_port)
    start_the_app(shell, doc, "5000", app_port)
    sign_in_and_see_the_embed(page, shell, f"http://127.0.0.1:{app_port}", "/login")
    shell.stop()

    assert the_line(lines, "python -m pytest") == "python -m pytest tests"
    run_the_pages_test(shell)


def test_the_django_page_word_for_word(shell: Shell, page: Page) -> None:
    doc = PAGES / "django.md"
    lines = shell_lines(doc)
    startproject = the_line(lines, "django-admin startproject")
    subprocess.run(
        ["bash", "-c", startproject], cwd=shell.cwd, env=shell.env, check=True, timeout=60
    )
    written = write_files(doc, shell.cwd)
    assert {"mysite/urls.py", "mysite/views.py", "tests/test_embed.py"} <= set(written)
    app_port = free_port()
    start_fake_meshes(shell, lines, "8000", app_port)
    start_the_app(shell, doc, "8000", app_port)
    sign_in_and_see_the_embed(page, shell, f"http://127.0.0.1:{app_port}", "/accounts/login/")
    shell.stop()

    assert the_line(lines, "python -m pytest") == "python -m pytest tests"
    run_the_pages_test(shell)
