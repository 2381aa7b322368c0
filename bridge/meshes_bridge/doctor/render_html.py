"""The report as one self-contained HTML page (no script, no other file), with the
timeline drawn as a waterfall: each container's states, its mint and refresh requests,
the bridge's own timings when it sent them, and the asset files."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from meshes_bridge.core.timings import STEPS as TIMING_STEPS
from meshes_bridge.doctor.render_text import MARKS

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:70em;color:#1b1b1b}
h1{font-size:1.3em}h2{font-size:1.1em;margin-top:1.6em}
.ok{color:#17663a}.warning{color:#8a5a00}.problem{color:#b3261e}
.verdict{font-weight:600;padding:.6em;border:1px solid currentColor;border-radius:4px}
.finding{margin:.3em 0 .3em 1em}.fix{margin-left:2em;color:#333}
table{border-collapse:collapse;font-size:12px}td,th{padding:2px 8px;text-align:left;
border-bottom:1px solid #eee;vertical-align:top}
table.waterfall{width:100%}table.waterfall td:first-child{white-space:nowrap;width:1%}
.wf{position:relative;height:16px;background:#f6f6f6}
.bar{position:absolute;top:2px;height:12px;border-radius:2px;opacity:.85}
.bar.state{background:#7aa7d8}.bar.authenticated{background:#3c9a5f}
.bar.error{background:#d9534f}.bar.mint,.bar.refresh{background:#9b6bd3}
.bar.asset{background:#b0b0b0}.bar.bad{background:#d9534f}
.mark{position:absolute;top:0;width:2px;height:16px;background:#222}
pre{white-space:pre-wrap;font-size:12px;background:#f6f6f6;padding:.5em}
"""


def render_html(data: dict[str, Any]) -> str:
    verdict = data["verdict"]
    parts = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8">',
        f"<title>meshes-bridge doctor: {escape(data['url'])}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>meshes-bridge doctor {escape(data['tool_version'])}: {escape(data['url'])}</h1>",
        f'<p class="verdict {verdict["status"]}">{escape(verdict["line"])}</p>',
        f"<p>runtime {escape(str(data['runtime']))}; watched "
        f"{data['duration_ms'] / 1000:.1f} s; stopped: {escape(data['stopped'])}</p>",
        "<h2>Timeline</h2>",
        _waterfall(data),
    ]
    for section in data["sections"]:
        parts.append(
            f'<h2 class="{section["verdict"]}">{escape(section["title"])}: '
            f"{MARKS[section['verdict']]}</h2>"
        )
        for finding in section["findings"]:
            parts.append(
                f'<div class="finding {finding["verdict"]}">[{MARKS[finding["verdict"]]}] '
                f"{escape(finding['title'])}</div>"
            )
            if finding["detail"]:
                parts.append(f'<div class="fix">{escape(finding["detail"])}</div>')
            if finding["fix"] and finding["verdict"] != "ok":
                parts.append(f'<div class="fix"><b>fix:</b> {escape(finding["fix"])}</div>')
        if section["items"]:
            parts.append(f"<pre>{escape(json.dumps(section['items'], indent=1))}</pre>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _rows(data: dict[str, Any]) -> list[tuple[str, list[tuple[float, float, str]], list[float]]]:
    """(label, bars (start, end, css class), marks) per row, in ms."""
    sections = {s["id"]: s for s in data["sections"]}
    end = float(data["page_ms"] or 0)
    rows: list[tuple[str, list[tuple[float, float, str]], list[float]]] = []
    for item in sections["containers"]["items"]:
        states = item["states"]
        bars = []
        for index, step in enumerate(states):
            stop = states[index + 1]["t_ms"] if index + 1 < len(states) else None
            start = float(step["t_ms"])
            kind = step["state"] if step["state"] in ("authenticated", "error") else "state"
            bars.append((start, float(stop) if stop is not None else max(start, end), kind))
        timings = item["timings"] or {}
        marks = [float(timings[k]) for k in TIMING_STEPS if timings.get(k) is not None]
        label = " → ".join(s["state"] for s in states) or "(no state)"
        rows.append((f"container #{item['index']}: {label}", bars, marks))
        for request in sections["requests"]["items"]:
            if request["container"] not in (None, item["index"]) or request["start_ms"] is None:
                continue
            start = float(request["start_ms"])
            stop = start + float(request["duration_ms"] or 0)
            status = request["status"] if request["status"] is not None else "failed"
            rows.append((f"  {request['kind']} {status}", [(start, stop, request["kind"])], []))
    for asset in sections["assets"]["items"]:
        if asset["start_ms"] is None:
            continue
        start = float(asset["start_ms"])
        stop = start + float(asset["duration_ms"] or 0)
        kind = "asset" if asset["verdict"] == "ok" else "asset bad"
        name = asset["url"].rsplit("/", 1)[-1]
        rows.append((f"  {name} {asset['status']}", [(start, stop, kind)], []))
    return rows


def _waterfall(data: dict[str, Any]) -> str:
    rows = _rows(data)
    if not rows:
        return "<p>(nothing to draw)</p>"
    scale = max(
        [1.0] + [b[1] for _, bars, _ in rows for b in bars] + [m for *_, ms in rows for m in ms]
    )
    out = [f'<p>0 to {scale:.0f} ms after navigation start</p><table class="waterfall">']
    for label, bars, marks in rows:
        cells = []
        for start, stop, kind in bars:
            left = 100 * start / scale
            width = max(0.3, 100 * (stop - start) / scale)
            cells.append(
                f'<div class="bar {kind}" style="left:{left:.2f}%;width:{width:.2f}%" '
                f'title="{start:.0f}–{stop:.0f} ms"></div>'
            )
        for mark in marks:
            cells.append(f'<div class="mark" style="left:{100 * mark / scale:.2f}%"></div>')
        out.append(
            f'<tr><td>{escape(label)}</td><td><div class="wf">{"".join(cells)}</div></td></tr>'
        )
    out.append("</table>")
    return "\n".join(out)
