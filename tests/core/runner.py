"""Runs the core's unit tests where there is no pytest: inside the browser.

NAMES is written out, not found on disk: the browser has only the files it was served.
e2e/test_core_in_browser.py checks that the modules run are every test module here.
"""

NAMES = (
    "test_backend",
    "test_config",
    "test_flight",
    "test_gate",
    "test_messages",
    "test_mint",
    "test_origins",
    "test_redact",
    "test_resize",
    "test_responses",
    "test_retry",
    "test_session",
    "test_session_teardown",
    "test_timings",
    "test_transitions",
    "test_values",
    "test_watchdog",
)
# __import__ with a fromlist gives the module itself, on MicroPython as on CPython.
MODULES = tuple(__import__("tests.core." + name, None, None, [name]) for name in NAMES)


def module_name(module):
    return module.__name__.split(".")[-1]


def run_all():
    """Run every test_* function of MODULES; returns (passed, failed, ["module.test:
    error", ...])."""
    passed = 0
    failures = []
    for module in MODULES:
        for name in sorted(dir(module)):
            test = getattr(module, name)
            if not name.startswith("test_") or not callable(test):
                continue
            try:
                test()
            except Exception as exc:  # report every failure, keep going
                where = module_name(module) + "." + name
                failures.append(where + ": " + type(exc).__name__ + " " + str(exc))
            else:
                passed += 1
    return passed, len(failures), failures
