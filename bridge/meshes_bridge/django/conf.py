"""The Django settings of meshes-bridge: one namespaced dict, read once.

    MESHES_BRIDGE = {
        "ORG_ID": "...",                 # MESHES_ORG_ID
        "ACCESS_KEY": "...",             # MESHES_ACCESS_KEY
        "SECRET_KEY": env("..."),        # MESHES_SECRET_KEY
        "WORKSPACE_ID": "...",           # MESHES_WORKSPACE_ID
        "ALLOWED_ORIGINS": ["https://app.example.com"],   # a list, or comma-separated
        "API_URL": "https://api.meshes.io",               # MESHES_API_URL
        "EMBED_ORIGIN": "https://embed.meshes.io",        # MESHES_EMBED_ORIGIN
        "MINT_LIMIT": 10,                # MESHES_BRIDGE_MINT_LIMIT, per user a minute
        "REFRESH_LIMIT": 30,             # MESHES_BRIDGE_REFRESH_LIMIT
        "CACHE": "default",              # MESHES_BRIDGE_CACHE: alias in CACHES
        "POLICY": None,                  # MESHES_BRIDGE_POLICY
        "USER_KEY": None,                # MESHES_BRIDGE_USER_KEY
    }

Each key (`KEYS`) is looked up in that dict, then as the flat Django setting named like the
environment variable (``MESHES_ORG_ID``, ..., ``MESHES_BRIDGE_USER_KEY``), then, for the
section 2 settings, in the environment variable itself; None counts as not given. Any
key may be left out: `DEFAULTS` (or MeshesSettings' own defaults) apply.

* ``REDIS_URL`` (MESHES_BRIDGE_REDIS_URL) and ``REDIS_CLUSTER``
  (MESHES_BRIDGE_REDIS_CLUSTER) are unused by Django: point ``CACHE`` at a Redis cache
  instead. On Redis Cluster that cache backend must speak cluster and split
  ``get_many`` / ``set_many`` / ``delete_many`` by slot (not tested by meshes-bridge).
* ``POLICY``: a MintPolicy, or a callable / dotted path to a callable
  (user, request) -> MintPolicy (default: MintPolicy()).
* ``USER_KEY``: a callable / dotted path (user) -> str | int | UUID, the id sent to Meshes
  as external_user_id and used for bindings (default: user.pk); None, False or "" mean
  anonymous (401), any other type is a set-up error (500, logged naming this setting).

The settings are read on first use and kept (`given`); a test that changes one
(``override_settings``, pytest-django's ``settings`` fixture) makes `reset` forget them,
through `meshes_bridge.django.service`.
"""

from __future__ import annotations

import os
import re
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from meshes_bridge.server import identity
from meshes_bridge.server.service import MintPolicy, PolicySource
from meshes_bridge.server.settings import (
    ENVIRONMENT,
    FALSE_WORDS,
    TRUE_WORDS,
    ConfigurationError,
    MeshesSettings,
)

SETTING = "MESHES_BRIDGE"
CACHE_SETTING = "MESHES_BRIDGE_CACHE"
POLICY_SETTING = "MESHES_BRIDGE_POLICY"
USER_KEY_SETTING = "MESHES_BRIDGE_USER_KEY"
DEFAULT_CACHE = "default"

#: The keys of the MESHES_BRIDGE dict -> the flat setting (and variable) each also reads.
KEYS = {
    **{
        name.removeprefix("MESHES_BRIDGE_").removeprefix("MESHES_"): name
        for name in ENVIRONMENT.values()
    },
    "CACHE": CACHE_SETTING,
    "POLICY": POLICY_SETTING,
    "USER_KEY": USER_KEY_SETTING,
}
#: What a key left out means (the section 2 keys: the environment, then MeshesSettings).
DEFAULTS: dict[str, Any] = {"CACHE": DEFAULT_CACHE, "POLICY": None, "USER_KEY": None}

ENVIRONMENT_NAMES = frozenset(ENVIRONMENT.values())
#: Every Django setting this app reads (a change to one rebuilds the service in tests).
SETTING_NAMES = frozenset({SETTING, *KEYS.values()})

_given: dict[str, Any] | None = None  # flat name -> value, None = not given

_INT_FIELDS = ("mint_limit", "refresh_limit")
_SETTING_NAME_RE = re.compile(r"MESHES_[A-Z_]+")


def _from_django(field: str, name: str, value: Any) -> Any:
    """A Django setting's value as MeshesSettings wants it; ValueError names the setting."""
    if field == "allowed_origins":
        if isinstance(value, str):
            return value  # from_env splits a comma-separated string
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise ValueError(f"{name} must be a list of origins or a comma-separated string")
    if field == "redis_cluster":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
            return value.strip().lower() in TRUE_WORDS
        raise ValueError(f"{name} must be True or False")
    if field in _INT_FIELDS:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        raise ValueError(f"{name} must be a whole number")
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string")
    return value


def given() -> dict[str, Any]:
    """Each setting by its flat name (`KEYS`' values), from MESHES_BRIDGE or the flat
    setting; None where neither gives it. Read once, until `reset`. ImproperlyConfigured
    for a MESHES_BRIDGE that is no dict or holds a key meshes-bridge does not know."""
    global _given
    if _given is None:
        namespaced = getattr(settings, SETTING, None) or {}
        if not isinstance(namespaced, dict):
            raise ImproperlyConfigured(f"{SETTING} must be a dict like {{'ORG_ID': ...}}")
        unknown = sorted(set(namespaced) - set(KEYS))
        if unknown:
            raise ImproperlyConfigured(
                f"{SETTING} holds {unknown[0]!r}, which is none of {', '.join(KEYS)}"
            )
        read: dict[str, Any] = {}
        for key, flat in KEYS.items():
            value = namespaced.get(key)
            read[flat] = value if value is not None else getattr(settings, flat, None)
        _given = read
    return _given


def reset() -> None:
    """Forget what `given` read: the next call reads the settings again."""
    global _given
    _given = None


def describe(name: str) -> str:
    """How to set the setting `name` (flat), for messages: the dict key first."""
    key = next((k for k, flat in KEYS.items() if flat == name), None)
    return f"{SETTING}[{key!r}] (or {name})" if key else name


def meshes_settings() -> MeshesSettings:
    """The validated settings; `ConfigurationError` lists every problem, each naming its
    setting (the same name as the environment variable)."""
    overrides: dict[str, Any] = {}
    problems: list[str] = []
    values = given()
    for field, name in ENVIRONMENT.items():
        value = values[name]
        if value is None:
            continue
        try:
            overrides[field] = _from_django(field, name, value)
        except ValueError as exc:
            problems.append(str(exc))
    # A variable the settings override is not read at all: a stale or malformed value in
    # the environment must not hide the one the project chose.
    overridden = {n for n in ENVIRONMENT.values() if values[n] is not None}
    environ = {k: v for k, v in os.environ.items() if k not in overridden}
    built: MeshesSettings | None = None
    try:
        built = MeshesSettings.from_env(environ, **overrides)
    except ConfigurationError as exc:
        problems.extend(exc.problems)
    if problems or built is None:
        raise ConfigurationError(problems)
    return built


def setting_named(problem: str) -> str | None:
    """The setting a problem line of `ConfigurationError` is about (for check hints)."""
    match = _SETTING_NAME_RE.search(problem)
    return match.group(0) if match else None


def _resolve(name: str, value: Any) -> Any:
    if isinstance(value, str):
        try:
            return import_string(value)
        except ImportError as exc:
            raise ImproperlyConfigured(f"{name}: cannot import {value!r} ({exc})") from exc
    return value


def mint_policy() -> PolicySource:
    """MESHES_BRIDGE_POLICY: a MintPolicy, or a callable (user, request) -> MintPolicy."""
    value = _resolve(POLICY_SETTING, given()[POLICY_SETTING])
    if value is None:
        return MintPolicy()
    if isinstance(value, MintPolicy) or callable(value):
        policy: PolicySource = value
        return policy
    raise ImproperlyConfigured(
        f"{POLICY_SETTING} must be a MintPolicy or a callable (user, request) -> MintPolicy"
    )


def _primary_key(user: Any) -> object:
    return user.pk


def user_key_function() -> identity.KeyFunction:
    """MESHES_BRIDGE_USER_KEY: (user) -> key; default user.pk."""
    value = _resolve(USER_KEY_SETTING, given()[USER_KEY_SETTING])
    if value is None:
        return _primary_key
    if not callable(value):
        raise ImproperlyConfigured(f"{USER_KEY_SETTING} must be a callable (user) -> str")
    function: identity.KeyFunction = value
    return function


def user_key(user: Any, key: identity.KeyFunction | None = None) -> str | None:
    """The key of a logged-in user, None for an anonymous one (or no user at all), by the
    rule every adapter shares (`meshes_bridge.server.identity`). `key` is the
    MESHES_BRIDGE_USER_KEY function when the caller resolved it already. Raises
    `identity.UserKeyError` (naming MESHES_BRIDGE_USER_KEY) for a key that is no id."""
    function = key if key is not None else user_key_function()
    return identity.user_key(user, function, option=USER_KEY_SETTING)


def cache_alias() -> str:
    """MESHES_BRIDGE_CACHE, checked against CACHES."""
    alias = given()[CACHE_SETTING] or DEFAULTS["CACHE"]
    if not isinstance(alias, str) or alias not in settings.CACHES:
        raise ImproperlyConfigured(f"{CACHE_SETTING} names {alias!r}, which is not in CACHES")
    return alias


def csrf_header() -> str:
    """The header Django reads the CSRF token from, as a browser sends it: CSRF_HEADER_NAME
    is a META key (HTTP_X_CSRFTOKEN -> X-CSRFToken)."""
    meta = settings.CSRF_HEADER_NAME
    name = meta[5:] if meta.startswith("HTTP_") else meta
    header = "-".join(part.capitalize() for part in name.split("_") if part)
    # Header names are case-insensitive; this spelling is the one Django's docs use.
    return "X-CSRFToken" if header.lower() == "x-csrftoken" else header


def csrf_cookie() -> str:
    return str(settings.CSRF_COOKIE_NAME)
