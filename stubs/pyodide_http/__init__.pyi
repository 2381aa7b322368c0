"""pyodide-http (vendored for the browser by tools/vendor.py): the one call the adapter
makes. The package itself ships no type hints."""

def patch_all() -> None: ...
