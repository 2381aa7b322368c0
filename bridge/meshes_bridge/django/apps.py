"""The app: ``INSTALLED_APPS = [..., "meshes_bridge.django"]``."""

from __future__ import annotations

import mimetypes

from django.apps import AppConfig


class MeshesBridgeConfig(AppConfig):
    name = "meshes_bridge.django"
    label = "meshes_bridge"
    verbose_name = "Meshes bridge"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out

        from meshes_bridge.django import checks, service

        checks.register_checks()
        # Browsers refuse ES modules and WebAssembly served with the wrong type; Django's
        # static serving (runserver, --insecure) asks `mimetypes`, whose tables vary
        # with the OS (/etc/mime.types) and the Python version.
        mimetypes.add_type("text/javascript", ".mjs")
        mimetypes.add_type("text/javascript", ".js")
        mimetypes.add_type("application/wasm", ".wasm")
        user_logged_out.connect(
            service.revoke_on_logout, dispatch_uid="meshes_bridge.django.revoke_on_logout"
        )
