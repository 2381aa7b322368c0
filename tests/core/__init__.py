"""The core's unit tests: plain Python that pytest runs here and e2e/test_core_in_browser.py
runs inside the browser, on MicroPython and on Pyodide (through `runner`)."""
