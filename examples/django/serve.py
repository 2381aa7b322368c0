"""Run the example under Django's runserver: ``python examples/django/serve.py --port 8000``.

Configured by the MESHES_* environment variables (README.md). Each start gets a fresh
SQLite database in a temporary directory: migrations run, the demo users alice and bob
(password ``demo-password``) are created, then ``runserver --noreload --insecure`` serves
(DEBUG is off; ``--insecure`` lets runserver serve the static files, the asset tree
included). Logs at INFO to stderr.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
from pathlib import Path
from types import FrameType

HERE = Path(__file__).resolve().parent
DEMO_USERS = ("alice", "bob")
DEMO_PASSWORD = "demo-password"


def _exit_on_term(_signum: int, _frame: FrameType | None) -> None:
    sys.exit(0)  # unwinds the `with` below, so the temporary database is removed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The meshes-bridge Django example")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(HERE))  # the demo_site package
    os.environ["DJANGO_SETTINGS_MODULE"] = "demo_site.settings"
    os.environ["DEMO_ALLOWED_HOST"] = args.host
    signal.signal(signal.SIGTERM, _exit_on_term)

    with tempfile.TemporaryDirectory(prefix="meshes-django-example-") as data:
        os.environ["DEMO_DATABASE"] = str(Path(data) / "db.sqlite3")

        import django
        from django.core.management import call_command
        from django.core.management.base import SystemCheckError

        django.setup()
        # The system checks run once, with runserver below.
        # --8<-- [start:users]
        call_command("migrate", interactive=False, verbosity=0, skip_checks=True)

        from django.contrib.auth import get_user_model

        for name in DEMO_USERS:
            get_user_model().objects.create_user(name, password=DEMO_PASSWORD)
        # --8<-- [end:users]

        # call_command() skips the system checks unless told otherwise: run them, so a
        # missing MESHES_* variable stops the start with meshes_bridge.E001 naming it.
        try:
            call_command(
                "runserver",
                "--noreload",
                "--insecure",
                f"{args.host}:{args.port}",
                skip_checks=False,
            )
        except SystemCheckError as exc:  # the checks' report, without a traceback
            sys.exit(str(exc))


if __name__ == "__main__":
    main()
