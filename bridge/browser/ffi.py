"""The few interpreter-specific calls, hidden behind one portable surface.

Pyodide and MicroPython differ in how Python callables become JS functions and in
how values convert; JSON is the one conversion both do identically, so plain data
crosses the boundary as JSON text and nothing else.
"""

import json
import time

import js

from meshes_bridge.core.messages import MAX_FIELDS, MAX_MESSAGE_CHARS, OVERSIZED

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


# Beyond this, an int is not a JS number but a BigInt (or a wrapped one): not a field value.
_MAX_SAFE_INT = 9007199254740991


def is_null(value: object) -> bool:
    """JS null or undefined, as either interpreter presents them."""
    return value is None or type(value).__name__ in ("JsNull", "undefined")


def _is_plain_object(value: object) -> bool:
    # Object.prototype.toString never throws, whatever the value (null included).
    return str(_to_string.call(value)) == "[object Object]"


def _scalar(data: object, key: object) -> "tuple[bool, object]":
    """(present, value) of one field, as JSON.stringify would see it; a nested value
    becomes {} so that the core refuses it."""
    value = js.Reflect.get(data, key)
    kind = type(value).__name__
    if kind == "undefined" or (value is None and RUNTIME == "pyodide"):
        return False, None  # undefined: JSON.stringify would drop the field
    if value is None or kind == "JsNull":
        return True, None
    if isinstance(value, int) and not isinstance(value, bool):
        if RUNTIME == "micropython":
            # MicroPython wraps integral JS numbers to 32 bits: read the number as text.
            # A flat number field cannot make stringify throw.
            value = json.loads(str(js.JSON.stringify(data, to_plain([str(key)])))).get(str(key))
        if not isinstance(value, (int, float)) or abs(value) > _MAX_SAFE_INT:
            return True, {}
        return True, value
    if isinstance(value, (bool, float, str)):
        return True, value
    return True, {}


def message_json(data: object) -> "str | None":
    """JSON text of a message's data, read without calling anything that can throw.

    MicroPython cannot catch a JS exception raised synchronously (JSON.stringify on a
    cyclic object, Object.keys on null), so the data is walked field by field. Contract
    messages are flat; a nested value becomes {} and is refused by the core. Data over
    the core's size limit is not serialised at all (OVERSIZED): json.dumps of a few MB
    takes seconds on MicroPython, and any window may post to us.
    """
    if isinstance(data, str):
        return OVERSIZED if len(data) > MAX_MESSAGE_CHARS else json.dumps(data)
    if is_null(data) or isinstance(data, (bool, int, float)):
        return "null" if is_null(data) else "0"  # not an object: refused as such
    if not _is_plain_object(data):
        return "[]"  # arrays, Dates, Blobs...: not an object, refused as such
    keys = js.Object.keys(data)
    if keys.length > MAX_FIELDS * 4:
        return None
    out = {}
    size = 0
    for key in keys:
        present, value = _scalar(data, key)
        size += len(str(key)) + (len(value) if isinstance(value, str) else 8)
        if size > MAX_MESSAGE_CHARS:
            return OVERSIZED
        if present:
            out[str(key)] = value
    return json.dumps(out)


def message_type_json(data: object) -> "str | None":
    """Just the `type` of a message (as JSON text), for logging one not meant for us."""
    if not _is_plain_object(data):
        return None
    kind = js.Reflect.get(data, "type")
    if isinstance(kind, str) and len(kind) <= 64:
        return json.dumps({"type": kind})
    return None


def dispatch(element: object, name: str, detail: dict) -> None:
    """A bubbling CustomEvent with plain-object detail, as the host interface promises."""
    init = to_plain({"detail": detail, "bubbles": True})
    element.dispatchEvent(js.CustomEvent.new(name, init))


def attribute(element: object, name: str) -> "str | None":
    """An attribute's value; Pyodide gives JsNull (not None) for a missing one."""
    value = element.getAttribute(name)
    return value if isinstance(value, str) else None


def now() -> float:
    """Seconds, for deadlines: the only clock the core ever sees."""
    if RUNTIME == "micropython":
        # MicroPython wraps a whole JS number to 32 bits, and performance.now() is whole
        # now and then: after 24.8 days a read could jump back. Its own clock does not wrap.
        return time.time_ns() / 1000000000.0
    return js.performance.now() / 1000.0
