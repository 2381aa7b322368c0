"""meshes-bridge for Django: the two endpoints, the template tag, the static files.

    INSTALLED_APPS = [..., "django.contrib.staticfiles", "meshes_bridge.django"]
    STATICFILES_FINDERS = [
        "django.contrib.staticfiles.finders.FileSystemFinder",
        "django.contrib.staticfiles.finders.AppDirectoriesFinder",
        "meshes_bridge.django.finders.MeshesBridgeFinder",
    ]
    # urls.py
    path("meshes/", include("meshes_bridge.django.urls")),
    # a template
    {% load meshes_bridge %}{% meshes_embed launch_page="connections" %}

Configuration: one dict, ``MESHES_BRIDGE = {"ORG_ID": ..., "ALLOWED_ORIGINS": [...],
"POLICY": ..., "USER_KEY": ..., "CACHE": "default", ...}`` (`meshes_bridge.django.conf`).
A key left out falls back to the flat Django setting named like the environment variable
(``MESHES_ORG_ID``, ``MESHES_BRIDGE_MINT_LIMIT``, ...), then to that variable. System
checks `meshes_bridge.E001`... report what is missing at start-up. Signals
(`meshes_bridge.django.signals`) report each mint, refresh and logout revoke.

Nothing is imported here: this module is loaded while Django populates its app registry,
before settings or models may be touched.
"""
