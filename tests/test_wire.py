"""The JS/Python wire: the loader and the Python agree on every shared name and number.

meshes_bridge/core/wire.py is the one place they are written. `meshes-bridge static` writes
them into the loader as `const WIRE = {...}`; these tests fail when the built loader's WIRE
differs from wire.py, when static/loader.js names a constant wire.py does not have, or
hard-codes a value of one instead of naming it; and when the Python side uses a state,
event, error code or rejection reason wire.py does not list.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from meshes_bridge import assets
from meshes_bridge.core import config, messages, wire
from meshes_bridge.slim import strip_js_comment_lines

REPO = Path(__file__).resolve().parent.parent
LOADER_SOURCE = REPO / "static" / "loader.js"
PKG = REPO / "bridge" / "meshes_bridge"
CONSTANT = re.compile(r"^[A-Z][A-Z0-9_]*$")


def wire_as_python() -> dict[str, Any]:
    """wire.py read here, independently of assets.wire_constants: each constant, and each
    class of constants as a dict of its members (tuples as lists, as JSON has them)."""

    def plain(value: Any) -> Any:
        return list(value) if isinstance(value, tuple) else value

    found: dict[str, Any] = {}
    for name in dir(wire):
        value = getattr(wire, name)
        if isinstance(value, type) and value.__module__ == wire.__name__:
            found[name] = {k: plain(v) for k, v in vars(value).items() if CONSTANT.match(k)}
        elif CONSTANT.match(name):
            found[name] = plain(value)
    return found


def built_wire() -> Any:
    match = re.search(r"^const WIRE = (.*);$", assets.loader_text(), re.M)
    assert match, "the built loader has no `const WIRE = {...};` line"
    return json.loads(match.group(1))


def loader_code() -> str:
    """static/loader.js without its comments (whole-line and trailing)."""
    text = strip_js_comment_lines(LOADER_SOURCE.read_text(encoding="utf-8"))
    return "\n".join(re.sub(r"\s//\s.*$", "", line) for line in text.splitlines())


def test_the_built_loader_carries_wire_py_exactly() -> None:
    assert built_wire() == wire_as_python()


def test_the_loader_names_only_constants_wire_py_has() -> None:
    code = loader_code()
    ours = wire_as_python()
    groups = {"Kind", "Special"}  # `const { Kind, Special } = WIRE`
    named = re.findall(r"\bWIRE\.(\w+)(?:\.(\w+))?", code)
    named += [(g, m) for g, m in re.findall(r"\b(Kind|Special)\.(\w+)", code)]
    assert named, "the loader names no WIRE constant"
    for top, member in named:
        assert top in ours, f"loader.js names WIRE.{top}, which wire.py does not define"
        if member and isinstance(ours[top], dict):
            assert member in ours[top], f"loader.js names {top}.{member}: not in wire.py"
    assert groups <= set(ours)


def _wire_values() -> tuple[set[str], set[int]]:
    strings: set[str] = set()
    numbers: set[int] = set()

    def add(value: Any) -> None:
        if isinstance(value, list):
            for item in value:
                add(item)
        elif isinstance(value, str):
            strings.add(value)
        elif isinstance(value, int):
            numbers.add(value)

    for name, value in wire_as_python().items():
        if name == "Entry":
            continue  # positions 0..5: any small number in the code would match
        for item in value.values() if isinstance(value, dict) else [value]:
            add(item)
    return strings, numbers


# Literals of the loader that equal a wire value by coincidence, not as that constant.
NOT_WIRE = {
    # PyScript's `config` attribute and `hooks` export; a link's `error` event.
    "string": {"config", "hooks", "error"},
    "number": {1},  # a size of 1 for data not read (readAll)
}


def test_the_loader_hard_codes_no_wire_value() -> None:
    code = loader_code()
    strings, numbers = _wire_values()
    literals = re.findall(r'"((?:[^"\\\n]|\\.)*)"|\'((?:[^\'\\\n]|\\.)*)\'', code)
    texts = {a or b for a, b in literals}
    shared = sorted((texts & strings) - NOT_WIRE["string"])
    assert not shared, f"loader.js spells out wire values instead of naming them: {shared}"
    found = {int(n) for n in re.findall(r"(?<![\w.])(-?\d+)(?![\w.])", code)}
    shared_numbers = sorted((found & numbers) - NOT_WIRE["number"])
    assert not shared_numbers, f"loader.js hard-codes wire numbers: {shared_numbers}"


def test_the_loader_source_has_the_wire_placeholder_once() -> None:
    assert LOADER_SOURCE.read_text(encoding="utf-8").count(assets.WIRE_PLACEHOLDER) == 1


def test_python_uses_the_wire_values() -> None:
    assert messages.MAX_MESSAGE_CHARS == wire.MAX_MESSAGE_CHARS
    assert messages.MAX_FIELDS == wire.MAX_FIELDS
    assert messages.message_size({"k": 1}) == 1 + wire.NON_STRING_CHARS
    assert tuple(getattr(config, "_FALSE_WORDS", wire.FALSE_WORDS)) == wire.FALSE_WORDS
    assert tuple(config.RUNTIMES) == wire.RUNTIMES
    # A module of the core that names the states itself (`BOOTING = "booting"`) names
    # them as wire.State does.
    states = {k: v for k, v in vars(wire.State).items() if CONSTANT.match(k)}
    for path in _sources():
        text = path.read_text(encoding="utf-8")
        for name, value in re.findall(r'^([A-Z_]+) = "([^"]*)"\s*$', text, re.M):
            if name in states and path.name != "wire.py":
                assert value == states[name], f"{path.name}: {name} = {value!r}"


def _sources() -> list[Path]:
    return sorted(p for sub in ("core", "browser") for p in (PKG / sub).rglob("*.py"))


# What the Python code passes as a literal where wire.py has the list: the error codes
# (`_fail("...")`, `_report("...")`, `"code": "..."`), the events (`_emit("...")`,
# `Emit("...")`), the rejection reasons (`Rejection("...")`) and the states.
LITERALS = {
    "ErrorCode": re.compile(
        r'(?:_fail|_report|report_hook_error)\((?:embed,\s*)?"([^"]+)"|"code": "([^"]+)"'
    ),
    "Event": re.compile(r'(?:_emit|Emit|emit)\(\s*"([^"]+)"'),
    "Reason": re.compile(r'Rejection\(\s*"([^"]+)"'),
    "State": re.compile(r'SetState\(\s*"([^"]+)"|^[A-Z_]+ = "([^"]+)"\s*$', re.M),
}


@pytest.mark.parametrize("group", sorted(LITERALS))
def test_python_literals_are_wire_members(group: str) -> None:
    members = set(getattr(wire, group).ALL)
    for path in _sources():
        if path.name == "wire.py":
            continue
        for match in LITERALS[group].finditer(path.read_text(encoding="utf-8")):
            value = next(v for v in match.groups() if v)
            if group == "State" and match.group(1) is None and value not in members:
                continue  # a module constant that is no state (`READY = "meshes:ready"`)
            assert value in members, f"{path.name}: {value!r} is not in wire.{group}.ALL"


def test_each_group_lists_all_its_members() -> None:
    for name, value in wire_as_python().items():
        if isinstance(value, dict) and "ALL" in value:
            members = [v for k, v in value.items() if k != "ALL" and not isinstance(v, list)]
            assert sorted(members) == sorted(value["ALL"]), name
            assert len(set(value["ALL"])) == len(value["ALL"]), name


def test_one_console_prefix() -> None:
    for path in [*_sources(), REPO / "static" / "main.py"]:
        text = path.read_text(encoding="utf-8")
        assert (
            "meshes-bridge] " not in text or path.name == "wire.py" or (wire.CONSOLE_PREFIX in text)
        ), path
    assert "meshes-bridge: " not in loader_code()
