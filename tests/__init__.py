"""Our own test suites (tests/, and e2e/ through `tests.support`)."""
