"""The browser adapter: the only code that touches `js`, `pyodide` or `jsffi`.

It turns DOM events, fetch answers and timers into inputs for the sans-IO core and
carries out the core's actions. Every entry point from JavaScript catches and reports
its errors, so PyScript never shows its error banner on a host page.
"""
