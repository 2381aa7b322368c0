"""`meshes-bridge doctor` against the example apps, healthy and broken on purpose.

Each run is real: the example app under its framework's real server, the fake Meshes,
headless Chromium. Every fault runs on every example app: those a proxy makes (the asset
tree, the CSP, COOP, a hooks module) and those set by the app's environment (allowed
origins, credentials, the mint limit); the missing CSRF header on Django only, the one
example with a CSRF pair.
"""

from __future__ import annotations

import re
from pathlib import Path

import jsonschema
import pytest

from meshes_bridge.core.timings import STEPS
from meshes_bridge.testing.doubles import Servers
from tests.doctor.conftest import (
    WRONG_SECRET,
    Examples,
    assert_no_secret,
    run_doctor,
)
from tests.doctor.faulty_proxy import HOOKS_PATH
from tests.support import Visitor

SCHEMA = Path(__file__).resolve().parents[2] / "bridge/meshes_bridge/doctor/schema.json"
FRAMEWORKS = ("flask", "django", "fastapi")


def _outputs(run) -> list[str]:
    from meshes_bridge.doctor.render_text import render_text

    return [run.stdout, run.stderr, run.html, render_text(run.data)]


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_healthy_example_exits_0_with_every_container_authenticated(
    framework: str, examples: Examples, fake: Servers, tmp_path: Path
) -> None:
    example = examples.get(framework)
    run = run_doctor(example.origin + "/", *example.login_args(), tmp_path=tmp_path, as_json=False)
    assert run.exit_code == 0, run.stdout + run.stderr
    assert "OK: 1 of 1 container authenticated, no problem found" in run.stdout
    for title in (
        "Assets: ok",
        "Content-Security-Policy: ok",
        "Containers: ok",
        "Token hygiene: ok",
    ):
        assert f"== {title}" in run.stdout
    assert "booting" in run.stdout and "authenticated" in run.stdout  # the state sequence
    assert re.search(r"container #0( \(meshes\))?: authenticated at", run.stderr)  # progress
    if framework == "django":
        assert "python manage.py check --deploy" in run.stdout
    assert_no_secret(fake, run.stdout, run.stderr)


def test_the_json_report_follows_its_schema_and_the_html_draws_the_timeline(
    examples: Examples, fake: Servers, tmp_path: Path
) -> None:
    import json

    example = examples.get("flask")
    run = run_doctor(example.origin + "/", *example.login_args(), tmp_path=tmp_path)
    assert run.exit_code == 0, run.stderr
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(run.data, schema, cls=jsonschema.Draft202012Validator)
    data = run.data
    assert [s["id"] for s in data["sections"]] == [
        "page",
        "assets",
        "csp",
        "coop",
        "containers",
        "requests",
        "messages",
        "hygiene",
    ]
    assert data["verdict"] == {
        "status": "ok",
        "line": "OK: 1 of 1 container authenticated, no problem found",
        "exit_code": 0,
        "problems": 0,
        "warnings": 0,
        "containers": 1,
        "authenticated": 1,
    }
    [container] = run.section("containers")["items"]
    states = [s["state"] for s in container["states"]]
    assert states[0] == "booting" and states[-1] == "authenticated"
    times = [s["t_ms"] for s in container["states"]]
    assert times == sorted(times)
    [mint] = [r for r in run.section("requests")["items"] if r["kind"] == "mint"]
    assert mint["status"] == 200 and mint["no_store"] is True
    assert mint["body"]["access_token"] == "[redacted]"
    assert mint["body"]["launch_url"] == "[redacted]"
    assert mint["body"]["session_id"].startswith("sess_")
    assets = run.section("assets")["items"]
    assert assets[0]["url"].endswith("/loader.js")
    assert any(a["url"].endswith(".wasm") and a["mime"] == "application/wasm" for a in assets)
    [hygiene] = run.section("hygiene")["items"]
    assert hygiene["known_secrets"] >= 2 and hygiene["leaks"] == []  # it knew what to look for
    # A waterfall: one bar per state, the mint request, the files.
    assert run.html.count('class="bar') >= len(states) + 1 + len(assets)
    assert "<script" not in run.html
    assert_no_secret(fake, *_outputs(run))


# fault -> (finding code, exit code, what the title says, what the fix says)
PROXY_FAULTS = {
    "loader-404": ("loader-missing", 1, "loader.js answered HTTP 404", "collectstatic"),
    "wasm-mime": (
        "asset-mime",
        1,
        "micropython.wasm is served as application/octet-stream",
        "Serve .wasm as application/wasm",
    ),
    "csp-no-frame-src": (
        "csp-frame-src",
        1,
        "does not allow the embed origin",
        "frame-src {embed}",
    ),
    "csp-unsafe-eval": ("csp-unsafe-eval", 3, "allows 'unsafe-eval'", "Remove 'unsafe-eval'"),
    "coop-same-origin": (
        "coop-same-origin",
        1,
        "Cross-Origin-Opener-Policy: same-origin",
        'SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin-allow-popups"',
    ),
    "hooks-raise": ("hook-error", 1, "on_ready raised ValueError", "fix that function"),
    "csrf-missing": (
        "endpoint-csrf-failed",
        1,
        "POST /meshes/session answered 403 csrf-failed",
        'data-csrf-header="X-CSRFToken"',
    ),
}
# Every fault on every example, but the CSRF pair, which only the Django example sends.
PROXY_CASES = [
    (framework, fault)
    for framework in FRAMEWORKS
    for fault in PROXY_FAULTS
    if fault != "csrf-missing" or framework == "django"
]


@pytest.mark.parametrize(("framework", "fault"), PROXY_CASES)
def test_a_broken_page_is_named_with_its_fix(
    framework: str, fault: str, examples: Examples, fake: Servers, tmp_path: Path
) -> None:
    example = examples.get(framework)
    example.proxy.fault = fault
    run = run_doctor(example.origin + "/", *example.login_args(), tmp_path=tmp_path)
    code, exit_code, title, fix = PROXY_FAULTS[fault]
    assert run.exit_code == exit_code, run.stdout[-3000:] + run.stderr[-2000:]
    finding = run.finding(code)
    assert title in finding["title"]
    assert fix.format(embed=fake.embed_url) in (finding["fix"] or "")
    assert finding["verdict"] == ("warning" if exit_code == 3 else "problem")
    text = _outputs(run)[-1]
    assert finding["title"] in text and (finding["fix"] or "") in text
    if fault == "hooks-raise":
        assert HOOKS_PATH in finding["detail"]
    if fault in ("csp-unsafe-eval", "coop-same-origin", "hooks-raise", "wasm-mime"):
        # The embed still works: the doctor names what is wrong all the same.
        assert run.data["verdict"]["authenticated"] == 1
    else:
        assert run.data["verdict"]["authenticated"] == 0
    assert_no_secret(fake, *_outputs(run))


ENV_FAULTS = {
    "origin-not-allowed": (
        {"MESHES_ALLOWED_ORIGINS": "https://app.example.com"},
        "endpoint-origin-not-allowed",
        "POST /meshes/session answered 403 origin-not-allowed",
        "to MESHES_ALLOWED_ORIGINS",
    ),
    "meshes-credentials": (
        {"MESHES_SECRET_KEY": WRONG_SECRET},
        "endpoint-meshes-credentials",
        "POST /meshes/session answered 500 meshes-credentials",
        "MESHES_SECRET_KEY",
    ),
    "mint-limit": (
        {"MESHES_BRIDGE_MINT_LIMIT": "1"},
        "endpoint-rate-limited",
        "POST /meshes/session answered 429 rate-limited",
        "MESHES_BRIDGE_MINT_LIMIT",
    ),
}


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("case", ENV_FAULTS)
def test_a_misconfigured_app_is_named_with_its_fix(
    case: str, framework: str, examples: Examples, fake: Servers, tmp_path: Path
) -> None:
    env, code, title, fix = ENV_FAULTS[case]
    example = examples.get(framework, **env)
    if case == "mint-limit":  # an earlier test spent alice's one mint of the minute
        with Visitor(example.app) as earlier:
            earlier.login("alice")
            assert earlier.mint({"launch_page": "dashboard"}, origin=None).status_code == 200
    run = run_doctor(example.origin + "/", *example.login_args(), tmp_path=tmp_path)
    assert run.exit_code == 1, run.stdout[-3000:] + run.stderr[-2000:]
    finding = run.finding(code)
    assert title in finding["title"]
    assert fix in finding["fix"]
    if case == "origin-not-allowed":
        assert example.origin in finding["fix"]  # the page's origin, to add
    assert run.data["verdict"]["authenticated"] == 0
    assert run.data["verdict"]["line"].startswith("PROBLEM: 0 of 1 container authenticated")
    assert title in run.data["verdict"]["line"]  # the cause, not the container's end
    assert_no_secret(fake, *_outputs(run))


def test_the_timeline_reads_the_bridges_timings_event(
    examples: Examples, fake: Servers, tmp_path: Path
) -> None:
    """The bridge's `meshes-bridge:timings` is read by its exact name, kept per container,
    listed in the text report in the interface's order and drawn on the waterfall."""
    example = examples.get("flask")
    run = run_doctor(example.origin + "/", *example.login_args(), tmp_path=tmp_path)
    assert run.exit_code == 0, run.stdout[-3000:]
    [container] = run.section("containers")["items"]
    timings = container["timings"]
    assert timings["runtime"] == "micropython"
    steps = [timings[step] for step in STEPS]
    assert all(isinstance(value, float | int) for value in steps), timings
    assert steps == sorted(steps) and steps[0] > 0
    assert "timings" not in [e["name"] for e in container["events"]]
    assert run.html.count('class="mark"') == len(STEPS)
    line = next(x for x in _outputs(run)[-1].splitlines() if "timings (micropython):" in x)
    assert re.findall(r"(\w+) \d+ ms", line) == list(STEPS)
