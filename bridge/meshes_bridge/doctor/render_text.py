"""The report as text for a terminal or a support ticket (already redacted)."""

from __future__ import annotations

import json
from typing import Any

from meshes_bridge.core.timings import STEPS as TIMING_STEPS
from meshes_bridge.doctor.report import OK, PROBLEM, WARNING

MARKS = {OK: "ok", WARNING: "WARNING", PROBLEM: "PROBLEM"}


def render_text(data: dict[str, Any]) -> str:
    lines = [
        f"meshes-bridge doctor {data['tool_version']}: {data['url']}",
        f"runtime {data['runtime'] or '?'}; watched {data['duration_ms'] / 1000:.1f} s; "
        f"stopped: {data['stopped']}",
        "",
    ]
    for section in data["sections"]:
        lines.append(f"== {section['title']}: {MARKS[section['verdict']]}")
        for finding in section["findings"]:
            lines.append(f"  [{MARKS[finding['verdict']]}] {finding['title']}")
            if finding["detail"]:
                lines.append(f"      {finding['detail']}")
            if finding["fix"] and finding["verdict"] != OK:
                lines.append(f"      fix: {finding['fix']}")
        lines.extend(_details(section))
        lines.append("")
    lines.append(data["verdict"]["line"])
    return "\n".join(lines) + "\n"


def _ms(value: Any) -> str:
    return "-" if value is None else f"{float(value):.0f} ms"


def _in_order(timings: dict[str, Any]) -> list[tuple[str, Any]]:
    """The steps in the order the host interface lists them (MicroPython's dicts keep no
    order), then any other key."""
    known = [(key, timings[key]) for key in TIMING_STEPS if key in timings]
    return known + [(k, v) for k, v in timings.items() if k not in TIMING_STEPS]


def _details(section: dict[str, Any]) -> list[str]:
    out: list[str] = []
    items = section["items"]
    if section["id"] == "assets" and items:
        out.append("  files:")
        for item in items:
            status = item["status"] if item["status"] is not None else item["failure"]
            size = f"{item['size']} B" if item["size"] is not None else "-"
            out.append(
                f"    {status} {item['mime'] or '-'} {size} cache={item['cache_control'] or '-'}"
                f" at {_ms(item['start_ms'])} took {_ms(item['duration_ms'])}  {item['url']}"
            )
    elif section["id"] == "containers":
        for item in items:
            out.append(f"  container #{item['index']}:")
            attrs = " ".join(f'{k}="{v}"' for k, v in item["attributes"].items())
            out.append(f"    attributes: {attrs}")
            states = ", ".join(f"{s['state']} {_ms(s['t_ms'])}" for s in item["states"])
            out.append(f"    states: {states or '(none)'}")
            for error in item["errors"]:
                out.append(f"    error {error['code']} at {_ms(error['t_ms'])}: {error['message']}")
            if item["timings"]:
                timings = dict(item["timings"])
                runtime = timings.pop("runtime", None) or "?"
                steps = ", ".join(f"{k} {_ms(v)}" for k, v in _in_order(timings))
                out.append(f"    timings ({runtime}): {steps}")
    elif section["id"] == "requests":
        for item in items:
            out.append(
                f"  {item['kind']}: {item['method']} {item['url']} -> "
                f"{item['status'] if item['status'] is not None else item['failure']}"
                f"{' ' + item['error'] if item['error'] else ''} at {_ms(item['start_ms'])} "
                f"took {_ms(item['duration_ms'])}; CSRF pair sent: {_yes(item['csrf_sent'])}; "
                f"no-store: {_yes(item['no_store'])}"
            )
            if item["body"] is not None:
                out.append(f"    body: {json.dumps(item['body'])}")
    elif section["id"] == "csp":
        for item in items:
            out.append(f"  {item['source']}: {item['policy']}")
    elif section["id"] == "messages":
        for item in items:
            times = f" ({item['count']} times)" if item["count"] > 1 else ""
            out.append(f"  {item['kind']}: {item['text']}{times}")
    return out


def _yes(value: Any) -> str:
    return {True: "yes", False: "no", None: "n/a"}[value]
