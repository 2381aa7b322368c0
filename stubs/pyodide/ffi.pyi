"""pyodide.ffi, as far as meshes_bridge.browser.ffi uses it (its other names are left out).

create_proxy is declared as MicroPython's jsffi declares it (stubs/jsffi.pyi): ffi.py
imports one or the other under one name. Its keyword options are left out, and what it
returns (a JsDoubleProxy with destroy()) is `object`: the adapter passes it to JS and
releases it through getattr.
"""

def create_proxy(obj: object, /) -> object: ...
