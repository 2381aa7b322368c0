"""The few interpreter-specific calls, hidden behind one portable surface.

Pyodide and MicroPython differ in how Python callables become JS functions and in
how values convert; JSON is the one conversion both do identically, so plain data
crosses the boundary as JSON text and nothing else.
"""

import json

import js

from meshes_bridge.core import inputs as inp
from meshes_bridge.core import wire
from meshes_bridge.core.wire import Entry, Kind

try:
    from pyodide.ffi import create_proxy as _create_proxy

    RUNTIME = "pyodide"
except ImportError:
    from jsffi import create_proxy as _create_proxy

    RUNTIME = "micropython"

_object_is = getattr(js.Object, "is")


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


def to_plain(value: object) -> "js.Object":
    """A plain JS object/array from JSON-able Python data."""
    plain: js.Object = js.JSON.parse(json.dumps(value))
    return plain


_RELAY_KEY = getattr(js.Symbol, "for")(wire.RELAY_KEY)  # Symbol.for: a keyword in Python


def listen(handler: object) -> None:
    """Have the relay hand `handler` (a proxy) each batch of window messages."""
    if is_null(_RELAY):
        raise RuntimeError("loader.js is not from this build (no message relay)")
    _RELAY.listen(handler)


def is_null(value: object) -> bool:
    """JS null or undefined, as either interpreter presents them."""
    return value is None or type(value).__name__ in ("JsNull", "undefined")


_UNREADABLE = inp.MessageData(inp.UNREADABLE)
_SHAPES: "dict[object, inp.MessageData]" = {
    Kind.NOT_OBJECT: inp.MessageData(inp.NOT_OBJECT),
    Kind.TOO_LARGE: inp.MessageData(inp.TOO_LARGE),
    Kind.UNREADABLE: _UNREADABLE,
    Kind.NO_TYPE: inp.MessageData(inp.TYPE_ONLY),
}
# What the relay says of a field JSON cannot carry.
_SPECIALS = {
    wire.Special.NESTED: inp.NESTED,
    wire.Special.NAN: float("nan"),
    wire.Special.INF: float("inf"),
    wire.Special.NEG_INF: float("-inf"),
}


def take_messages() -> str:
    """The messages the relay holds that Python has not had yet, as one batch ("" if none)."""
    return str(_RELAY.take())


def watch(window: object, origin: "str | None") -> int:
    """Tell the relay this iframe window is ours, and the origin whose messages from it the
    core reads in full (its embed origin); the slot it reports for its messages."""
    return int(_RELAY.watch(window, origin))


def unwatch(slot: int) -> None:
    _RELAY.unwatch(slot)


# Read once per message: module names, not class attributes (MicroPython looks up less).
_KIND = Entry.KIND
_FIELDS = Entry.FIELDS
_SPECIALS_AT = Entry.SPECIALS
_OBJECT = Kind.OBJECT
_TYPE = Kind.TYPE


def message_data(entry: "list[object]") -> inp.MessageData:
    """A batch entry's data (from Entry.KIND on: see core/wire.py, "The relay") as a core
    input. The relay read it as far as the core had said (`watch`): nothing is decided
    here, the entry's kind is taken as it is."""
    kind = entry[_KIND]
    if kind == _OBJECT:
        fields = entry[_FIELDS]
        if not isinstance(fields, dict):
            return _UNREADABLE
        if len(entry) > _SPECIALS_AT:
            # What the relay writes there (core/wire.py, "The relay"); mypy cannot know.
            specials: dict[str, str] = entry[_SPECIALS_AT]  # type: ignore[assignment]
            for key in specials:
                fields[key] = _SPECIALS.get(specials[key], inp.NESTED)
        return inp.MessageData(inp.OBJECT, fields)
    if kind == _TYPE:
        return inp.MessageData(inp.TYPE_ONLY, {"type": entry[_FIELDS]})
    return _SHAPES.get(kind, _UNREADABLE)


def post(iframe: object, message: "dict[str, str]", target_origin: str) -> bool:
    """postMessage a plain object to the iframe's window with exactly `target_origin`;
    False when the iframe has no window (it left the document)."""
    return bool(_RELAY.post(iframe, json.dumps(message), target_origin))


def request(answer: object, request_id: int, url: str, init: str) -> int:
    """Have the relay send a request (core/wire.py, "Requests"); the ticket for abort()."""
    return int(_RELAY.request(answer, request_id, url, init))


def adopt(record: object, answer: object, request_id: int) -> int:
    """Have the relay follow the loader's early mint record as request `request_id`."""
    return int(_RELAY.adopt(record, answer, request_id))


def abort(ticket: int) -> None:
    """Abort a request: its answer, if one still comes, is not handed over."""
    _RELAY.abort(ticket)


def set_state(element: object, state: str) -> None:
    """The container's `data-state`, written by the relay, which keeps it for the loader."""
    _RELAY.state(element, state)


def dispatch(element: object, name: str, detail: "dict[str, object]") -> None:
    """A bubbling CustomEvent with plain-object detail, as the host interface promises."""
    _RELAY.emit(element, name, json.dumps(detail))


# The loader's message relay (static/loader.js, "Message relay"), read once: JS null or
# undefined when the page has no loader of this build, and then the bridge does not start
# (listen).
_RELAY = js.Reflect.get(js.globalThis, _RELAY_KEY)


def text_field(obj: object, name: str) -> "str | None":
    """A JS object's string property, or None: absent (no AttributeError, as plain attribute
    access would raise on both interpreters), null or not a string."""
    value = js.Reflect.get(obj, name)
    return value if isinstance(value, str) else None


_EARLY = getattr(js.Symbol, "for")(wire.EARLY_KEY)  # Symbol.for: a keyword in Python


def early_mint(element: object) -> "js.Object | None":
    """Take (once) the loader's early mint record for this element, or None."""
    take = js.Reflect.get(js.globalThis, _EARLY)
    if is_null(take):
        return None
    record = take(element)
    return None if is_null(record) else record


def boot_times() -> "inp.BootTimes | None":
    """When loader.js began and when the interpreter was up, as the loader noted them (its
    relay's `boot()`: JSON text, so that no whole number wraps on MicroPython), in seconds
    on the core's clock; None from a loader that notes neither."""
    boot = js.Reflect.get(_RELAY, "boot") if not is_null(_RELAY) else None
    if is_null(boot):
        return None
    times = json.loads(str(_RELAY.boot()))
    loader = times.get("loader")
    runtime = times.get("runtime_ready")
    return inp.BootTimes(
        loader / 1000.0 if isinstance(loader, (int, float)) else None,
        runtime / 1000.0 if isinstance(runtime, (int, float)) else None,
    )


def attribute(element: "js.Element", name: str) -> "str | None":
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
