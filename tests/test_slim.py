"""The browser's slimmed sources: comments and docstrings out, the code itself unchanged."""

from __future__ import annotations

import ast
import shutil
import subprocess
from pathlib import Path

import pytest

from meshes_bridge import assets
from meshes_bridge.slim import strip_js_comment_lines, strip_python

SAMPLE = '''"""Module docstring."""
import json  # a trailing comment

# a whole-line comment
X = "# not a comment"
Y = """not a docstring:
an assignment"""


def only_doc():
    """Nothing but a docstring,
    over two lines."""


class K:
    "single-quoted docstring"

    def f(self, a):
        # comment in a body
        s = ("a"
             "b")  # implicit concatenation
        "a bare string statement"
        return json.dumps([a, s, X, Y])
'''


def _blank_docstrings(tree: ast.AST) -> str:
    """The AST with every string statement made "", as strip_python writes them."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            if isinstance(node.value.value, str):
                node.value.value = ""
    return ast.dump(tree)


def test_strip_python_removes_comments_and_docstrings_only() -> None:
    out = strip_python(SAMPLE)
    assert "#" not in out.replace('"# not a comment"', "")
    assert "docstring" not in out.replace("not a docstring", "")
    assert "bare string" not in out
    assert '"# not a comment"' in out and "an assignment" in out
    assert out.count("\n") == SAMPLE.count("\n")  # line numbers kept
    namespace: dict[str, object] = {}
    exec(compile(out, "sample", "exec"), namespace)
    assert namespace["only_doc"]() is None  # type: ignore[operator]
    k = namespace["K"]()  # type: ignore[operator]
    assert k.f(1) == '[1, "ab", "# not a comment", "not a docstring:\\nan assignment"]'


def test_every_browser_file_keeps_its_code_and_its_line_numbers() -> None:
    sources = assets._python_sources("pyodide")
    assert any(rel.endswith("core/session.py") for rel in sources)
    for rel, path in sources.items():
        text = path.read_text(encoding="utf-8")
        out = strip_python(text)
        assert _blank_docstrings(ast.parse(out)) == _blank_docstrings(ast.parse(text)), rel
        assert out.count("\n") == text.rstrip("\n").count("\n") + text.endswith("\n"), rel
        for number, line in enumerate(out.split("\n")):
            original = text.split("\n")[number]
            if line.strip():
                # a line kept is the original line, cut short at most (a comment gone)
                assert original.startswith(line) or '""' in line, (rel, number + 1)


def test_strip_python_refuses_what_is_not_python() -> None:
    with pytest.raises((SyntaxError, Exception)):
        strip_python('x = """never closed\n')


def test_strip_js_comment_lines_keeps_code() -> None:
    text = '// header\nconst a = "// kept";\n  // indented comment\n\nlet b = 1; // kept too\n'
    assert strip_js_comment_lines(text) == 'const a = "// kept";\nlet b = 1; // kept too\n'


def test_the_slimmed_loader_is_valid_javascript_and_smaller(tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node, "node is installed with the npm runtime files"
    rendered = assets.loader_text()
    source = (Path(__file__).resolve().parents[1] / "static" / "loader.js").read_text()
    assert len(rendered) < len(source) + 2 * len(assets.UNPACK)
    assert "\n//" not in rendered and "\n  //" not in rendered
    target = tmp_path / "loader.mjs"
    target.write_text(rendered, encoding="utf-8")
    done = subprocess.run([node, "--check", str(target)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
