"""MicroPython's jsffi (its webassembly port), as far as meshes_bridge.browser.ffi uses it.

The same create_proxy as stubs/pyodide/ffi.pyi declares: ffi.py imports one or the other.
"""

def create_proxy(obj: object, /) -> object: ...
