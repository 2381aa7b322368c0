"""How this app starts under test: the kit's `meshes_app` runs it against the fake Meshes.

As a Django project does it: a throwaway database, migrated and given the users the tests
log in as (`meshes_app_setup`), then `runserver` (`meshes_app_command`), every command
with the same environment. In a project with a manage.py, the commands are
`python manage.py ...` and its settings read the database path (here DEMO_DATABASE) from
wherever they read it.
"""

import os
from pathlib import Path

import pytest

SITE = Path(__file__).resolve().parents[1]  # holds the demo_site package
CREATE_USERS = (
    "from django.contrib.auth import get_user_model\n"
    "for name in ('alice', 'bob'):\n"
    "    get_user_model().objects.create_user(name, password='demo-password')"
)


@pytest.fixture(scope="session")
def meshes_app_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "demo_site.settings",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(SITE), os.environ.get("PYTHONPATH")])),
        "DEMO_DATABASE": str(tmp_path_factory.mktemp("django") / "db.sqlite3"),
    }


@pytest.fixture(scope="session")
def meshes_app_setup() -> list[list[str]]:
    return [
        ["python", "-m", "django", "migrate", "--noinput"],
        ["python", "-m", "django", "shell", "--command", CREATE_USERS],
    ]


@pytest.fixture(scope="session")
def meshes_app_command() -> list[str]:
    # --insecure: DEBUG is off, and runserver then serves the static files only when told.
    return ["python", "-m", "django", "runserver", "--noreload", "--insecure", "127.0.0.1:{port}"]
