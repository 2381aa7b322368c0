"""The docs site and the README: they build, their code is the tested code, they stay local.

The site (mkdocs.yml, docs/) is built once here with `mkdocs build --strict`, as `make docs`
does; the checks below read the built HTML and the Markdown sources.
"""

import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
# The changelog page includes ../CHANGELOG.md, written on another branch: it may be absent.
OPTIONAL_INCLUDES = {"CHANGELOG.md"}
# `--8<-- "path"` or `--8<-- "path:section"` (a section between `[start:section]` and
# `[end:section]` markers) or `--8<-- "path:3:9"` (lines), alone on its line.
INCLUDE = re.compile(r'^\s*-{1,}8<-{1,}\s+"([^"]+)"\s*$', re.MULTILINE)
FOREIGN = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=300,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stderr[-4000:]}"
    return out


def pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def includes() -> list[tuple[Path, str]]:
    return [(page, spec) for page in pages() for spec in INCLUDE.findall(page.read_text())]


def test_the_site_builds_strictly(site: Path) -> None:
    assert (site / "index.html").is_file()
    for page in pages():
        rel = page.relative_to(DOCS).with_suffix("")
        built = site / (rel.parent if rel.name == "index" else rel) / "index.html"
        assert built.is_file(), f"{page.relative_to(ROOT)} was not built (missing from nav?)"


def test_the_pages_include_code_from_tested_files() -> None:
    assert len(includes()) >= 5
    # A getting-started page either includes its code from a tested example, or is a
    # walkthrough whose blocks tests/test_walkthroughs.py writes into a fresh project and runs.
    walkthroughs = (ROOT / "tests" / "test_walkthroughs.py").read_text()
    for page in sorted((DOCS / "getting-started").glob("*.md")):
        included = INCLUDE.search(page.read_text())
        walked = f'PAGES / "{page.name}"' in walkthroughs
        assert included or walked, f"{page.relative_to(ROOT)}: its code is tested nowhere"


@pytest.mark.parametrize("page,spec", includes(), ids=lambda v: str(v))
def test_every_snippet_include_resolves(page: Path, spec: str) -> None:
    path, _, rest = spec.partition(":")
    if path in OPTIONAL_INCLUDES:
        return
    source = ROOT / path
    assert source.is_file(), f"{page.relative_to(ROOT)} includes {path}, which does not exist"
    text = source.read_text()
    if not rest:
        return
    if re.fullmatch(r"\d+(:\d+)?", rest):
        pytest.fail(f"{page.relative_to(ROOT)}: include sections by name, not lines: {spec}")
    start, end = f"--8<-- [start:{rest}]", f"--8<-- [end:{rest}]"
    assert text.count(start) == 1, f"{path} has no (or several) `{start}` marker"
    assert text.count(end) == 1, f"{path} has no (or several) `{end}` marker"
    section = text[text.index(start) : text.index(end)]
    assert section.count("\n") > 1, f"{spec} is empty"


class _Resources(HTMLParser):
    """The URLs a page would load: scripts, stylesheets, icons, fonts, images, frames."""

    LOADS = {
        "script": ("src",),
        "link": ("href",),
        "img": ("src", "srcset"),
        "iframe": ("src",),
        "source": ("src", "srcset"),
        "video": ("src", "poster"),
        "audio": ("src",),
        "embed": ("src",),
        "object": ("data",),
    }

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in self.LOADS.get(tag, ()):
            if values.get(name):
                self.urls.append(values[name] or "")
        if values.get("style"):
            self.styles.append(values["style"] or "")
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)


def css_urls(css: str) -> list[str]:
    found = re.findall(r"""url\(\s*['"]?([^'")\s]+)""", css)
    found += re.findall(r"""@import\s+['"]([^'"]+)""", css)
    return found


def test_the_built_site_loads_nothing_from_another_origin(site: Path) -> None:
    foreign: list[str] = []
    for html in site.rglob("*.html"):
        parser = _Resources()
        parser.feed(html.read_text())
        urls = parser.urls + [u for css in parser.styles for u in css_urls(css)]
        foreign += [f"{html.relative_to(site)}: {u}" for u in urls if FOREIGN.match(u)]
    for css in site.rglob("*.css"):
        urls = css_urls(css.read_text())
        foreign += [f"{css.relative_to(site)}: {u}" for u in urls if FOREIGN.match(u)]
    for js in site.rglob("*.js"):
        text = js.read_text(errors="replace")
        fonts = re.findall(r"fonts\.\w+apis\.com", text)
        foreign += [f"{js.relative_to(site)}: {u}" for u in fonts]
    assert not foreign, "the site loads from another origin:\n" + "\n".join(sorted(set(foreign)))


def test_the_material_theme_loads_no_web_fonts() -> None:
    config = (ROOT / "mkdocs.yml").read_text()
    assert re.search(r"^\s+font: false\b", config, re.MULTILINE)


def test_the_readme_first_screen_has_the_two_project_commands() -> None:
    first_screen = "\n".join(README.read_text().splitlines()[:40])
    assert "make demo" in first_screen
    assert "make test" in first_screen


def test_the_readme_stays_short() -> None:
    assert len(README.read_text().splitlines()) <= 260


def test_make_test_builds_the_docs() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^docs:", makefile, re.MULTILINE)
    assert "mkdocs build --strict" in makefile
    test_rule = re.search(r"^test:(.*)$", makefile, re.MULTILINE)
    assert test_rule and "docs" in test_rule.group(1).split()


def test_the_architecture_page_draws_the_state_table_as_the_code_does() -> None:
    from meshes_bridge.core.transitions import DRAWING

    page = (DOCS / "architecture.md").read_text()
    assert DRAWING.strip("\n") in page, "docs/architecture.md: copy core/transitions.py DRAWING"


def test_every_error_code_is_in_the_reference_and_troubleshooting() -> None:
    from meshes_bridge.core.wire import ErrorCode, Reason, State

    reference = (DOCS / "reference" / "errors.md").read_text()
    troubleshooting = (DOCS / "troubleshooting.md").read_text()
    page = (DOCS / "reference" / "page.md").read_text()
    for code in ErrorCode.ALL:
        assert f"`{code}`" in reference, f"reference/errors.md lacks error code {code}"
        assert f"`{code}`" in troubleshooting, f"troubleshooting.md lacks error code {code}"
    for reason in Reason.ALL:
        assert f"`{reason}`" in reference, f"reference/errors.md lacks rejection {reason}"
    for state in State.ALL:
        assert f"`{state}`" in page, f"reference/page.md lacks state {state}"


def test_every_endpoint_answer_is_in_the_reference_and_troubleshooting() -> None:
    sources = (ROOT / "bridge" / "meshes_bridge").rglob("*.py")
    codes = {
        code
        for source in sources
        for code in re.findall(r'error_reply\(\s*\d+,\s*"([a-z-]+)"', source.read_text())
    }
    assert {"login-required", "origin-not-allowed", "rate-limited"} <= codes
    endpoints = (DOCS / "reference" / "endpoints.md").read_text()
    troubleshooting = (DOCS / "troubleshooting.md").read_text()
    for code in sorted(codes):
        assert f'"{code}"' in endpoints, f"reference/endpoints.md lacks the answer {code}"
        assert f"`{code}`" in troubleshooting, f"troubleshooting.md lacks the answer {code}"


def test_every_django_check_is_documented() -> None:
    source = (ROOT / "bridge" / "meshes_bridge" / "django" / "checks.py").read_text()
    ids = set(re.findall(r"meshes_bridge\.[EW]\d{3}", source))
    assert ids
    reference = (DOCS / "reference" / "errors.md").read_text()
    troubleshooting = (DOCS / "troubleshooting.md").read_text()
    for check in sorted(ids):
        assert check in reference, f"reference/errors.md lacks {check}"
        assert check in troubleshooting, f"troubleshooting.md lacks {check}"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python[^\n]*\n(.*?)^```", text, re.MULTILINE | re.DOTALL)


def written_out_blocks() -> list[tuple[str, str]]:
    """Python blocks written in README.md or a docs page rather than included from a file."""
    found = [("README.md", block) for block in python_blocks(README.read_text())]
    for page in pages():
        for block in python_blocks(page.read_text()):
            if not INCLUDE.search(block):
                found.append((str(page.relative_to(ROOT)), block))
    return found


@pytest.mark.parametrize("where,block", written_out_blocks(), ids=lambda v: str(v)[:40])
def test_written_out_python_parses_and_names_what_exists(where: str, block: str) -> None:
    import ast
    import importlib

    tree = ast.parse(block, filename=where)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("meshes_bridge"):
            module = importlib.import_module(node.module or "")
            for alias in node.names:
                assert hasattr(module, alias.name), f"{where}: {node.module}.{alias.name}?"
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            dotted = node.value
            if re.fullmatch(r"meshes_bridge(\.\w+)+", dotted):
                try:
                    importlib.import_module(dotted)
                except ImportError:
                    module_name, _, name = dotted.rpartition(".")
                    assert hasattr(importlib.import_module(module_name), name), (
                        f"{where}: {dotted} does not exist"
                    )
