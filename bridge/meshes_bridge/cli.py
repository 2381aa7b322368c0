"""Command line: `meshes-bridge static DIR` (also `python -m meshes_bridge static DIR`).

Exit codes: 0 written, 1 could not write (runtime files missing, DIR not ours, I/O
error), 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from meshes_bridge import __version__, assets

EPILOG = """\
The tree holds DIR/loader.js and everything it loads (the bridge's Python files,
PyScript, MicroPython, Pyodide, pyodide-http); serve DIR under any URL prefix and add
to a page:

  <script type="module" src="/static/meshes-bridge/loader.js"></script>

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
    static.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    return parser


def _static(dest: str, quiet: bool) -> int:
    try:
        written = assets.write_static(dest)
    except assets.AssetsError as e:
        print(f"meshes-bridge: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"meshes-bridge: error: cannot write {dest}: {e}", file=sys.stderr)
        return 1
    if not quiet:
        print(f"meshes-bridge {__version__}: wrote {len(written)} files to {dest}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "static":
        return _static(args.dir, args.quiet)
    return 2  # unreachable: argparse requires a known command


if __name__ == "__main__":
    sys.exit(main())
