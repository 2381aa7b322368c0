"""System checks (registered by the app's `ready()`), so a misconfiguration stops
`runserver`/`migrate`/`check` at start-up instead of failing at the first request.

meshes_bridge.E001  a MESHES_* setting (or variable) is missing or wrong: one error per
                    problem, naming the setting
meshes_bridge.E002  MeshesBridgeFinder is not in STATICFILES_FINDERS (or staticfiles is not
                    installed): collectstatic and runserver would miss the asset tree
meshes_bridge.E003  no CsrfViewMiddleware: the csrftoken cookie is never set, so every mint
                    is refused
meshes_bridge.E004  the installed package lacks its browser runtime files (the finder's check)
meshes_bridge.W001  MESHES_BRIDGE_CACHE is a LocMemCache or DummyCache: nothing is shared
                    across worker processes
meshes_bridge.W002  CSRF_COOKIE_HTTPONLY or CSRF_USE_SESSIONS: the bridge cannot read the
                    CSRF token
meshes_bridge.W003  SecurityMiddleware sends Cross-Origin-Opener-Policy: same-origin (Django's
                    default): popups the embed opens (OAuth connection setup) lose their
                    opener, so they cannot report back

Silence one with ``SILENCED_SYSTEM_CHECKS = ["meshes_bridge.W001"]``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig, apps
from django.conf import settings
from django.core import checks
from django.core.cache import caches
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.exceptions import ImproperlyConfigured
from django.middleware.csrf import CsrfViewMiddleware
from django.middleware.security import SecurityMiddleware
from django.utils.module_loading import import_string

from meshes_bridge.django import conf
from meshes_bridge.server.settings import ConfigurationError

FINDER = "meshes_bridge.django.finders.MeshesBridgeFinder"
Messages = list[checks.CheckMessage]


def check_settings(app_configs: Sequence[AppConfig] | None = None, **_: Any) -> Messages:
    """meshes_bridge.E001: one error per missing or bad setting."""
    problems: list[str] = []
    try:
        conf.given()
    except ImproperlyConfigured as exc:  # the others all read through it
        problems.append(str(exc))
    else:
        try:
            conf.meshes_settings()
        except ConfigurationError as exc:
            problems.extend(exc.problems)
        for read in (conf.mint_policy, conf.user_key_function, conf.cache_alias):
            try:
                read()
            except ImproperlyConfigured as exc:
                problems.append(str(exc))
    errors: Messages = []
    for problem in problems:
        name = conf.setting_named(problem)
        hint = (
            f"Set {conf.describe(name)} in your settings, or {name} as an environment "
            "variable (the settings win)."
            if name in conf.ENVIRONMENT_NAMES
            else "See meshes_bridge.django.conf for what the settings accept."
        )
        errors.append(checks.Error(problem, hint=hint, id="meshes_bridge.E001"))
    return errors


def check_cache(app_configs: Sequence[AppConfig] | None = None, **_: Any) -> Messages:
    """meshes_bridge.W001: the cache keeps bindings and limits in one process only."""
    try:
        alias = conf.cache_alias()
        cache = caches[alias]
    except ImproperlyConfigured:
        return []  # reported as E001
    if isinstance(cache, DummyCache):
        what = (
            "stores nothing: every token refresh is refused (the bridge then mints a new "
            "session) and no rate limit applies"
        )
    elif isinstance(cache, LocMemCache):
        what = (
            "lives in one process: with several workers each sees only its own session "
            "bindings and rate limits"
        )
    else:
        return []
    hint = "Use a shared cache (django.core.cache.backends.redis.RedisCache, memcached)"
    if conf.given()["MESHES_BRIDGE_REDIS_URL"] or os.environ.get("MESHES_BRIDGE_REDIS_URL"):
        hint += "; MESHES_BRIDGE_REDIS_URL is set but Django uses its cache: point it there"
    return [
        checks.Warning(
            f"meshes-bridge keeps its state in CACHES[{alias!r}] ({type(cache).__name__}), "
            f"which {what}.",
            hint=hint + ", or silence this check for a single-process deployment.",
            id="meshes_bridge.W001",
        )
    ]


def check_csrf(app_configs: Sequence[AppConfig] | None = None, **_: Any) -> Messages:
    """meshes_bridge.W002 and E003: the bridge must be able to send the CSRF token."""
    messages: Messages = []
    for setting in ("CSRF_COOKIE_HTTPONLY", "CSRF_USE_SESSIONS"):
        if getattr(settings, setting, False):
            messages.append(
                checks.Warning(
                    f"{setting} = True: the bridge cannot read the {conf.csrf_cookie()!r} "
                    f"cookie to send {conf.csrf_header()}, so Django refuses every mint "
                    "and refresh with 403.",
                    hint=f"Set {setting} = False (the default).",
                    id="meshes_bridge.W002",
                )
            )
    if not _has_csrf_middleware():
        messages.append(
            checks.Error(
                "CsrfViewMiddleware is not in MIDDLEWARE: the csrftoken cookie is never set, "
                "so the bridge's POSTs to the meshes-bridge views are refused with 403.",
                hint="Add 'django.middleware.csrf.CsrfViewMiddleware' to MIDDLEWARE.",
                id="meshes_bridge.E003",
            )
        )
    return messages


def check_opener_policy(app_configs: Sequence[AppConfig] | None = None, **_: Any) -> Messages:
    """meshes_bridge.W003: the embed contract says the host must allow popups from the
    iframe (OAuth setup opens Meshes-hosted pages in a new window); COOP same-origin cuts
    every cross-origin popup off from the page that opened it."""
    if not _has_middleware(SecurityMiddleware):
        return []
    policy = getattr(settings, "SECURE_CROSS_ORIGIN_OPENER_POLICY", "same-origin")
    if policy != "same-origin":
        return []
    return [
        checks.Warning(
            "SECURE_CROSS_ORIGIN_OPENER_POLICY is 'same-origin' (Django's default): popups "
            "the Meshes embed opens (OAuth connection setup) lose their opener and cannot "
            "report back to the page.",
            hint='Set SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin-allow-popups".',
            id="meshes_bridge.W003",
        )
    ]


def _has_middleware(kind: type) -> bool:
    for path in getattr(settings, "MIDDLEWARE", None) or ():
        try:
            middleware = import_string(path)
        except ImportError:
            continue  # Django's own checks report it
        if isinstance(middleware, type) and issubclass(middleware, kind):
            return True
    return False


def _has_csrf_middleware() -> bool:
    return _has_middleware(CsrfViewMiddleware)


def check_static(app_configs: Sequence[AppConfig] | None = None, **_: Any) -> Messages:
    """meshes_bridge.E002: collectstatic and runserver find the tree only through the
    finder."""
    if FINDER in settings.STATICFILES_FINDERS and apps.is_installed("django.contrib.staticfiles"):
        return []
    return [
        checks.Error(
            "The meshes-bridge asset tree (loader.js and the runtimes) is not found by "
            "staticfiles: collectstatic and runserver would not serve it.",
            hint=(
                f"Add {FINDER!r} to STATICFILES_FINDERS (keeping Django's two defaults) and "
                "'django.contrib.staticfiles' to INSTALLED_APPS."
            ),
            id="meshes_bridge.E002",
        )
    ]


def register_checks() -> None:
    """Called from `MeshesBridgeConfig.ready()`."""
    checks.register(check_settings)
    checks.register(check_cache, checks.Tags.caches)
    checks.register(check_csrf, checks.Tags.security)
    checks.register(check_opener_policy, checks.Tags.security)
    checks.register(check_static, checks.Tags.staticfiles)
