"""Command line: `meshes-bridge static DIR`, `meshes-bridge dev` and `meshes-bridge doctor
URL` (also `python -m meshes_bridge ...`).

`static` exit codes: 0 written, 1 could not write (runtime files missing, DIR not ours, I/O
error), 2 bad usage. `dev` (meshes_bridge.dev): 0 stopped by Ctrl-C or SIGTERM, 1 could not
start, 2 bad usage or the [testing] extra missing. `doctor` (meshes_bridge.doctor): 0
healthy, 1 a problem, 2 bad usage or could not run, 3 warnings only.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from meshes_bridge import __version__, assets, dev
from meshes_bridge.doctor.command import add_doctor_parser, options_from_args
from meshes_bridge.doctor.options import UsageError

RUNTIME_CHOICES = (*assets.RUNTIMES, "all")

EPILOG = """\
The tree holds DIR/loader.js and everything it loads (the bridge's Python files,
PyScript, MicroPython, Pyodide, pyodide-http); serve DIR under any URL prefix and add
to a page:

  <script type="module" src="/static/meshes-bridge/loader.js"></script>

--runtime micropython writes about 2 MB (the default runtime of the script tag);
--runtime pyodide about 15 MB, for pages with data-runtime="pyodide"; all (the
default) both. A page that asks for a runtime the tree lacks ends in state "error"
(code "boot") with a console line saying which --runtime to write.

Every file but loader.js sits in a folder named after its content: serve them with
"Cache-Control: public, max-age=31536000, immutable", and loader.js with "no-cache".

exit codes: 0 written, 1 not written (the message says why), 2 bad usage
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="meshes-bridge",
        description="Browser-side bridge between a host page and the Meshes embed iframe.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    static = sub.add_parser(
        "static",
        help="write the self-contained browser asset tree into DIR",
        description=(
            "Write a complete, self-contained asset tree into DIR (like Django's "
            "collectstatic): DIR is created if needed, and an older tree written by "
            "meshes-bridge is replaced. A non-empty DIR that was not written by "
            "meshes-bridge (no .meshes-bridge marker) is refused. Needs no npm and no "
            "network: the runtime files ship inside the package."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    static.add_argument("dir", metavar="DIR", help="output directory")
    static.add_argument(
        "--runtime",
        choices=RUNTIME_CHOICES,
        default="all",
        metavar="micropython|pyodide|all",
        help="the Python runtime(s) the tree holds (default: all)",
    )
    static.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    add_dev_parser(sub)
    add_doctor_parser(sub)
    return parser


DEV_DESCRIPTION = """\
Run the fake Meshes for local development: the test kit's fake management API and
stub embed on loopback, with test keys. Prints the MESHES_* settings your app needs
(as shell exports; --env-file also writes them to a .env file), the origin it allowed,
and then what the fake sees (tokens redacted), until Ctrl-C or SIGTERM.
Not the real Meshes: nothing leaves your machine.
"""

DEV_EPILOG = f"""\
ports: the management API listens on 127.0.0.1:BASE and the stub embed on
127.0.0.1:BASE+1 (default {dev.DEFAULT_PORT} and {dev.DEFAULT_PORT + 1}), so the
settings stay valid across restarts. --port 0 picks free ports.

origin: the origin your app's pages are served from; the fake embed talks to it
only. The default, {dev.DEFAULT_ORIGIN}, is Django's runserver and uvicorn's
default; Flask's development server (flask run) uses port 5000:

  meshes-bridge dev --origin http://127.0.0.1:5000

Open the app with exactly that origin in the browser (127.0.0.1 and localhost are
different origins), or give both: --origin http://127.0.0.1:8000,http://localhost:8000

typical use, in one terminal:

  meshes-bridge dev --env-file .env

and in another, start your app with those settings (e.g. `set -a; . ./.env; set +a`,
or let python-dotenv / django-environ read .env).

needs the [testing] extra: {dev.INSTALL_HINT}

exit codes: 0 stopped (Ctrl-C, SIGTERM), 1 could not start (a port in use, FILE not
writable), 2 bad usage or the [testing] extra missing
"""


def add_dev_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "dev",
        help="run the fake Meshes (management API and embed) for local development",
        description=DEV_DESCRIPTION,
        epilog=DEV_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--origin",
        action="append",
        metavar="ORIGIN",
        help=f"your app's origin (default {dev.DEFAULT_ORIGIN}); repeat it or separate "
        "several with commas",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=dev.DEFAULT_PORT,
        metavar="BASE",
        help=f"the management API's port; the embed's is BASE+1 (default {dev.DEFAULT_PORT})",
    )
    parser.add_argument(
        "--env-file",
        metavar="FILE",
        help="also write the settings into FILE (.env format); its other lines are kept",
    )


def _static(dest: str, runtime: str, quiet: bool) -> int:
    runtimes = assets.RUNTIMES if runtime == "all" else (runtime,)
    try:
        written = assets.write_static(dest, runtimes=runtimes)
    except assets.AssetsError as e:
        print(f"meshes-bridge: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"meshes-bridge: error: cannot write {dest}: {e}", file=sys.stderr)
        return 1
    if not quiet:
        held = " and ".join(runtimes)
        print(f"meshes-bridge {__version__}: wrote {len(written)} files to {dest} ({held})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "static":
        return _static(args.dir, args.runtime, args.quiet)
    if args.command == "dev":
        return dev.run(args.origin, args.port, args.env_file)
    if args.command == "doctor":
        from meshes_bridge.doctor.report import EXIT_USAGE
        from meshes_bridge.doctor.run import run

        try:
            options = options_from_args(args)
        except UsageError as exc:
            print(f"meshes-bridge doctor: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        return run(options)
    return 2  # unreachable: argparse requires a known command


if __name__ == "__main__":
    sys.exit(main())
