"""The docs' "forward timings to your monitoring" endpoints (examples/monitoring/), one per
framework: a report the bridge POSTs to `data-timings-url` is logged as one line of
numbers; anything else is a 400 and logs nothing (anyone may POST there)."""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from django.test import RequestFactory
from fastapi import FastAPI
from fastapi.testclient import TestClient
from flask import Flask

from meshes_bridge.core.timings import STEPS

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "monitoring"
PATH = "/monitoring/embed-timings"
# A report as the bridge sends it (host interface 6).
REPORT: dict[str, Any] = {
    "runtime": "micropython",
    "loader": 41.2,
    "runtime_ready": 301.5,
    "mint_sent": 309.8,
    "mint_answered": 350.1,
    "iframe_created": 350.1,
    "iframe_loaded": 420.7,
    "ready": 420.7,
    "auth": 420.7,
}
LINE = (
    "embed timings runtime=micropython loader=41 runtime_ready=302 mint_sent=310 "
    "mint_answered=350 iframe_created=350 iframe_loaded=421 ready=421 auth=421"
)
REMOUNT = dict(REPORT, loader=None, runtime_ready=None)
NOT_REPORTS = ("not json", "[]", '{"auth": "soon"}', '{"runtime": "pyodide"}')


def _example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"monitoring_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _post_flask(body: str) -> int:
    app = Flask(__name__)
    app.register_blueprint(_example("flask_timings").timings)
    response = app.test_client().post(PATH, data=body, content_type="application/json")
    return response.status_code


def _post_fastapi(body: str) -> int:
    app = FastAPI()
    app.include_router(_example("fastapi_timings").timings)
    with TestClient(app) as client:
        response = client.post(PATH, content=body, headers={"Content-Type": "application/json"})
    return response.status_code


def _post_django(body: str) -> int:
    view = _example("django_timings").embed_timings
    request = RequestFactory().post(PATH, data=body, content_type="application/json")
    return view(request).status_code


POSTERS = {"flask": _post_flask, "fastapi": _post_fastapi, "django": _post_django}


@pytest.mark.parametrize("framework", sorted(POSTERS))
def test_a_report_is_logged_as_one_line(framework: str, caplog: pytest.LogCaptureFixture) -> None:
    post = POSTERS[framework]
    with caplog.at_level(logging.INFO, logger="myapp.embed_timings"):
        assert post(json.dumps(REPORT)) == 204
        assert post(json.dumps(REMOUNT)) == 204
    assert [r.getMessage() for r in caplog.records] == [
        LINE,
        LINE.replace("loader=41 runtime_ready=302 ", ""),
    ]


@pytest.mark.parametrize("framework", sorted(POSTERS))
def test_anything_else_is_refused_unlogged(
    framework: str, caplog: pytest.LogCaptureFixture
) -> None:
    post = POSTERS[framework]
    with caplog.at_level(logging.INFO, logger="myapp.embed_timings"):
        for body in NOT_REPORTS:
            assert post(body) == 400, body
        # A string where a number goes, or an unknown runtime: not written out.
        assert post(json.dumps(dict(REPORT, loader="<script>", runtime="x\ny"))) == 204
    assert [r.getMessage() for r in caplog.records] == [
        LINE.replace("micropython", "?").replace("loader=41 ", "")
    ]


# -- the reader they share ------------------------------------------------------------------


def test_read_timings_keeps_what_the_bridge_sends_and_nothing_else() -> None:
    from meshes_bridge.server.timings import describe_timings, read_timings

    posted = dict(REPORT, runtime="<script>", extra="x" * 5000, loader=None, ready=True)
    timings = read_timings(posted)
    assert timings is not None
    assert list(timings) == ["runtime", *STEPS]
    assert timings["runtime"] == "?" and timings["loader"] is None
    assert timings["ready"] is None  # a boolean is not a time
    assert timings["auth"] == 420.7
    assert describe_timings(timings).startswith("runtime=? runtime_ready=302 mint_sent=310 ")
    for not_a_report in (None, [], {"auth": "soon"}, {"auth": float("nan")}, {"auth": False}):
        assert read_timings(not_a_report) is None
