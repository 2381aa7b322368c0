"""Run the FastAPI example under uvicorn: ``python serve.py --port 8000 [--host 127.0.0.1]``.

Configuration comes from the MESHES_* environment variables only (README.md here).
"""

import argparse
import logging
import sys

import uvicorn
from app import create_app  # app.py beside this file (the script's folder is on sys.path)

from meshes_bridge.fastapi import ConfigurationError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="meshes-bridge FastAPI example")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    # INFO to stderr: the bridge's own lines (mint, refresh refused, revoke) show up here.
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        app = create_app()
    except ConfigurationError as exc:
        print(f"serve.py: {exc}", file=sys.stderr)  # names the variables, never a value
        return 2
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
