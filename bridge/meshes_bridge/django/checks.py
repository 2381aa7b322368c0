"""System checks (registered by the app's `ready()`), so a misconfiguration stops
`runserver` and `check` at start-up instead of failing at the first request.

meshes_bridge.E001  a MESHES_* setting (or variable) is missing or wrong: one error per
                    problem, naming the setting. It stops what serves or vets serving
                    (runserver, testserver, check, check --deploy); any other management
                    command (migrate, createsuperuser, makemigrations, ...) gets the same
                    problems as one meshes_bridge.W004 and runs
meshes_bridge.E002  MeshesBridgeFinder is not in STATICFILES_FINDERS (or staticfiles is not
                    installed): collectstatic and runserver would miss the asset tree
meshes_bridge.E003  no CsrfViewMiddleware: the csrftoken cookie is never set, so every mint
                    is refused
meshes_bridge.E004  the installed package lacks its browser runtime files (the finder's check)
meshes_bridge.W001  MESHES_BRIDGE_CACHE is a DummyCache (stores nothing), or, under
                    `check --deploy` only, a LocMemCache (nothing shared across worker
                    processes: harmless for runserver's one process)
meshes_bridge.W002  CSRF_COOKIE_HTTPONLY or CSRF_USE_SESSIONS: the bridge cannot read the
                    CSRF token
meshes_bridge.W003  SecurityMiddleware sends Cross-Origin-Opener-Policy: same-origin (Django's
                    default): popups the embed opens (OAuth connection setup) lose their
                    opener, so they cannot report back
meshes_bridge.W004  the E001 problems, for a management command that neither serves nor
                    vets serving: the database and admin work goes on

Silence one with ``SILENCED_SYSTEM_CHECKS = ["meshes_bridge.W001"]``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig, apps
from django.conf import settings
from django.core import checks
from django.core.cache import caches
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.exceptions import ImproperlyConfigured
from django.core.management import get_commands
from django.middleware.csrf import CsrfViewMiddleware
from django.middleware.security import SecurityMiddleware
from django.utils.module_loading import import_string

from meshes_bridge.django import conf
from meshes_bridge.server.settings import ConfigurationError

FINDER = "meshes_bridge.django.finders.MeshesBridgeFinder"
CACHE_SETTING_HINT = conf.describe(conf.CACHE_SETTING)
Messages = list[checks.CheckMessage]


#: The management commands that serve, or vet a project for serving: for them a settings
#: problem is an error (E001). Any other command (migrate, createsuperuser, makemigrations,
#: a project's own) does database or admin work that needs no meshes-bridge setting.
SERVING_COMMANDS = frozenset({"runserver", "testserver", "check"})


def admin_command(argv: Sequence[str] | None = None) -> str | None:
    """The management command this process runs (`argv`, default `sys.argv`) when it
    neither serves nor vets serving; None otherwise.

    Django's check framework cannot tell them apart: runserver, migrate, makemigrations and
    createsuperuser all run every check with the same arguments, and an error stops each of
    them. So the command is read as Django's ManagementUtility reads it, argv[1], and only
    when that names a management command: any other process (a test run, a script calling
    `call_command`, a WSGI or ASGI server) keeps every settings problem an error."""
    words = sys.argv if argv is None else argv
    if len(words) < 2:
        return None
    name = words[1]
    if name in SERVING_COMMANDS or name not in get_commands():
        return None
    return name


def setting_problems() -> list[str]:
    """Every missing or bad meshes-bridge setting, one line each, naming the setting."""
    problems: list[str] = []
    try:
        conf.given()
    except ImproperlyConfigured as exc:  # the others all read through it
        return [str(exc)]
    try:
        conf.meshes_settings()
    except ConfigurationError as exc:
        problems.extend(exc.problems)
    for read in (conf.mint_policy, conf.user_key_function, conf.cache_alias):
        try:
            read()
        except ImproperlyConfigured as exc:
            problems.append(str(exc))
    return problems


def check_settings(app_configs: Sequence[AppConfig] | None = None, **_: Any) -> Messages:
    """meshes_bridge.E001: one error per missing or bad setting; for a database or admin
    command (`admin_command`), one meshes_bridge.W004 that lets it run."""
    problems = setting_problems()
    if not problems:
        return []
    command = admin_command()
    if command is not None:
        return [
            checks.Warning(
                "meshes-bridge is not configured: " + "; ".join(problems) + ".",
                hint=(
                    f"{command} runs all the same; runserver and `check --deploy` stop with "
                    "meshes_bridge.E001 until these are set in your settings "
                    f"({conf.SETTING} = {{...}}) or as environment variables."
                ),
                id="meshes_bridge.W004",
            )
        ]
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


def _state_cache() -> tuple[str, Any] | None:
    """The alias and the cache the bindings and rate limits live in (None: E001 says why)."""
    try:
        alias = conf.cache_alias()
        return alias, caches[alias]
    except ImproperlyConfigured:
        return None


def _use_a_shared_cache(hint: str) -> str:
    if conf.given()["MESHES_BRIDGE_REDIS_URL"] or os.environ.get("MESHES_BRIDGE_REDIS_URL"):
        hint += "; MESHES_BRIDGE_REDIS_URL is set but Django uses its cache: point it there"
    return hint


def check_cache(app_configs: Sequence[AppConfig] | None = None, **_: Any) -> Messages:
    """meshes_bridge.W001: a DummyCache breaks the bridge even in one process."""
    found = _state_cache()
    if found is None or not isinstance(found[1], DummyCache):
        return []
    alias, cache = found
    hint = _use_a_shared_cache(
        f"Point {CACHE_SETTING_HINT} at a real cache (LocMemCache is enough for runserver; "
        "django.core.cache.backends.redis.RedisCache or memcached once several processes "
        "serve)"
    )
    return [
        checks.Warning(
            f"meshes-bridge keeps its state in CACHES[{alias!r}] ({type(cache).__name__}), "
            "which stores nothing: every token refresh is refused (the bridge then mints a "
            "new session) and no rate limit applies.",
            hint=hint + ".",
            id="meshes_bridge.W001",
        )
    ]


def check_cache_shared(app_configs: Sequence[AppConfig] | None = None, **_: Any) -> Messages:
    """meshes_bridge.W001, a deploy check: a per-process cache is right for runserver (one
    process, so a warning on every start would only be noise) and wrong once several
    worker processes serve, which is what `check --deploy` vets."""
    found = _state_cache()
    if found is None or not isinstance(found[1], LocMemCache):
        return []
    alias, cache = found
    hint = _use_a_shared_cache(
        "Use a cache every process shares (django.core.cache.backends.redis.RedisCache, "
        f"memcached) and name it in {CACHE_SETTING_HINT}"
    )
    return [
        checks.Warning(
            f"meshes-bridge keeps its state in CACHES[{alias!r}] ({type(cache).__name__}), "
            "which lives in one process: with several workers (gunicorn, uWSGI) each sees "
            "only its own session bindings and rate limits, so refreshes fail at random.",
            hint=hint + ", or silence this check when one process serves.",
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
    checks.register(check_cache_shared, checks.Tags.caches, deploy=True)
    checks.register(check_csrf, checks.Tags.security)
    checks.register(check_opener_policy, checks.Tags.security)
    checks.register(check_static, checks.Tags.staticfiles)
