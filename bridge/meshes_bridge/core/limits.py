"""How long, how often and how many times the session may do things, per container.

Each bound keeps a misbehaving iframe or backend from turning into a flood: of requests,
of fresh sessions, of console lines.
"""

MINT_TIMEOUT = 15.0
REFRESH_TIMEOUT = 10.0
# A host's timings collector that hangs must not keep a request open for good.
REPORT_TIMEOUT = 10.0
# Fresh sessions minted in a row without the iframe ever authenticating; then give up.
MAX_REMOUNTS = 3
# Backend requests per container, whatever asks for them (retries included), within any
# BUDGET_WINDOW seconds; past it a request waits for a free slot. Across iframe swaps
# too: the machine outlives its iframe.
BUDGET_WINDOW = 60.0
MINT_BUDGET = 5
REFRESH_BUDGET = 6
# Console lines for rejected messages per container within BUDGET_WINDOW (see rejections).
REJECTION_LOG_BUDGET = 25
