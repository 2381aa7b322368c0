"""Run the example under Werkzeug: ``python examples/flask/serve.py --port 8000``.

Configured by the MESHES_* environment variables (README.md); logs at INFO to stderr.
"""

from __future__ import annotations

import argparse
import logging
import sys

from app import create_app  # examples/flask/ is on sys.path when this file is run
from werkzeug.serving import run_simple

from meshes_bridge.flask import ConfigurationError


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The meshes-bridge Flask example")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    try:
        app = create_app()
    except ConfigurationError as exc:  # one line naming the missing variables, no traceback
        sys.exit(str(exc))
    run_simple(args.host, args.port, app, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
