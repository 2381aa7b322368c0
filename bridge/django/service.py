"""One `EmbedService` per process, built from the Django settings on first use.

`get_service()` is what the views, the template tag and the logout receiver use. A test
that changes a meshes-bridge setting or CACHES (``override_settings``) gets a fresh
service at once: `setting_changed` drops the cached one. `reset_service()` does the same
by hand (e.g. after changing `os.environ` in a test).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from django.core.signals import setting_changed
from django.dispatch import receiver

from meshes_bridge.django import conf
from meshes_bridge.django.store import DjangoCacheStore
from meshes_bridge.server import render
from meshes_bridge.server.service import EmbedService

log = logging.getLogger("meshes_bridge.django")

_lock = threading.Lock()
_service: EmbedService | None = None


def build_service() -> EmbedService:
    """A new service from the current settings (raises ConfigurationError or
    ImproperlyConfigured when they are incomplete: the system checks say which)."""
    return EmbedService(
        conf.meshes_settings(),
        store=DjangoCacheStore(conf.cache_alias()),
        policy=conf.mint_policy(),
    )


def get_service() -> EmbedService:
    """The process's service (built on first use, thread-safe)."""
    global _service
    service = _service
    if service is None:
        with _lock:
            if _service is None:
                _service = build_service()
            service = _service
    return service


def reset_service() -> None:
    """Forget the service; the next `get_service()` builds one from the settings."""
    global _service
    with _lock:
        old, _service = _service, None
    if old is not None:
        old.client.close()


@receiver(setting_changed, dispatch_uid="meshes_bridge.django.setting_changed")
def _on_setting_changed(*, setting: str, **_: Any) -> None:
    if setting in conf.SETTING_NAMES or setting == "CACHES":
        reset_service()


def content_security_policy(extra: Mapping[str, str] | None = None) -> str:
    """The Content-Security-Policy for a page with the embed (frame-src = the configured
    MESHES_EMBED_ORIGIN); `extra` adds or replaces directives."""
    return render.content_security_policy(get_service().settings.embed_origin, extra)


def revoke_on_logout(sender: Any, request: Any = None, user: Any = None, **_: Any) -> None:
    """`user_logged_out` receiver: revoke the user's live Meshes sessions.

    Never raises: a Meshes outage, a cache outage or a half-configured app must not stop
    a user from logging out (the failure is logged; the sessions expire on their own).
    """
    try:
        key = conf.user_key(user)
        if key is not None:
            get_service().revoke_user(key)
    except Exception as exc:  # logout must succeed whatever happens here
        log.warning(
            "meshes-bridge could not revoke the Meshes sessions on logout (%s)",
            type(exc).__name__,
        )
