"""End-to-end checks in Chromium: the bridge against the product's own server half (tests/host)
and the test kit's fake Meshes, and the e2e-only attacker page (e2e/hostile.py)."""
