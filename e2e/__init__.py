"""End-to-end checks and the test doubles (stub Meshes, host backend, hostile origin)."""
