"""Test kit for host teams (`pip install "meshes-bridge[testing]"`): real processes, the
fake Meshes and typed helpers. Importing it never imports a web framework."""
