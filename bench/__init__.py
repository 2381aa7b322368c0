"""The benchmark suite: the bridge against the plain-JS handler the Meshes docs
describe, side by side in one run (``python -m bench``; the README's Benchmarks section)."""
