"""`meshes-bridge doctor URL`: open the host's page in headless Chromium and report what
is wrong with each container's integration, with the fix for each problem.

The parts: `options` (what the command line takes), `browser` (which Chromium, logging
in), `session` (the run: the probe in `probe.js`, the network, the stop rules),
`observe` (what was seen), `checks/` (one module per report section), `report` (the
model and the exit code), `render_text`, `render_html` and `schema.json` (the JSON
form). Nothing printed or written holds a token, a launch URL, a JWT or a secret:
`redaction` learns the credentials the page was given and scrubs every string.

Exit codes: 0 every container authenticated and nothing to report; 1 a problem (or a
container that did not authenticate); 2 bad usage, or the doctor could not run
(no Playwright, no Chromium); 3 every container authenticated, with warnings.
"""

from meshes_bridge.doctor.options import DoctorOptions, UsageError, parse_cookie
from meshes_bridge.doctor.report import EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, EXIT_WARNING
from meshes_bridge.doctor.run import report_data, run

__all__ = [
    "EXIT_OK",
    "EXIT_PROBLEM",
    "EXIT_USAGE",
    "EXIT_WARNING",
    "DoctorOptions",
    "UsageError",
    "parse_cookie",
    "report_data",
    "run",
]
