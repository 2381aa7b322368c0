"""The JavaScript global scope as `import js` shows it, on Pyodide and on MicroPython alike.

Only the names meshes_bridge.browser uses, with what holds on both interpreters. What
mypy cannot see through these stubs:

- Conversions. A JS string arrives as `str` and a boolean as `bool` on both; a number as
  `int` or `float` depending on the interpreter and on the value (MicroPython wraps a whole
  number past 2**31); null as None on MicroPython but as JsNull on Pyodide, undefined as
  None on both. So a value that may be null is `Any` here (the adapter asks ffi.is_null),
  and one whose type depends on the interpreter is `object` (the adapter converts it).
- Whatever arrives from JSON.parse or Reflect.get, and any property of a plain object
  (`Object`): `Any`.
- Python callables handed to JS: `object`. Only ffi.create_proxy's result may go there;
  mypy cannot tell a proxy from a bare function.
- Absence: reading a property JS lacks raises AttributeError, which no type here records.
"""

from collections.abc import Generator, Iterator
from typing import Any, Generic, Literal, TypeVar, overload

_T = TypeVar("_T")

class Object:
    """A plain JS object (an options bag, a record from the loader): any property."""

    def __getattr__(self, name: str) -> Any: ...
    def __setattr__(self, name: str, value: object) -> None: ...

class Promise(Generic[_T]):
    """What a call to a promise-returning JS function gives: awaitable on both."""

    def __await__(self) -> Generator[Any, Any, _T]: ...

class EventTarget:
    def addEventListener(self, type: str, listener: object) -> None: ...
    def removeEventListener(self, type: str, listener: object) -> None: ...

class Node(EventTarget):
    isConnected: bool
    def appendChild(self, node: Node) -> Node: ...

class Element(Node):
    def getAttribute(self, name: str) -> object: ...  # str, or null (None / JsNull)
    def hasAttribute(self, name: str) -> bool: ...
    def setAttribute(self, name: str, value: str) -> None: ...
    def remove(self) -> None: ...

class NodeList:
    def __iter__(self) -> Iterator[Element]: ...

class CSSStyleDeclaration:
    width: str
    height: str
    border: str
    display: str

class HTMLElement(Element):
    style: CSSStyleDeclaration

class Window:
    def postMessage(self, message: object, targetOrigin: str) -> None: ...

class HTMLIFrameElement(HTMLElement):
    src: str
    contentWindow: Any  # a Window, or null once the iframe has left the document

class Document(Node):
    cookie: str
    documentElement: Element
    @overload
    def createElement(self, tagName: Literal["iframe"]) -> HTMLIFrameElement: ...
    @overload
    def createElement(self, tagName: str) -> HTMLElement: ...
    def querySelectorAll(self, selectors: str) -> NodeList: ...

class Location:
    href: str
    origin: str

class URL:
    href: str
    origin: str
    @staticmethod
    def new(url: str, base: str = ...) -> URL: ...
    @staticmethod
    def canParse(url: str, base: str = ...) -> bool: ...

class AbortSignal:
    aborted: bool
    @staticmethod
    def timeout(time: int) -> AbortSignal: ...
    @staticmethod
    def any(signals: object) -> AbortSignal: ...

class AbortController:
    signal: AbortSignal
    @staticmethod
    def new() -> AbortController: ...
    def abort(self) -> None: ...

class Response:
    ok: bool
    status: int
    url: str
    def text(self) -> Promise[str]: ...

class MutationObserver:
    @staticmethod
    def new(callback: object) -> MutationObserver: ...
    def observe(self, target: Node, options: object) -> None: ...

class Function:
    """A JS function as a value (not called as a method): callable, and bindable."""

    def __call__(self, *args: object) -> Any: ...
    def bind(self, thisArg: object, *args: object) -> Function: ...

class _Now:
    """performance.now: called, or bound (MicroPython reads it through Array.from)."""

    def __call__(self) -> int | float: ...  # an int for whole milliseconds
    def bind(self, thisArg: object, *args: object) -> Function: ...

class Performance:
    now: _Now

class _JSON:
    def parse(self, text: str) -> Any: ...
    def stringify(self, value: object) -> object: ...  # a str, or undefined for undefined

class _Reflect:
    def get(self, target: object, propertyKey: object) -> Any: ...

class _Console:
    def error(self, *data: object) -> None: ...
    def warn(self, *data: object) -> None: ...
    def info(self, *data: object) -> None: ...
    def debug(self, *data: object) -> None: ...

# Constructors read for a method Python cannot name (`is`, `for`, `from`: keywords), which
# the adapter fetches with getattr (Any).
class Array: ...
class Symbol: ...

document: Document
location: Location
performance: Performance
console: _Console
globalThis: Object
JSON: _JSON
Reflect: _Reflect

def fetch(resource: str, options: object = ...) -> Promise[Response]: ...
def setTimeout(handler: object, timeout: float = ...) -> int: ...
def clearTimeout(id: int) -> None: ...
def requestAnimationFrame(callback: object) -> int: ...
def cancelAnimationFrame(handle: int) -> None: ...
