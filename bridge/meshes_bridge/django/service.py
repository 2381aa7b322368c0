"""The app's `EmbedService`, built from the Django settings on first use.

`get_service()` is what the views, the template tag and the logout receiver use; the
service lives on the app's `MeshesBridgeConfig` (``apps.get_app_config("meshes_bridge")``),
as Django keeps an app's state. A test that changes a meshes-bridge setting or CACHES
(``override_settings``, pytest-django's ``settings`` fixture) gets a fresh service at once:
`setting_changed` drops the built one. `reset_service()` does the same by hand (e.g. after
changing `os.environ` in a test).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.core.signals import setting_changed
from django.dispatch import receiver

from meshes_bridge.django import conf, signals
from meshes_bridge.django.store import DjangoCacheStore
from meshes_bridge.server import render, web
from meshes_bridge.server.service import EmbedService

if TYPE_CHECKING:
    from meshes_bridge.django.apps import MeshesBridgeConfig

log = logging.getLogger("meshes_bridge.django")


def _app() -> MeshesBridgeConfig:
    config: MeshesBridgeConfig = apps.get_app_config("meshes_bridge")  # type: ignore[assignment]
    return config


def build_service() -> EmbedService:
    """A new service from the current settings (raises ConfigurationError or
    ImproperlyConfigured when they are incomplete: the system checks say which), sending
    `meshes_bridge.django.signals` from its hooks."""
    service = EmbedService(
        conf.meshes_settings(),
        store=DjangoCacheStore(conf.cache_alias()),
        policy=conf.mint_policy(),
    )
    signals.connect(service)
    return service


def get_service() -> EmbedService:
    """The app's service (built on first use, thread-safe)."""
    return _app().embed_service(build_service)


def user_key(user: Any) -> str | None:
    """`conf.user_key` with MESHES_BRIDGE_USER_KEY resolved once, not on every request
    (again after `reset_service`). Raises `UserKeyError` for a key that is no id."""
    return conf.user_key(user, _app().key_function(conf.user_key_function))


def reset_service() -> None:
    """Forget the service, the settings read and the user key function; the next
    `get_service()` builds one from the settings."""
    conf.reset()
    old = _app().forget()
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
    """`user_logged_out` receiver: revoke the user's live Meshes sessions. Never raises: a
    Meshes outage, a cache outage or a half-configured app must not stop a user from
    logging out (the failure is logged; the sessions expire on their own)."""
    try:
        service = get_service()
    except Exception as exc:
        log.warning(
            "meshes-bridge could not revoke the Meshes sessions on logout (%s)",
            type(exc).__name__,
        )
        return
    web.revoke_quietly(service, lambda: user_key(user), conf.USER_KEY_SETTING)
