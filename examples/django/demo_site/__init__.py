"""The Django example site of meshes-bridge (settings, urls, views, templates)."""
