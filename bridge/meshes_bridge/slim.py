"""Smaller sources for the browser: comments, docstrings and annotations out, line numbers
kept.

Every byte of a cold load counts (the benchmark's target is 300 KB gzip, and about 275 KB
of that is the unmodified runtime), and this project's sources are mostly explanation. The
full text stays in the package; the browser gets the code. Line numbers are kept, so a
traceback from the browser still points at the right line of the source.
"""

from __future__ import annotations

import ast
import io
import tokenize

# Tokens after which a string statement is a docstring (or a bare string: equally inert).
_STATEMENT_START = (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING)
_SKIPPED = (tokenize.NL, tokenize.COMMENT)


def _is_docstring(tokens: list[tokenize.TokenInfo], i: int) -> bool:
    """Is tokens[i] (a STRING) a statement of its own: nothing before it on its logical
    line, and only a NEWLINE after it?"""
    j = i - 1
    while j >= 0 and tokens[j].type in _SKIPPED:
        j -= 1
    k = i + 1
    while k < len(tokens) and tokens[k].type == tokenize.COMMENT:
        k += 1
    before_ok = j < 0 or tokens[j].type in _STATEMENT_START
    after_ok = k < len(tokens) and tokens[k].type in (tokenize.NEWLINE, tokenize.ENDMARKER)
    return before_ok and after_ok


def _offsets(text: str) -> list[int]:
    offsets = [0]
    for line in text.splitlines(keepends=True):
        offsets.append(offsets[-1] + len(line))
    return offsets


def strip_python(text: str) -> str:
    """`text` without comments (and the spaces before them) and with every docstring
    replaced by ``""`` (so a body that was only a docstring stays a body); the same number
    of lines, each statement on its line. Raises SyntaxError (tokenize.TokenError) on text
    that is not Python."""
    tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    lines = text.splitlines(keepends=True)
    cuts: list[tuple[tuple[int, int], tuple[int, int], str]] = []
    for i, tok in enumerate(tokens):
        if tok.type == tokenize.COMMENT:
            # The spaces before it go too; no other line is touched (a multi-line string
            # may end its lines in spaces that matter).
            row, col = tok.start
            before = lines[row - 1][:col]
            cuts.append(((row, len(before.rstrip())), tok.end, ""))
        elif tok.type == tokenize.STRING and _is_docstring(tokens, i):
            cuts.append((tok.start, tok.end, '""' + "\n" * (tok.end[0] - tok.start[0])))
    offsets = _offsets(text)
    out = text
    for (srow, scol), (erow, ecol), replacement in reversed(cuts):
        start = offsets[srow - 1] + scol
        end = offsets[erow - 1] + ecol
        out = out[:start] + replacement + out[end:]
    return out


def strip_js_comment_lines(text: str) -> str:
    """`text` without its whole-line `//` comments and blank lines. Only whole lines: a
    `//` after code may sit in a string or a regular expression. Meant for the loader, which
    has no multi-line string or template literal for a line to be part of."""
    kept = []
    for line in text.split("\n"):
        bare = line.strip()
        if bare and not bare.startswith("//"):
            kept.append(line.rstrip())
    return "\n".join(kept) + "\n"


def strip_annotations(text: str) -> str:
    """`text` without the type annotations of arguments and return values, nor of an
    assignment with a value in a function or module (``x: int = 0`` becomes ``x = 0``); a
    bare ``x: int`` and a class's annotated attributes stay (a dataclass reads them).
    Only for code that never inspects annotations (the bridge's own files, not a third
    party's). Only annotations written on one line are taken out, so every statement
    stays on its line."""
    tree = ast.parse(text)
    offsets = _offsets(text)
    cuts: list[tuple[int, int]] = []

    def at(line: int, col: int) -> int:
        # ast columns are UTF-8 byte offsets: count them on the line's own bytes.
        start = offsets[line - 1]
        raw = text[start : offsets[line]].encode("utf-8")[:col]
        return start + len(raw.decode("utf-8"))

    def cut_back_to(marker: str, node: ast.expr) -> None:
        if node.lineno != node.end_lineno or node.end_col_offset is None:
            return
        end = at(node.lineno, node.end_col_offset)
        start = text.rfind(marker, offsets[node.lineno - 1], at(node.lineno, node.col_offset))
        if start >= 0:
            while start > 0 and text[start - 1] in " \t":
                start -= 1
            cuts.append((start, end))

    in_classes = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        for child in node.body
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and node.annotation is not None:
            cut_back_to(":", node.annotation)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns:
            cut_back_to("->", node.returns)
        elif isinstance(node, ast.AnnAssign) and node.value is not None and node.simple:
            if id(node) not in in_classes:  # a class's may be a dataclass field
                cut_back_to(":", node.annotation)
    out = text
    for start, end in sorted(cuts, reverse=True):
        out = out[:start] + out[end:]
    return out


def slim_python(text: str, annotations: bool = True) -> str:
    """What the browser gets of a Python file: strip_python, then (unless `annotations`
    is false: a third party's file) strip_annotations."""
    text = strip_python(text)
    return strip_annotations(text) if annotations else text
