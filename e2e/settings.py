"""The one place that says which browser the tests, the demo and the benchmarks run."""

from meshes_bridge.testing.chromium import SYSTEM_CHROMIUM, SYSTEM_CHROMIUM_ARGS

RUNTIMES = ("micropython", "pyodide")
# Debian's chromium: `playwright install` cannot download a browser here. The tests get
# theirs from the test kit's selection (meshes_chromium); the demo and the benchmarks
# launch this one directly.
CHROMIUM = SYSTEM_CHROMIUM
# Headless flags that keep it off the network it does not have (the kit's own).
CHROMIUM_ARGS = list(SYSTEM_CHROMIUM_ARGS)
