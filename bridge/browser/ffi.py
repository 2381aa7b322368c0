"""The few interpreter-specific calls, hidden behind one portable surface.

Pyodide and MicroPython differ in how Python callables become JS functions and in
how values convert; JSON is the one conversion both do identically, so plain data
crosses the boundary as JSON text and nothing else.
"""

import json

import js

from meshes_bridge.core import inputs as inp
from meshes_bridge.core.messages import MAX_FIELDS, MAX_MESSAGE_CHARS

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
    becomes NESTED so that the core refuses it."""
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
            return True, inp.NESTED
        return True, value
    if isinstance(value, (bool, float, str)):
        return True, value
    return True, inp.NESTED


_TOO_LARGE = inp.MessageData(inp.TOO_LARGE)
_NOT_OBJECT = inp.MessageData(inp.NOT_OBJECT)
_UNREADABLE = inp.MessageData(inp.UNREADABLE)
_NO_TYPE = inp.MessageData(inp.TYPE_ONLY)


def read_message(data: object) -> inp.MessageData:
    """A message's data, sorted by shape and read without calling anything that can throw.

    MicroPython cannot catch a JS exception raised synchronously (JSON.stringify on a
    cyclic object, Object.keys on null), so the data is walked field by field. Contract
    messages are flat; a nested value becomes NESTED and is refused by the core. Reading
    stops as soon as the data is over the core's size limit: copying a few MB into Python
    takes seconds on MicroPython, and any window may post to us.
    """
    if isinstance(data, str):
        return _TOO_LARGE if len(data) > MAX_MESSAGE_CHARS else _NOT_OBJECT
    if not _is_plain_object(data):
        return _NOT_OBJECT  # null, numbers, arrays, Dates, Blobs...
    keys = js.Object.keys(data)
    if keys.length > MAX_FIELDS * 4:
        return _UNREADABLE
    fields = {}
    size = 0
    for key in keys:
        present, value = _scalar(data, key)
        name = str(key)
        size += len(name) + (len(value) if isinstance(value, str) else 8)
        if size > MAX_MESSAGE_CHARS:
            return _TOO_LARGE
        if present:
            fields[name] = value
    return inp.MessageData(inp.OBJECT, fields)


def read_message_type(data: object) -> inp.MessageData:
    """Just the `type` of a message, for logging one the core will not act on."""
    if not _is_plain_object(data):
        return _NO_TYPE
    kind = js.Reflect.get(data, "type")
    if isinstance(kind, str) and len(kind) <= 64:
        return inp.MessageData(inp.TYPE_ONLY, {"type": kind})
    return _NO_TYPE


def dispatch(element: object, name: str, detail: dict) -> None:
    """A bubbling CustomEvent with plain-object detail, as the host interface promises."""
    init = to_plain({"detail": detail, "bubbles": True})
    element.dispatchEvent(js.CustomEvent.new(name, init))


def text_field(obj: object, name: str) -> "str | None":
    """A JS object's string property, or None: absent (no AttributeError, as plain attribute
    access would raise on both interpreters), null or not a string."""
    value = js.Reflect.get(obj, name)
    return value if isinstance(value, str) else None


_EARLY = getattr(js.Symbol, "for")("meshes-bridge.early")  # Symbol.for: a keyword in Python


def early_mint(element: object) -> object:
    """Take (once) the loader's early mint record for this element, or None."""
    take = js.Reflect.get(js.globalThis, _EARLY)
    if is_null(take):
        return None
    record = take(element)
    return None if is_null(record) else record


def attribute(element: object, name: str) -> "str | None":
    """An attribute's value; Pyodide gives JsNull (not None) for a missing one."""
    value = element.getAttribute(name)
    return value if isinstance(value, str) else None


_performance = js.performance
if RUNTIME == "micropython":
    # For reading performance.now() as text: Array.from({length: 1}, now).join("").
    _array_from = getattr(js.Array, "from")  # a keyword in Python
    _now_bound = _performance.now.bind(_performance)
    _one = to_plain({"length": 1})


def now() -> float:
    """Seconds on the page's monotonic clock (performance.now()): the only clock the core
    sees. Not the wall clock, which a user or NTP may step: a step back would stall every
    deadline, a step forward fire them all at once."""
    value = _performance.now()
    if RUNTIME == "pyodide" or isinstance(value, float):
        return value / 1000.0
    # MicroPython hands a whole JS number over as a 32-bit int, which wraps after 24.8
    # days of uptime; performance.now() is whole now and then. Read that one as text.
    return float(str(_array_from(_one, _now_bound).join(""))) / 1000.0
