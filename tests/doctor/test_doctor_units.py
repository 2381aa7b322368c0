"""The doctor's parts that need no browser: the command line's usage errors, what it
says when Playwright or Chromium is missing, the CSP source matching, the verdict and
exit code, and the redaction of the endpoints' answers."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from meshes_bridge.doctor import browser
from meshes_bridge.doctor.checks.csp import allows, parse_policy
from meshes_bridge.doctor.redaction import Redactor
from meshes_bridge.doctor.report import PROBLEM, WARNING, Report
from meshes_bridge.testing.chromium import NOT_FOUND, ChromiumNotFound
from tests.doctor.conftest import doctor_env

PAGE = "https://app.example.com"
EMBED = "https://embed.meshes.io"


def _doctor(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "meshes_bridge", "doctor", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**doctor_env(), **(env or {})},
    )


def test_the_help_names_every_option_of_the_interface() -> None:
    done = _doctor("--help")
    assert done.returncode == 0
    for option in (
        "--login-url URL",
        "--username U",
        "--password P",
        "--storage-state FILE",
        "--cookie NAME=VALUE",
        "--runtime R",
        "--timeout S",
        "--json",
        "--html FILE",
        "exit codes",
    ):
        assert option in done.stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["ftp://example.com/"], "URL must start with http:// or https://"),
        (["http://127.0.0.1:9/", "--login-url", "http://127.0.0.1:9/login"], "go together"),
        (["http://127.0.0.1:9/", "--cookie", "no-equals-sign"], "--cookie takes NAME=VALUE"),
        (["http://127.0.0.1:9/", "--timeout", "0"], "--timeout must be a positive"),
    ],
)
def test_bad_usage_exits_2_saying_what_to_write(args: list[str], says: str) -> None:
    done = _doctor(*args)
    assert done.returncode == 2
    assert says in done.stderr
    assert done.stdout == ""


def test_a_chromium_that_is_not_there_exits_2_naming_the_setting() -> None:
    done = _doctor("http://127.0.0.1:9/", env={"MESHES_BRIDGE_CHROMIUM": "/nonexistent/chromium"})
    assert done.returncode == 2
    assert "MESHES_BRIDGE_CHROMIUM /nonexistent/chromium: no such file" in done.stderr


def test_no_chromium_at_all_names_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    def nothing(*_args: object, **_kwargs: object) -> str:
        raise ChromiumNotFound(NOT_FOUND)

    monkeypatch.setattr(browser, "find_chromium", nothing)
    with pytest.raises(browser.DoctorError) as caught:
        browser.launch(object(), None)  # type: ignore[arg-type]
    assert "apt-get install chromium" in str(caught.value)
    assert "playwright install chromium" in str(caught.value)


def test_no_playwright_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "playwright.sync_api", None)
    with pytest.raises(browser.DoctorError) as caught:
        browser.sync_playwright()
    assert 'pip install "meshes-bridge[doctor]"' in str(caught.value)


@pytest.mark.parametrize(
    ("sources", "origin", "allowed"),
    [
        ([EMBED], EMBED, True),
        ([EMBED + "/"], EMBED, True),
        (["https://embed.meshes.io:443"], EMBED, True),
        (["embed.meshes.io"], EMBED, True),
        (["*.meshes.io"], EMBED, True),
        (["https:"], EMBED, True),
        (["*"], EMBED, True),
        (["'self'"], EMBED, False),
        (["'self'"], PAGE, True),
        (["'none'"], EMBED, False),
        (["https://embed.meshes.io:8443"], EMBED, False),
        (["http://embed.meshes.io"], EMBED, True),  # http matches https too (upgrade)
        (["https://embed.meshes.io"], "http://embed.meshes.io", False),
        (["https://other.example"], EMBED, False),
    ],
)
def test_csp_source_matching(sources: list[str], origin: str, allowed: bool) -> None:
    assert allows(sources, origin, PAGE) is allowed


def test_a_policy_is_read_as_directives_first_one_winning() -> None:
    policy = parse_policy("default-src 'self'; FRAME-SRC a b ; frame-src c;;")
    assert policy == {"default-src": ["'self'"], "frame-src": ["a", "b"]}


def test_the_exit_code_follows_the_worst_finding() -> None:
    report = Report(url="u", origin="o", tool_version="0")
    assert report.exit_code == 1  # no container at all is never healthy
    report.containers_total = report.containers_authenticated = 1
    assert (report.exit_code, report.verdict) == (0, "ok")
    report.section("csp").add(WARNING, "csp-unsafe-eval", "w")
    assert report.exit_code == 3
    report.section("coop").add(PROBLEM, "coop-same-origin", "p")
    assert report.exit_code == 1
    assert report.verdict_line().startswith("PROBLEM: 1 of 1 container authenticated")


def test_an_endpoint_answer_is_shown_without_its_credentials() -> None:
    red = Redactor()
    launch = "https://embed.meshes.io/workspace/dashboard?launch=mlt_SECRETlaunchTOKEN123"
    body = json.dumps(
        {
            "session_id": "sess_1",
            "access_token": "mat_SECRETaccessTOKEN456",
            "expires_at": "2030-01-01T00:00:00Z",
            "launch_url": launch,
        }
    )
    red.learn(body)
    shown = red.body(body)
    assert shown == {
        "session_id": "sess_1",
        "access_token": "[redacted]",
        "expires_at": "2030-01-01T00:00:00Z",
        "launch_url": "[redacted]",
    }
    line = f"loaded {launch} with mat_SECRETaccessTOKEN456 and mlt_SECRETlaunchTOKEN123"
    scrubbed = red.scrub({"text": line})["text"]
    assert "SECRET" not in scrubbed
    assert "eyJ" not in red.known("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc_DEF-ghi")


def test_every_finding_code_is_documented() -> None:
    """Each code a check can give is in docs/doctor.md (the endpoint answers as a pattern)."""
    checks = Path(__file__).resolve().parents[2] / "bridge/meshes_bridge/doctor/checks"
    page = (Path(__file__).resolve().parents[2] / "docs/doctor.md").read_text()
    codes: set[str] = set()
    for source in checks.glob("*.py"):
        codes.update(
            re.findall(r"add\(\s*(?:OK|WARNING|PROBLEM),\s*\"([a-z0-9-]+)\"", source.read_text())
        )
    assert len(codes) > 30
    for code in sorted(codes):
        assert f"`{code}`" in page, f"docs/doctor.md lacks finding {code}"
    for answer in ("origin-not-allowed", "csrf-failed", "rate-limited", "meshes-credentials"):
        assert f"`endpoint-{answer}`" in page


@pytest.mark.slow
def test_the_wheel_ships_the_probe_and_the_schema(built_wheel: Path) -> None:
    import zipfile

    names = set(zipfile.ZipFile(built_wheel).namelist())
    for name in ("probe.js", "schema.json", "checks/csp.py", "session.py"):
        assert f"meshes_bridge/doctor/{name}" in names


def test_the_command_line_loads_neither_the_server_half_nor_playwright() -> None:
    """`meshes-bridge static` runs with no dependency installed: the doctor's arguments
    are there, its machinery is loaded only when it runs."""
    code = (
        "import sys, meshes_bridge.cli as cli; cli.build_parser(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('httpx', 'playwright') "
        "or m.startswith(('meshes_bridge.server', 'meshes_bridge.doctor.session'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=doctor_env(), timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
