"""The one place that says which browser the tests, the demo and the benchmarks run."""

RUNTIMES = ("micropython", "pyodide")
# Debian's chromium: `playwright install` cannot download a browser here.
CHROMIUM = "/usr/bin/chromium"
# Headless flags that keep it off the network it does not have.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
