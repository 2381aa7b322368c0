"""The doctor's report: sections of findings, each with a verdict and, for a problem, the
fix; the same object renders as text, JSON (``schema.json``) and HTML.

A verdict is ``ok``, ``warning`` or ``problem``. The exit code follows from them: 0 only
when every container authenticated and no finding is worse than ``ok``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

OK = "ok"
WARNING = "warning"
PROBLEM = "problem"
VERDICTS = (OK, WARNING, PROBLEM)
_RANK = {OK: 0, WARNING: 1, PROBLEM: 2}

SCHEMA_VERSION = 1

EXIT_OK = 0
EXIT_PROBLEM = 1  # a problem found, or a container that did not authenticate
EXIT_USAGE = 2  # bad usage, or the doctor itself could not run (no Playwright, no Chromium)
EXIT_WARNING = 3  # every container authenticated, but with warnings

# The sections in the order the report gives them (the order).
SECTION_TITLES = {
    "page": "The page",
    "assets": "Assets",
    "csp": "Content-Security-Policy",
    "coop": "Cross-Origin-Opener-Policy",
    "containers": "Containers",
    "requests": "Mint and refresh requests",
    "messages": "Rejected messages, console errors, exceptions",
    "hygiene": "Token hygiene",
}
SECTION_IDS = tuple(SECTION_TITLES)
# Findings that follow from another one (named first in the verdict line when alone).
CONSEQUENCES = ("container-error", "container-stuck")


def worst(verdicts: list[str]) -> str:
    return max(verdicts, key=_RANK.__getitem__, default=OK)


@dataclass
class Finding:
    """One thing the doctor checked. `code` is stable (documented in docs/doctor.md);
    `fix` says what to change, in the host's own terms (None when nothing needs fixing)."""

    verdict: str
    code: str
    title: str
    detail: str = ""
    fix: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "code": self.code,
            "title": self.title,
            "detail": self.detail,
            "fix": self.fix,
        }


@dataclass
class Section:
    id: str
    findings: list[Finding] = field(default_factory=list)
    # What was seen, as plain JSON values (per section: see schema.json).
    items: list[dict[str, Any]] = field(default_factory=list)

    @property
    def title(self) -> str:
        return SECTION_TITLES[self.id]

    @property
    def verdict(self) -> str:
        return worst([f.verdict for f in self.findings])

    def add(
        self, verdict: str, code: str, title: str, detail: str = "", fix: str | None = None
    ) -> Finding:
        finding = Finding(verdict, code, title, detail, fix)
        if finding not in self.findings:  # the same file fetched twice is one finding
            self.findings.append(finding)
        return finding

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "verdict": self.verdict,
            "findings": [f.as_dict() for f in self.findings],
            "items": self.items,
        }


@dataclass
class Report:
    url: str
    origin: str
    tool_version: str
    runtime: str | None = None
    framework: str | None = None
    started_at: str = ""
    duration_ms: int = 0
    page_ms: float | None = None  # since navigation start, when the doctor stopped
    stopped: str = ""  # why the doctor stopped waiting
    containers_total: int = 0
    containers_authenticated: int = 0
    sections: dict[str, Section] = field(
        default_factory=lambda: {key: Section(key) for key in SECTION_IDS}
    )

    def section(self, key: str) -> Section:
        return self.sections[key]

    def findings(self) -> list[Finding]:
        return [f for key in SECTION_IDS for f in self.sections[key].findings]

    @property
    def problems(self) -> int:
        return sum(f.verdict == PROBLEM for f in self.findings())

    @property
    def warnings(self) -> int:
        return sum(f.verdict == WARNING for f in self.findings())

    @property
    def all_authenticated(self) -> bool:
        return self.containers_total > 0 and (
            self.containers_authenticated == self.containers_total
        )

    @property
    def verdict(self) -> str:
        if self.problems or not self.all_authenticated:
            return PROBLEM
        return WARNING if self.warnings else OK

    @property
    def exit_code(self) -> int:
        return {OK: EXIT_OK, WARNING: EXIT_WARNING, PROBLEM: EXIT_PROBLEM}[self.verdict]

    def verdict_line(self) -> str:
        """The one-line verdict."""
        total = self.containers_total
        authed = f"{self.containers_authenticated} of {total} container"
        authed += "" if total == 1 else "s"
        counts = f"{self.problems} problem{'' if self.problems == 1 else 's'}, "
        counts += f"{self.warnings} warning{'' if self.warnings == 1 else 's'}"
        if self.verdict == OK:
            return f"OK: {authed} authenticated, no problem found"
        # The cause before its consequence: a container's end names it less well.
        ranked = sorted(
            (f for f in self.findings() if f.verdict == self.verdict),
            key=lambda f: f.code in CONSEQUENCES,
        )
        first = ranked[0] if ranked else None
        lead = "PROBLEM" if self.verdict == PROBLEM else "WARNING"
        cause = f"; first: {first.title}" if first is not None else ""
        return f"{lead}: {authed} authenticated, {counts}{cause}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "tool_version": self.tool_version,
            "url": self.url,
            "origin": self.origin,
            "runtime": self.runtime,
            "framework": self.framework,
            "started_at": self.started_at,
            "duration_ms": self.duration_ms,
            "page_ms": None if self.page_ms is None else round(self.page_ms, 1),
            "stopped": self.stopped,
            "verdict": {
                "status": self.verdict,
                "line": self.verdict_line(),
                "exit_code": self.exit_code,
                "problems": self.problems,
                "warnings": self.warnings,
                "containers": self.containers_total,
                "authenticated": self.containers_authenticated,
            },
            "sections": [self.sections[key].as_dict() for key in SECTION_IDS],
        }
