"""The test kit's pytest plugin (`meshes_bridge.testing.plugin`), used as a host team uses
it: each scenario is a small project run by a separate pytest process (pytester's
subprocess mode), so the fixtures really start and stop the fake Meshes, the app and
Chromium, and the one-line failures are read from that run's own report."""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import socket
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from meshes_bridge.testing import chromium
from tests.fresh_venv import FreshVenv

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
FLASK_SERVE = EXAMPLES / "flask" / "serve.py"
INNER_ARGS = ("-p", "no:cacheprovider", "-q")
RUN_TIMEOUT = 120
EXAMPLE_TIMEOUT = 300


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(*INNER_ARGS, *args, timeout=RUN_TIMEOUT)


def error_line(result: pytest.RunResult, test: str) -> str:
    """The whole error report of `test` when it is one line (else fails showing it)."""
    lines = result.outlines
    start = next(i for i, line in enumerate(lines) if f"ERROR at setup of {test}" in line)
    body = []
    for line in lines[start + 1 :]:
        if line.startswith(("___", "===")):
            break
        body.append(line)
    assert len(body) == 1, "\n".join(body)
    return body[0]


# -- registration and import ------------------------------------------------------------


def test_entry_point_is_registered(pytestconfig: pytest.Config) -> None:
    found = [ep for ep in importlib.metadata.entry_points(group="pytest11")]
    assert [ep.value for ep in found if ep.name == "meshes_bridge"] == [
        "meshes_bridge.testing.plugin"
    ]
    assert pytestconfig.pluginmanager.has_plugin("meshes_bridge")


def test_plugin_loads_without_the_testing_extra(tmp_path: Path) -> None:
    """Installed without [testing], pytest still starts; only a fixture that needs the
    extra fails, saying what to install."""
    (tmp_path / "test_fake.py").write_text("def test_fake(meshes_fake):\n    pass\n")
    blocked = ["aiohttp", "playwright", "uvicorn", "flask", "django", "fastapi"]
    script = textwrap.dedent(
        f"""
        import sys
        for name in {blocked!r}:
            sys.modules[name] = None  # `import name` now raises ImportError
        import meshes_bridge.testing.plugin
        import pytest
        # no:django: pytest-django (our dev extra) cannot load without the Django it needs.
        plugins_off = ["-p", "no:playwright", "-p", "no:django", "-p", "no:cacheprovider"]
        code = pytest.main([*plugins_off, "-q", "test_fake.py"])
        assert meshes_bridge.testing.plugin.__name__ in sys.modules
        sys.exit(code)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'meshes_fake: aiohttp is not installed: pip install "meshes-bridge[testing]"' in (
        result.stdout
    )


# -- Chromium selection (no browser started) ---------------------------------------------


def test_chromium_selection_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "my-chromium"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    own = tmp_path / "playwright-chromium"
    env_fake = {chromium.ENV_VAR: str(fake)}
    assert chromium.find_chromium(str(fake), {}) == str(fake)
    assert chromium.find_chromium(None, env_fake, lambda: str(fake)) == str(fake)
    # Playwright's own Chromium, when installed, before a system one: None says "its own".
    assert chromium.find_chromium(None, {}, lambda: str(fake)) is None
    monkeypatch.setattr(chromium, "SYSTEM_CHROMIUM", str(fake))
    assert chromium.find_chromium(None, {}, lambda: str(own)) == str(fake)  # not installed
    monkeypatch.setattr(chromium, "SYSTEM_CHROMIUM", str(tmp_path / "none"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(chromium.ChromiumNotFound) as missing:
        chromium.find_chromium(None, {}, lambda: None)
    assert str(missing.value) == (
        "no Chromium found: apt-get install chromium, or playwright install chromium, "
        "or pass --meshes-chromium PATH"
    )
    with pytest.raises(chromium.ChromiumNotFound, match="MESHES_BRIDGE_CHROMIUM .*no such"):
        chromium.find_chromium(None, {chromium.ENV_VAR: str(own)})


def test_launch_args_keep_what_was_given() -> None:
    base = {"args": ["--lang=de", "--no-sandbox"], "slow_mo": 5}
    launch = chromium.launch_args(base, "/usr/bin/chromium")
    assert launch["executable_path"] == "/usr/bin/chromium" and launch["slow_mo"] == 5
    assert launch["args"][:2] == ["--lang=de", "--no-sandbox"]
    assert launch["args"].count("--no-sandbox") == 1 and "--disable-gpu" in launch["args"]
    assert chromium.launch_args(base, None) == base  # Playwright's own: untouched
    mine = {"executable_path": "/opt/chrome"}
    assert chromium.launch_args(mine, "/usr/bin/chromium") == mine


LAUNCH_ARGS_TEST = """
import os

def test_launch_args(browser_type_launch_args, meshes_chromium):
    assert meshes_chromium == os.environ["EXPECTED_CHROMIUM"]
    assert browser_type_launch_args["executable_path"] == meshes_chromium
    assert "--no-sandbox" in browser_type_launch_args["args"]
"""


@pytest.mark.parametrize(
    "order",
    [
        ("meshes_bridge.testing.plugin", "pytest_playwright.pytest_playwright"),
        ("pytest_playwright.pytest_playwright", "meshes_bridge.testing.plugin"),
    ],
    ids=["kit-first", "playwright-first"],
)
def test_launch_args_override_wins_in_any_load_order(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, order: tuple[str, str]
) -> None:
    """Plugins load in whatever order; the kit's launch args must still be the ones used.
    The Chromium named by MESHES_BRIDGE_CHROMIUM is the one launched."""
    link = pytester.path / "chromium-link"
    target = chromium.system_chromium()
    if target is None:
        pytest.skip("no system Chromium")
    link.symlink_to(target)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv(chromium.ENV_VAR, str(link))
    monkeypatch.setenv("EXPECTED_CHROMIUM", str(link.resolve()))
    pytester.makepyfile(test_args=LAUNCH_ARGS_TEST)
    result = run(pytester, "-p", order[0], "-p", order[1])
    result.assert_outcomes(passed=1)


# -- the fixtures, with an app from a command ----------------------------------------------

COMMAND_CONFTEST = f"""
import pytest

@pytest.fixture(scope="session")
def meshes_app_command():
    return ["python", {str(FLASK_SERVE)!r}, "--port", "{{port}}"]
"""

MINT = """
import contextlib
import re

import httpx

@contextlib.contextmanager
def logged_in(app):
    with httpx.Client(base_url=app.url, timeout=30) as http:
        form = http.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        credentials = {"username": "alice", "password": "demo-password", "csrf_token": token}
        assert http.post("/login", data=credentials).status_code in (302, 303)
        yield http

def mint(http, app):
    return http.post("/meshes/session", json={},
                     headers={"Origin": app.origin, "X-Requested-With": "test"})

def mint_as_alice(app):
    with logged_in(app) as http:
        answer = mint(http, app)
        assert answer.status_code in (200, 201), answer.text
        return answer.json()
"""

FIXTURE_TESTS = (
    MINT
    + """
import os

def test_env(meshes_env, meshes_fake):
    assert meshes_env["MESHES_API_URL"] == meshes_fake.api_url
    assert meshes_env["MESHES_EMBED_ORIGIN"] == meshes_fake.embed_url
    for name in ("MESHES_ORG_ID", "MESHES_ACCESS_KEY", "MESHES_SECRET_KEY",
                 "MESHES_WORKSPACE_ID"):
        assert meshes_env[name]
    assert "MESHES_ALLOWED_ORIGINS" not in meshes_env  # the app's origin, set by meshes_app

def test_dirty(meshes, meshes_fake):
    assert meshes is meshes_fake
    meshes.api.fail_next("create", 503)
    meshes.fake.create_session({"external_user_id": "x"}, "http://127.0.0.1:1")
    meshes.transcript.add("embed", "ready", "left behind")

def test_clean_again(meshes):
    assert meshes.fake.sessions() == [] and len(meshes.transcript) == 0
    assert meshes.api.calls() == []

def test_app_mints_through_the_fake(meshes_app, meshes):
    assert meshes_app.kind == os.environ["EXPECTED_KIND"]
    assert meshes_app.url == meshes_app.origin == f"http://127.0.0.1:{meshes_app.port}"
    session = mint_as_alice(meshes_app)
    (view,) = meshes.fake.sessions()
    assert view.session_id == session["session_id"] and view.external_user_id == "alice"
    assert view.allowed_origins == (meshes_app.origin,)
    assert "/login" in meshes_app.output()

def test_fails_with_its_transcript(meshes):
    meshes.transcript.add("embed", "ready", "embed posted meshes:ready (marker-7q)")
    assert False
"""
)


def test_fixtures_with_an_app_command(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXPECTED_KIND", "command")
    pytester.makeconftest(COMMAND_CONFTEST)
    pytester.makepyfile(test_kit=FIXTURE_TESTS)
    result = run(pytester)
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_fails_with_its_transcript _*",
            "*- meshes transcript -*",
            "*embed posted meshes:ready (marker-7q)",
        ]
    )
    assert "left behind" not in result.stdout.str()  # reset, and only failures get one


# -- no test's use of the app reaches the next test -------------------------------------

LIMIT_TESTS = (
    MINT
    + """
def test_uses_up_a_production_limit(meshes_app, meshes):
    with logged_in(meshes_app) as http:  # 10 a minute is the production default
        assert [mint(http, meshes_app).status_code for _ in range(10)] == [200] * 10

def test_the_next_test_still_mints(meshes_app, meshes):
    mint_as_alice(meshes_app)
"""
)


def test_one_tests_mints_do_not_use_up_the_next_tests_limit(pytester: pytest.Pytester) -> None:
    """The app lives for the session, its rate counters with it: the kit starts it with
    limits no ordinary test meets, so a suite passes in any order."""
    pytester.makeconftest(COMMAND_CONFTEST)
    pytester.makepyfile(test_limits=LIMIT_TESTS)
    run(pytester).assert_outcomes(passed=2)


def test_the_limit_itself_is_tested_with_its_own_value(pytester: pytest.Pytester) -> None:
    """What a host team writes to test its limit: its own value in meshes_app_env."""
    pytester.makeconftest(
        COMMAND_CONFTEST
        + textwrap.dedent(
            """
            @pytest.fixture(scope="session")
            def meshes_app_env():
                return {"MESHES_BRIDGE_MINT_LIMIT": "2"}
            """
        )
    )
    pytester.makepyfile(
        test_limit=MINT
        + textwrap.dedent(
            """
            def test_the_third_mint_in_a_minute_is_refused(meshes_app, meshes):
                with logged_in(meshes_app) as http:
                    answers = [mint(http, meshes_app) for _ in range(3)]
                assert [a.status_code for a in answers] == [200, 200, 429]
                assert int(answers[2].headers["Retry-After"]) > 0
            """
        )
    )
    run(pytester).assert_outcomes(passed=1)


def example_tests(framework: str) -> list[str]:
    """The node ids of an example's tests, in the order of its file."""
    path = EXAMPLES / framework / "tests" / f"test_{framework}_embed.py"
    tree = ast.parse(path.read_text())
    relative = path.relative_to(REPO)
    return [
        f"{relative}::{node.name}"
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    ]


@pytest.mark.parametrize("order", ["file-order", "reversed"])
@pytest.mark.parametrize("framework", ["flask", "django", "fastapi"])
def test_the_examples_pass_in_either_order(
    framework: str, order: str, fresh_venv: FreshVenv
) -> None:
    """Run as a host team runs them (`python -m pytest ...` from the repository root, one
    app per run), from a fresh venv holding the built wheel (its `python`, no checkout on
    the path); pytest runs node ids in the order given."""
    tests = example_tests(framework)
    assert len(tests) >= 2, tests
    if order == "reversed":
        tests.reverse()
    env = fresh_venv.env()
    where = subprocess.run(
        [str(fresh_venv.python), "-c", "import meshes_bridge; print(meshes_bridge.__file__)"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert where.stdout.startswith(str(fresh_venv.root)), where
    result = subprocess.run(
        [str(fresh_venv.python), "-m", "pytest", *INNER_ARGS, *tests],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=EXAMPLE_TIMEOUT,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


SETUP_CONFTEST = """
import sys

import pytest

RECORD = ("import os, sys; open(sys.argv[1], 'a').write("
          "os.environ['MESHES_ALLOWED_ORIGINS'] + ' ' + os.environ['MESHES_API_URL'] + "
          "' ' + os.environ['FROM_APP_ENV'] + chr(10))")

@pytest.fixture(scope="session")
def meshes_app_env():
    return {"FROM_APP_ENV": "yes"}

@pytest.fixture(scope="session")
def meshes_app_setup(tmp_path_factory):
    record = tmp_path_factory.getbasetemp() / "setup.txt"
    return [["python", "-c", RECORD, str(record)], f"python -c {RECORD!r} {record}",
            FAILING]
"""


def test_setup_commands_run_before_the_app_with_its_environment(
    pytester: pytest.Pytester,
) -> None:
    """What a Django project's fresh test database needs (migrate, the test users) runs
    first, in order, with the app's own environment, its origin included."""
    pytester.makeconftest(COMMAND_CONFTEST + SETUP_CONFTEST.replace("FAILING", repr("true")))
    pytester.makepyfile(
        test_setup="""
        def test_setup_ran_first(meshes_app, tmp_path_factory, meshes_env):
            record = tmp_path_factory.getbasetemp() / "setup.txt"
            line = f"{meshes_app.origin} {meshes_env['MESHES_API_URL']} yes"
            assert record.read_text().splitlines() == [line, line]
        """
    )
    run(pytester).assert_outcomes(passed=1)


def test_a_failing_setup_command_is_one_line(pytester: pytest.Pytester) -> None:
    failing = "python -c \"import sys; print('no such table: auth_user'); sys.exit(2)\""
    pytester.makeconftest(COMMAND_CONFTEST + SETUP_CONFTEST.replace("FAILING", repr(failing)))
    pytester.makepyfile(test_setup="def test_app(meshes_app):\n    pass\n")
    result = run(pytester)
    result.assert_outcomes(errors=1)
    assert error_line(result, "test_app") == (
        "meshes_app: setup command \"python -c import sys; print('no such table: auth_user'); "
        'sys.exit(2)" exited with code 2: no such table: auth_user'
    )


def test_a_second_app_in_one_session_fails_instead_of_testing_the_first(
    pytester: pytest.Pytester,
) -> None:
    """`pytest examples` collects several apps' suites; one app per session would run the
    second suite against the first app, and pass: the second suite's tests error, saying so."""
    for folder in ("first", "second"):
        pytester.mkdir(folder)
        (pytester.path / folder / "conftest.py").write_text(COMMAND_CONFTEST)
        (pytester.path / folder / f"test_{folder}.py").write_text(
            "def test_app(meshes_app):\n    pass\n"
        )
    result = run(pytester, "first", "second")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*meshes_app: this test defines another app (second::meshes_app_command) than "
            "the one this session started for first/test_first.py::test_app: the kit runs one "
            "app per pytest session; run each app's tests in a pytest run of its own"
        ]
    )


FACTORY_CONFTEST = """
import sys
import pytest

sys.path.insert(0, {folder!r})

@pytest.fixture(scope="session")
def {fixture}():
    from app import create_app
    return create_app
"""


@pytest.mark.parametrize(
    ("framework", "fixture", "kind"),
    [("flask", "meshes_wsgi_app", "wsgi"), ("fastapi", "meshes_asgi_app", "asgi")],
)
def test_app_from_a_factory(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    framework: str,
    fixture: str,
    kind: str,
) -> None:
    """Served in a thread of the test process; the MESHES_* variables are in os.environ
    while it runs, and gone (restored) after the session."""
    monkeypatch.setenv("EXPECTED_KIND", kind)
    folder = str(EXAMPLES / framework)
    pytester.makeconftest(FACTORY_CONFTEST.format(folder=folder, fixture=fixture))
    pytester.makepyfile(
        test_factory=MINT
        + textwrap.dedent(
            """
            import os
            import httpx

            def test_app_mints_through_the_fake(meshes_app, meshes):
                assert meshes_app.kind == os.environ["EXPECTED_KIND"]
                assert os.environ["MESHES_ALLOWED_ORIGINS"] == meshes_app.origin
                assert mint_as_alice(meshes_app)["session_id"]
                assert meshes.fake.sessions()[0].allowed_origins == (meshes_app.origin,)
                loader = httpx.get(meshes_app.url + "/static/meshes-bridge/loader.js")
                assert loader.status_code == 200  # the asset tree is served
                assert "/login" in meshes_app.output()
            """
        )
    )
    result = run(pytester)
    result.assert_outcomes(passed=1)


# -- one-line failures ---------------------------------------------------------------------


def test_no_app_and_no_chromium_are_one_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_errors="""
        def test_no_app(meshes_app):
            pass

        def test_no_chromium(page):
            pass
        """
    )
    result = run(pytester, "--meshes-chromium", "/nonexistent")
    result.assert_outcomes(errors=2)
    assert error_line(result, "test_no_app") == (
        "meshes_app: no app to start: override meshes_app_command (the argv with {port}), "
        "meshes_wsgi_app or meshes_asgi_app (a factory) in your conftest.py"
    )
    assert error_line(result, "test_no_chromium") == (
        "meshes_chromium: --meshes-chromium /nonexistent: no such file; point it at a "
        "Chromium executable (e.g. /usr/bin/chromium) or leave it unset"
    )


def test_an_app_command_that_exits_is_one_line(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="session")
        def meshes_app_command():
            return ["python", "-c", "print('bad config'); raise SystemExit(3)", "{port}"]
        """
    )
    pytester.makepyfile(test_exit="def test_app(meshes_app):\n    pass\n")
    result = run(pytester)
    result.assert_outcomes(errors=1)
    line = error_line(result, "test_app")
    assert line.startswith("meshes_app: the app (")
    assert "exited with code 3 before listening on port" in line and "bad config" in line


def test_a_taken_port_is_one_line(pytester: pytest.Pytester) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        pytester.makeconftest(
            COMMAND_CONFTEST
            + textwrap.dedent(
                f"""
                @pytest.fixture(scope="session")
                def meshes_app_port():
                    return {port}
                """
            )
        )
        pytester.makepyfile(test_port="def test_app(meshes_app):\n    pass\n")
        result = run(pytester)
    result.assert_outcomes(errors=1)
    assert error_line(result, "test_app") == (
        f"meshes_app: port {port} is taken (something listens on 127.0.0.1:{port}): stop it, "
        "or let meshes_app_port return 0 for a free port"
    )


# -- failures that say why -----------------------------------------------------------------

SAYS_WHY_TESTS = """
import pytest

from meshes_bridge.testing import expect_embed_authenticated, fail_next_meshes_call, log_in

def test_an_outage(page, meshes_login_url, meshes):
    fail_next_meshes_call(meshes, "create", 503, count=100)
    log_in(page, meshes_login_url, "alice", "demo-password")
    expect_embed_authenticated(page)

def test_a_login_page_elsewhere(page, meshes_app, meshes):
    log_in(page, meshes_app.url + "/accounts/login/", "alice", "demo-password",
           timeout_ms=3000)

def test_a_wrong_password(page, meshes_login_url, meshes):
    log_in(page, meshes_login_url, "alice", "not-her-password")

def test_the_bare_app_url_still_means_slash_login(page, meshes_app, meshes):
    with pytest.warns(DeprecationWarning, match="meshes_login_url"):
        log_in(page, meshes_app.url, "alice", "demo-password")
    expect_embed_authenticated(page)
"""


def test_failures_say_why(pytester: pytest.Pytester) -> None:
    """A helper that fails names what the page saw and the app logged, never a token;
    log_in names the URL it opened and the selector it waited for."""
    pytester.makeconftest(COMMAND_CONFTEST)
    pytester.makepyfile(test_why=SAYS_WHY_TESTS)
    result = run(pytester)
    result.assert_outcomes(passed=1, failed=3)
    result.stdout.fnmatch_lines(
        [
            "*_ test_an_outage*",
            "E * embed #0 on http://127.0.0.1:*/: ended in error",
            "E * container #0: data-state='error'",
            "E * meshes-bridge:error:",
            "E * mint-failed: *",
            "E * host endpoint answers:",
            "E * POST /meshes/session -> 502 meshes-unavailable*",
            "E * console (bridge lines):",
            "E * [[]meshes-bridge] *",
            "E * app log (last lines):",
            'E *"POST /meshes/session HTTP/1.1" 502*',
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*_ test_a_login_page_elsewhere*",
            "E * log_in: opened http://127.0.0.1:*/accounts/login/ (HTTP 404, now at *): "
            "no input[[]name=username] within 3 s; *Django's default is /accounts/login/*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*_ test_a_wrong_password*",
            "E * log_in: submitted http://127.0.0.1:*/login as 'alice' (HTTP 401) and landed "
            "on the login form again: *",
        ]
    )
    leaks = re.findall(r"(?:mat|mlt|msk)_\w{4,}|eyJ\w{8,}|launch=[^…&\s]", result.stdout.str())
    assert leaks == []


# -- nothing left behind -------------------------------------------------------------------


def marked_pids(marker: str) -> list[int]:
    """Live processes whose environment holds `marker` (Linux /proc; zombies count as
    gone: their environment is empty)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker.encode() in environ and int(entry.name) != os.getpid():
            found.append(int(entry.name))
    return found


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc")
def test_a_failing_test_leaves_no_process_and_no_port(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The inner test fails while the app, the fake and a browser page are up. Every
    process of that run carries a marker in its environment (inherited); afterwards no
    process has it, and none of the ports it used still listens."""
    marker = f"kit-leak-{uuid.uuid4().hex}"
    record = pytester.path / "record.txt"
    monkeypatch.setenv("MESHES_KIT_LEAK_MARKER", marker)
    monkeypatch.setenv("RECORD", str(record))
    pytester.makeconftest(COMMAND_CONFTEST)
    pytester.makepyfile(
        test_leak=f"""
        import os
        from pathlib import Path

        def test_fails_with_everything_up(meshes_app, meshes, page):
            page.goto(meshes_app.url + "/login")
            assert page.locator("input[name=username]").count() == 1
            ports = [meshes_app.port] + [
                int(url.rsplit(":", 1)[1])
                for url in (meshes.api_url, meshes.embed_url, meshes.hostile_url)
            ]
            pids = [
                int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()
                and {marker!r}.encode() in _environ(p)
            ]
            Path(os.environ["RECORD"]).write_text(" ".join(map(str, ports)) + "\\n"
                                                  + " ".join(map(str, pids)))
            assert False, "failing on purpose"

        def _environ(p):
            try:
                return (p / "environ").read_bytes()
            except OSError:
                return b""
        """
    )
    result = run(pytester)
    result.assert_outcomes(failed=1)
    ports_line, pids_line = record.read_text().splitlines()
    ports = [int(p) for p in ports_line.split()]
    pids = [int(p) for p in pids_line.split()]
    # The inner pytest, the app, Playwright's driver and Chromium's processes were up.
    assert len(pids) >= 4, pids
    assert marked_pids(marker) == []
    assert [port for port in ports if not refused(port)] == []
