"""`meshes-bridge doctor URL`: run the browser, build the report, print it, exit."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from meshes_bridge.doctor.browser import DoctorError
from meshes_bridge.doctor.checks import build_report
from meshes_bridge.doctor.options import DoctorOptions, UsageError
from meshes_bridge.doctor.render_html import render_html
from meshes_bridge.doctor.render_text import render_text
from meshes_bridge.doctor.report import EXIT_USAGE
from meshes_bridge.doctor.session import collect


def report_data(options: DoctorOptions, err: TextIO) -> dict[str, Any]:
    """The report as JSON data (schema.json), already redacted."""
    started = datetime.now(timezone.utc)

    def progress(line: str) -> None:
        if options.progress:
            print(f"doctor: {line}", file=err, flush=True)

    observation = collect(options, progress)
    report, ctx = build_report(observation, options.runtime, started)
    data: dict[str, Any] = ctx.red.scrub(report.as_dict())
    return data


def run(options: DoctorOptions, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    try:
        options.check()
        data = report_data(options, err)
    except (UsageError, DoctorError) as exc:
        print(f"meshes-bridge doctor: error: {exc}", file=err)
        return EXIT_USAGE
    if options.html:
        try:
            Path(options.html).write_text(render_html(data), encoding="utf-8")
        except OSError as exc:
            print(f"meshes-bridge doctor: error: cannot write {options.html}: {exc}", file=err)
            return EXIT_USAGE
    if options.json:
        out.write(json.dumps(data, indent=2) + "\n")
    else:
        out.write(render_text(data))
    out.flush()
    return int(data["verdict"]["exit_code"])
