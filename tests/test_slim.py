"""The browser's slimmed sources: comments and docstrings out, the code itself unchanged."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from meshes_bridge import assets
from meshes_bridge.slim import (
    slim_python,
    strip_annotations,
    strip_js_comment_lines,
    strip_python,
)

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


class _NoAnnotations(ast.NodeTransformer):
    """The AST as strip_annotations leaves it (for sources with one-line annotations)."""

    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.annotation = None
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        node.returns = None
        self.generic_visit(node)
        return node

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> ast.AsyncFunctionDef:
        node.returns = None
        self.generic_visit(node)
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.ClassDef:
        for child in node.body:  # a class's annotated attributes stay
            if not isinstance(child, ast.AnnAssign):
                self.visit(child)
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.stmt:
        if node.value is None or not node.simple:
            return node
        assign = ast.Assign(targets=[node.target], value=node.value, type_comment=None)
        return ast.copy_location(assign, node)


def _normalised(text: str) -> str:
    tree = _NoAnnotations().visit(ast.parse(text))
    return _blank_docstrings(ast.parse(ast.unparse(tree)))


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
        out = slim_python(text, assets.ours(rel))
        if assets.ours(rel):
            assert _normalised(out) == _normalised(text), rel
        else:  # a third party's annotations stay (pyodide-http has dataclasses)
            assert _blank_docstrings(ast.parse(out)) == _blank_docstrings(ast.parse(text)), rel
        assert out.count("\n") == text.count("\n"), rel
        for number, line in enumerate(out.split("\n")):
            original = text.split("\n")[number]
            # a line kept is the original line, cut short (a comment gone) or with its
            # annotations out: the same first words, the same indentation
            if line.strip() and '""' not in line:
                first = re.compile(r"\s*(\w+|\S)")
                assert first.match(original).group(1) == first.match(line).group(1), (rel, number)  # type: ignore[union-attr]
                assert len(original) - len(original.lstrip()) == len(line) - len(line.lstrip())


def test_strip_annotations_keeps_the_code() -> None:
    text = (
        "def f(a: int, b: 'list[str] | None' = None, *args: str, c: dict = {}) -> str:\n"
        "    x: int = len(args)\n"
        "    y: int\n"
        "    return str((a, b, x, c))  # d: not an annotation\n"
        "class K:\n"
        "    z: 'str | None' = 'ok'\n"
        "    def m(self) -> None:\n"
        "        w: int = 1\n"
    )
    out = strip_annotations(text)
    assert out == (
        "def f(a, b = None, *args, c = {}):\n"
        "    x = len(args)\n"
        "    y: int\n"
        "    return str((a, b, x, c))  # d: not an annotation\n"
        "class K:\n"
        "    z: 'str | None' = 'ok'\n"
        "    def m(self):\n"
        "        w = 1\n"
    )
    namespace: dict[str, object] = {}
    exec(compile(out, "sample", "exec"), namespace)
    assert namespace["f"](1, None, "p") == "(1, None, 1, {})"  # type: ignore[operator]


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
    # Smaller than the source, what is filled in (manifest, wire constants, main.py) aside.
    filled = [
        assets.tree_manifest(),
        assets.wire_constants(),
        (assets.runtime_dir() / "main.py").read_text(encoding="utf-8"),
    ]
    added = sum(len(json.dumps(value, sort_keys=True)) for value in filled)
    assert len(rendered) - added < len(source)
    assert "\n//" not in rendered and "\n  //" not in rendered
    target = tmp_path / "loader.mjs"
    target.write_text(rendered, encoding="utf-8")
    done = subprocess.run([node, "--check", str(target)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
