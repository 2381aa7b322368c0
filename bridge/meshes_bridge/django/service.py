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
from meshes_bridge.server.identity import KeyFunction, UserKeyError
from meshes_bridge.server.service import EmbedService

log = logging.getLogger("meshes_bridge.django")

_lock = threading.Lock()
_service: EmbedService | None = None
_key_function: KeyFunction | None = None  # MESHES_BRIDGE_USER_KEY, imported once


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


def user_key(user: Any) -> str | None:
    """`conf.user_key` with MESHES_BRIDGE_USER_KEY resolved once, not on every request
    (again after `reset_service`). Raises `UserKeyError` for a key that is no id."""
    global _key_function
    function = _key_function
    if function is None:
        function = _key_function = conf.user_key_function()
    return conf.user_key(user, function)


def reset_service() -> None:
    """Forget the service (and the user key function); the next `get_service()` builds
    one from the settings."""
    global _service, _key_function
    with _lock:
        old, _service = _service, None
        _key_function = None
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
        key = user_key(user)
        if key is not None:
            get_service().revoke_user(key)
    except UserKeyError as exc:  # its text names the setting, never the user object
        log.error("meshes-bridge could not revoke the Meshes sessions on logout: %s", exc)
    except Exception as exc:  # logout must succeed whatever happens here
        log.warning(
            "meshes-bridge could not revoke the Meshes sessions on logout (%s)",
            type(exc).__name__,
        )
