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

Configuration: every `MESHES_*` environment variable of the server interface is also a
Django setting of the same name (the setting wins), plus `MESHES_BRIDGE_CACHE`,
`MESHES_BRIDGE_POLICY` and `MESHES_BRIDGE_USER_KEY` (`meshes_bridge.django.conf`).
System checks `meshes_bridge.E001`... report what is missing at start-up.

Nothing is imported here: this module is loaded while Django populates its app registry,
before settings or models may be touched.
"""
