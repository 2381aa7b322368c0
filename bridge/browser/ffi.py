"""The few interpreter-specific calls, hidden behind one portable surface.

Pyodide and MicroPython differ in how Python callables become JS functions and in
how values convert; JSON is the one conversion both do identically, so plain data
crosses the boundary as JSON text and nothing else.
"""

import json

import js

try:
    from pyodide.ffi import create_proxy as _create_proxy

    RUNTIME = "pyodide"
except ImportError:
    from jsffi import create_proxy as _create_proxy

    RUNTIME = "micropython"

_object_is = getattr(js.Object, "is")
_to_string = js.Object.prototype.toString


def create_proxy(func: object) -> object:
    """A JS function that stays alive until release()."""
    return _create_proxy(func)


def release(proxy: object) -> None:
    destroy = getattr(proxy, "destroy", None)
    if destroy is not None:
        destroy()


def same_object(a: object, b: object) -> bool:
    """JS identity (Object.is): Python `is` does not hold across the proxy layer."""
    return bool(_object_is(a, b))


def to_plain(value: object) -> object:
    """A plain JS object/array from JSON-able Python data."""
    return js.JSON.parse(json.dumps(value))


def _scalar(value: object) -> "tuple[bool, object]":
    """(present, value) for a field value; JS objects become {} so the core refuses them."""
    kind = type(value).__name__
    if kind == "undefined":
        return False, None  # MicroPython's undefined: JSON.stringify would drop the field
    if value is None or kind == "JsNull":
        return True, None
    if isinstance(value, (bool, int, float, str)):
        return True, value
    return True, {}


def message_json(data: object) -> "str | None":
    """JSON text of a message's data, read without calling anything that can throw.

    MicroPython cannot catch a JS exception raised synchronously (JSON.stringify on a
    cyclic object, Object.keys on null), so the data is walked field by field. Contract
    messages are flat; a nested value becomes {} and is refused by the core.
    """
    kind = type(data).__name__
    if kind == "undefined":
        return None
    if data is None or isinstance(data, (bool, int, float, str)) or kind == "JsNull":
        return json.dumps(None if kind == "JsNull" else data)
    if str(_to_string.call(data)) != "[object Object]":
        return "[]"  # arrays, Dates, Blobs...: not an object, refused as such
    keys = js.Object.keys(data)
    if keys.length > 64:
        return None
    out = {}
    for key in keys:
        present, value = _scalar(js.Reflect.get(data, key))
        if present:
            out[str(key)] = value
    return json.dumps(out)


def attribute(element: object, name: str) -> "str | None":
    """An attribute's value; Pyodide gives JsNull (not None) for a missing one."""
    value = element.getAttribute(name)
    return value if isinstance(value, str) else None


def now() -> float:
    """Monotonic seconds: the only clock the core ever sees."""
    return js.performance.now() / 1000.0
