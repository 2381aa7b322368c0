"""How the doctor gets past the login: a login form, a cookie, a storage-state file; the
login page it lands on when it has none; `flask meshes doctor` defaulting to the app's own
page; `--runtime` running the page on Pyodide."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from meshes_bridge.testing.doubles import Servers
from tests.doctor.conftest import Examples, assert_no_secret, run_doctor
from tests.support import PASSWORD, REPO, Visitor


def test_without_a_login_the_login_page_is_named(
    examples: Examples, fake: Servers, tmp_path: Path
) -> None:
    example = examples.get("flask")
    run = run_doctor(example.origin + "/", tmp_path=tmp_path)
    assert run.exit_code == 1
    finding = run.finding("login-required")
    assert "sent the browser to a login page (/login)" in finding["title"]
    assert "--login-url URL --username U --password P" in finding["fix"]
    assert run.data["stopped"] == "the page sent the browser to a login page"


def test_a_wrong_password_is_a_failed_login(examples: Examples, tmp_path: Path) -> None:
    example = examples.get("flask")
    args = ["--login-url", example.origin + "/login", "--username", "alice"]
    run = run_doctor(example.origin + "/", *args, "--password", "not-it", tmp_path=tmp_path)
    assert run.exit_code == 1
    assert "still on a page with a password field" in run.finding("login-failed")["detail"]
    assert "not-it" not in run.stdout + run.stderr


def test_a_session_cookie_logs_in(examples: Examples, fake: Servers, tmp_path: Path) -> None:
    example = examples.get("flask")
    with Visitor(example.app) as visitor:
        assert visitor.login("alice").status_code == 303
        cookie = visitor.http.cookies["session"]
    run = run_doctor(example.origin + "/", "--cookie", f"session={cookie}", tmp_path=tmp_path)
    assert run.exit_code == 0, run.stdout[-2000:]
    assert cookie not in run.stdout + run.stderr + run.html
    assert_no_secret(fake, run.stdout, run.stderr, run.html)


def test_a_storage_state_file_logs_in(examples: Examples, fake: Servers, tmp_path: Path) -> None:
    example = examples.get("django")
    with Visitor(example.app) as visitor:
        assert visitor.login("alice").status_code == 302
        jar = [{"name": c.name, "value": c.value} for c in visitor.http.cookies.jar]
    state = tmp_path / "state.json"
    cookies = [
        {
            **c,
            "domain": "127.0.0.1",
            "path": "/",
            "expires": -1,
            "httpOnly": False,
            "secure": False,
            "sameSite": "Lax",
        }
        for c in jar
    ]
    state.write_text(json.dumps({"cookies": cookies, "origins": []}))
    run = run_doctor(example.origin + "/", "--storage-state", str(state), tmp_path=tmp_path)
    assert run.exit_code == 0, run.stdout[-2000:]
    assert run.data["framework"] == "django"
    assert run.finding("django-check-deploy")["verdict"] == "ok"
    assert_no_secret(fake, run.stdout, run.stderr, run.html)


def test_flask_meshes_doctor_opens_the_apps_own_page(
    examples: Examples, fake: Servers, tmp_path: Path
) -> None:
    example = examples.get("flask")
    env = {k: v for k, v in example.app.env.items() if k.startswith("MESHES_")}
    command = [sys.executable, "-m", "flask", "--app", "app:create_app", "meshes", "doctor"]
    run = run_doctor(
        "",
        *example.login_args(),
        tmp_path=tmp_path,
        cwd=REPO / "examples" / "flask",
        command=command,
        extra_env=env,
    )
    assert run.exit_code == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert run.data["url"] == example.origin + "/"  # its first allowed origin
    assert PASSWORD not in run.stdout + run.stderr
    assert_no_secret(fake, run.stdout, run.stderr, run.html)


def test_runtime_runs_the_page_on_pyodide(
    examples: Examples, fake: Servers, tmp_path: Path
) -> None:
    example = examples.get("flask")
    run = run_doctor(
        example.origin + "/", *example.login_args(), "--runtime", "pyodide", tmp_path=tmp_path
    )
    assert run.exit_code == 0, run.stdout[-2000:]
    assert run.data["runtime"] == "pyodide"
    urls = [a["url"] for a in run.section("assets")["items"]]
    assert any(url.endswith("/pyodide.asm.wasm") for url in urls)
    assert not any(url.endswith("/micropython.wasm") for url in urls)
    assert_no_secret(fake, run.stdout, run.stderr, run.html)
