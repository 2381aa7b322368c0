"""What is measured against what: the variants (the plain-JS baseline and the bridge on each
interpreter) and the network profiles of a first load."""

from __future__ import annotations

from dataclasses import dataclass

from tests.host.pages import page_html

BASELINE_URL = "/static/baseline/handler.js"
RUNTIMES = ("micropython", "pyodide")


@dataclass(frozen=True)
class Variant:
    """One side of the comparison; `runtime` is None for the plain-JS baseline."""

    key: str
    label: str
    runtime: str | None

    @property
    def is_baseline(self) -> bool:
        return self.runtime is None

    def page_html(self) -> str:
        """The host page: the same container markup for every variant (the host
        interface's), then the bridge's loader or the baseline's handler."""
        if self.runtime is None:
            return page_html(
                script_attrs={"src": BASELINE_URL, "data-runtime": None},
                title="plain-JS baseline",
            )
        return page_html(runtime=self.runtime, title=f"meshes-bridge ({self.runtime})")


BASELINE = Variant("js", "plain JS", None)
MICROPYTHON = Variant("micropython", "bridge (MicroPython)", "micropython")
PYODIDE = Variant("pyodide", "bridge (Pyodide)", "pyodide")
BRIDGES = {"micropython": MICROPYTHON, "pyodide": PYODIDE}


@dataclass(frozen=True)
class Profile:
    """Network delays of a first load: the host's mint endpoint (which calls Meshes in a
    real deployment) and the embed's document."""

    key: str
    mint_delay: float
    document_delay: float

    def describe(self) -> str:
        if not self.mint_delay and not self.document_delay:
            return "mint and embed document instant"
        return (
            f"mint endpoint {self.mint_delay * 1000:.0f} ms, "
            f"embed document {self.document_delay * 1000:.0f} ms"
        )


INSTANT = Profile("instant", 0.0, 0.0)
REALISTIC = Profile("realistic", 0.250, 0.300)
#: The embed's document slow, the mint instant: Python's boot is then the critical path.
EMBED_ONLY = Profile("embed", 0.0, 0.300)
PROFILES = (INSTANT, REALISTIC, EMBED_ONLY)
