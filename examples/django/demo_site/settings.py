"""Settings of the example: a minimal project plus the four meshes-bridge lines.

The MESHES_* values come from the environment (the adapter reads it; a Django setting of
the same name would win). serve.py sets DEMO_DATABASE and DEMO_ALLOWED_HOST.
"""

import os
import secrets
import tempfile
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent

# A fresh key per start: sessions do not outlive the process, nor does the database.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50)
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", os.environ.get("DEMO_ALLOWED_HOST", "127.0.0.1")]

# --8<-- [start:apps]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "meshes_bridge.django",  # (1) the app: endpoints, template tag, checks, logout revoke
]
# --8<-- [end:apps]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",  # the bridge sends X-CSRFToken
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# --8<-- [start:coop]
# The embed may open OAuth setup in a popup that reports back to its opener: Django's
# default COOP (same-origin) would cut it off (meshes_bridge.W003).
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin-allow-popups"
# --8<-- [end:coop]

ROOT_URLCONF = "demo_site.urls"  # (2) path("meshes/", include("meshes_bridge.django.urls"))

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DEMO_DATABASE")
        or str(Path(tempfile.gettempdir()) / "meshes-django-example.sqlite3"),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGIN_URL = "/login"
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = os.environ.get("DEMO_STATIC_ROOT")  # for `collectstatic` in a deployment
# --8<-- [start:finders]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "meshes_bridge.django.finders.MeshesBridgeFinder",  # (3) static "meshes-bridge/..."
]
# --8<-- [end:finders]

# --8<-- [start:cache]
# (4) Bindings and rate limits live in Django's cache: Redis when MESHES_BRIDGE_REDIS_URL is
# set (shared by every process), else this process's memory, fine for one runserver.
if os.environ.get("MESHES_BRIDGE_REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["MESHES_BRIDGE_REDIS_URL"],
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    SILENCED_SYSTEM_CHECKS = ["meshes_bridge.W001"]  # one process: nothing to share
# --8<-- [end:cache]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
            "formatter": "plain",
        }
    },
    "root": {"handlers": ["stderr"], "level": "INFO"},
    "loggers": {"django.server": {"handlers": ["stderr"], "level": "INFO", "propagate": False}},
}
