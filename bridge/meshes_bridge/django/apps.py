"""The app: ``INSTALLED_APPS = [..., "meshes_bridge.django"]``."""

from __future__ import annotations

import mimetypes
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.apps import AppConfig

if TYPE_CHECKING:
    from meshes_bridge.server.identity import KeyFunction
    from meshes_bridge.server.service import EmbedService


class MeshesBridgeConfig(AppConfig):
    """The app, holding what `meshes_bridge.django.service` builds from the settings: the
    `EmbedService` and the MESHES_BRIDGE_USER_KEY function, each made on first use."""

    name = "meshes_bridge.django"
    label = "meshes_bridge"
    verbose_name = "Meshes bridge"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out

        from meshes_bridge.django import checks, service

        self._lock = threading.Lock()
        self._service: EmbedService | None = None
        self._key_function: KeyFunction | None = None
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

    def embed_service(self, build: Callable[[], EmbedService]) -> EmbedService:
        """The app's service, made by `build` on first use (thread-safe)."""
        service = self._service
        if service is None:
            with self._lock:
                if self._service is None:
                    self._service = build()
                service = self._service
        return service

    def key_function(self, resolve: Callable[[], KeyFunction]) -> KeyFunction:
        """The user key function, resolved by `resolve` on first use."""
        function = self._key_function
        if function is None:
            function = self._key_function = resolve()
        return function

    def forget(self) -> EmbedService | None:
        """Drop the service and the key function; the service dropped, if any."""
        with self._lock:
            old, self._service, self._key_function = self._service, None, None
        return old
