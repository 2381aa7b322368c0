"""The `doctor` subcommand's arguments (argparse), for `meshes-bridge doctor`."""

from __future__ import annotations

import argparse
from typing import Any

from meshes_bridge.doctor.options import (
    DEFAULT_TIMEOUT,
    INSTALL_HINT,
    RUNTIMES,
    DoctorOptions,
    parse_cookie,
)

DESCRIPTION = """\
Open URL (a page of your app with the embed) in headless Chromium and report what is
wrong with each container's integration, in this order: the asset tree (loader.js and
every file it loads), the Content-Security-Policy, the Cross-Origin-Opener-Policy, each
container's states with their times, the mint and refresh requests, rejected messages,
console errors and uncaught exceptions, and a token-hygiene scan; each with a verdict
(ok / warning / problem) and, for a problem, the fix. The report never holds a token, a
launch URL, a JWT or a secret: it is safe to paste into a support ticket.
"""

EPILOG = f"""\
logging in: a login form (--login-url, --username, --password together), a Playwright
storage-state file (--storage-state), or cookies (--cookie NAME=VALUE, repeatable).

Chromium: Debian's /usr/bin/chromium or Playwright's own, whichever is there
(MESHES_BRIDGE_CHROMIUM names another). Needs Playwright: {INSTALL_HINT}

Progress goes to stderr; the report to stdout (--json: as JSON, schema in the docs);
--html FILE also writes a self-contained page with the timeline as a waterfall.

exit codes: 0 every container authenticated and no problem or warning; 1 a problem,
or a container that did not authenticate; 2 bad usage or the doctor could not run
(no Playwright, no Chromium); 3 every container authenticated, with warnings
"""


def add_doctor_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "doctor",
        help="open a page in headless Chromium and report what is wrong with its embeds",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("url", metavar="URL", help="the page with the embed")
    parser.add_argument("--login-url", metavar="URL", help="the login form's page")
    parser.add_argument("--username", metavar="U", help="the user name to log in with")
    parser.add_argument("--password", metavar="P", help="the password (never printed)")
    parser.add_argument(
        "--storage-state", metavar="FILE", help="a Playwright storage-state JSON file"
    )
    parser.add_argument(
        "--cookie",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a cookie for URL's origin (repeatable; never printed)",
    )
    parser.add_argument(
        "--runtime",
        choices=RUNTIMES,
        metavar="R",
        help="run the page on this runtime (micropython or pyodide) whatever its script tag says",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="S",
        help=f"give up waiting after S seconds (default {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument("--json", action="store_true", help="the report as JSON, for CI")
    parser.add_argument(
        "--html", metavar="FILE", help="also write the report as a self-contained HTML page"
    )


def options_from_args(args: argparse.Namespace) -> DoctorOptions:
    return DoctorOptions(
        url=args.url,
        login_url=args.login_url,
        username=args.username,
        password=args.password,
        storage_state=args.storage_state,
        cookies=[parse_cookie(text) for text in args.cookie],
        runtime=args.runtime,
        timeout=args.timeout,
        json=args.json,
        html=args.html,
    )
