"""The Django project the Django adapter's tests run in (pytest-django): its settings, its
URLconf (a host page with the embed, and the endpoints under ``meshes/``) and the host
callables the tests name by dotted path. `conftest.pytest_configure` hands `SETTINGS` to
Django before pytest-django sets it up; pytest-django makes the test database."""

from __future__ import annotations

import os
import tempfile
from typing import Any

from django.core.cache.backends.base import InvalidCacheKey, memcache_key_warnings
from django.core.cache.backends.locmem import LocMemCache
from django.http import HttpRequest, HttpResponse
from django.template import RequestContext, Template
from django.urls import include, path

from meshes_bridge.server.service import MintPolicy

SETTINGS: dict[str, Any] = dict(
    DEBUG=False,
    SECRET_KEY="meshes-bridge-tests-" + "x" * 40,
    ALLOWED_HOSTS=["testserver"],
    USE_TZ=True,
    INSTALLED_APPS=[
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "django.contrib.staticfiles",
        "meshes_bridge.django",
    ],
    MIDDLEWARE=[
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
    ],
    ROOT_URLCONF=__name__,
    APPEND_SLASH=True,
    DATABASES={
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            # A file, not memory: the tests over real HTTP serve from other threads, which
            # must see the users and sessions the test made. pytest-django creates and
            # deletes it.
            "NAME": "unused",
            "TEST": {
                "NAME": os.path.join(tempfile.gettempdir(), f"meshes-bridge-{os.getpid()}.db")
            },
        }
    },
    DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],  # speed only
    CACHES={
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "meshes-bridge-tests",
        }
    },
    TEMPLATES=[
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
        }
    ],
    STATIC_URL="/static/",
    STATICFILES_FINDERS=[
        "django.contrib.staticfiles.finders.FileSystemFinder",
        "django.contrib.staticfiles.finders.AppDirectoriesFinder",
        "meshes_bridge.django.finders.MeshesBridgeFinder",
    ],
    # Flat settings, as projects wrote them before MESHES_BRIDGE: they still work, and the
    # `configured` fixture's MESHES_BRIDGE dict (pointing at the fake Meshes) wins over them.
    MESHES_ORG_ID="00000000-0000-4000-8000-000000000000",
    MESHES_ACCESS_KEY="placeholder",
    MESHES_SECRET_KEY="placeholder",
    MESHES_WORKSPACE_ID="00000000-0000-4000-8000-000000000001",
    MESHES_ALLOWED_ORIGINS=["http://testserver"],
)


def page(request: HttpRequest) -> HttpResponse:
    """A host page with the embed, as a project would render it."""
    html = Template('{% load meshes_bridge %}{% meshes_embed launch_page="connections" %}')
    return HttpResponse(html.render(RequestContext(request, {})))


urlpatterns = [
    path("page", page),
    path("meshes/", include("meshes_bridge.django.urls")),
]


def admin_policy(user: Any, request: Any) -> MintPolicy:
    """MESHES_BRIDGE_POLICY as a dotted path: a per-user policy."""
    return MintPolicy(role="admin" if user.username == "alice" else "member")


def email_key(user: Any) -> str:
    """MESHES_BRIDGE_USER_KEY as a dotted path: a key other than the primary key."""
    return f"user-{user.username}"


class MemcachedLikeCache(LocMemCache):
    """A LocMemCache refusing the keys memcached refuses, as Django's memcached backends
    do (`BaseMemcachedCache.validate_key`)."""

    def validate_key(self, key: str) -> None:
        for warning in memcache_key_warnings(key):
            raise InvalidCacheKey(warning)
