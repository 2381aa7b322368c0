"""The embed's states and the one table of its moves (in the manner of h11's `_state.py`).

The table is the drawing DRAWING below, read into TABLE at import: what runs is what is
drawn. (A drawing here in the docstring could drift, and MicroPython drops docstrings.)
Each cell says where an input leaves the embed, by the state it arrives in:

    a state     the move; `authed` is authenticated, `refresh` refreshing
    .           stays, and the input still acts
    -           dropped: nothing happens
    (blank)     cannot happen: a bug, and the machine fails safe (error `internal`)

A cell `authed` is the token posted to the iframe (`ready` in expired posts nothing: that
token is spent, and the refresh brings the next). `refreshed` is a refresh answered while
the iframe's document has said ready, `refreshed-unready` one answered before it has.
`lost`, `ready-timeout` and `refresh-failed` mint a fresh session; past MAX_REMOUNTS in a
row, that is `fail` instead.

Inputs that act the same in every state with an iframe (resize, navigate, the animation
frame, a rejected message, a stale HTTP answer, a retry, teardown) move nothing and are
not in the table.
"""

from meshes_bridge.core.wire import State

BOOTING = State.BOOTING
MINTING = State.MINTING
MOUNTED = State.MOUNTED
AUTHENTICATED = State.AUTHENTICATED
REFRESHING = State.REFRESHING
EXPIRED = State.EXPIRED
ERROR = State.ERROR

START = "start"
MINTED = "minted"
READY = "ready"
REFRESH_ASKED = "refresh-asked"
TOKEN_EXPIRED = "token-expired"
REFRESHED = "refreshed"
REFRESHED_UNREADY = "refreshed-unready"
REFRESH_FAILED = "refresh-failed"
LOADED = "loaded"
LOST = "lost"
READY_TIMEOUT = "ready-timeout"
FAIL = "fail"
INPUTS = (
    START,
    MINTED,
    READY,
    REFRESH_ASKED,
    TOKEN_EXPIRED,
    REFRESHED,
    REFRESHED_UNREADY,
    REFRESH_FAILED,
    LOADED,
    LOST,
    READY_TIMEOUT,
    FAIL,
)

# A cell's value for an input the embed drops in that state.
DROPPED = "-"

DRAWING = """
                   booting  minting  mounted  authed   refresh  expired  error
start              minting  -        -        -        -        -        -
minted                      mounted
ready                                authed   authed   authed   .
refresh-asked                        refresh  refresh  .        .
token-expired                        expired  expired  expired  .
refreshed                                     authed   authed   authed
refreshed-unready                             mounted  mounted  mounted
refresh-failed                                minting  minting  minting
loaded             -        -        .        .        .        .        -
lost               -        -        minting  minting  minting  minting  -
ready-timeout                        minting  minting  minting  minting
fail               error    error    error    error    error    error
"""


class StateError(RuntimeError):
    """An input the table has no cell for in the current state: a bug."""


def read_drawing(drawing: str) -> "dict[str, dict[str, str]]":
    """The table a drawing shows: state -> input -> next state (or DROPPED). Nested, so
    that a lookup builds no key tuple."""
    names = {"authed": AUTHENTICATED, "refresh": REFRESHING, DROPPED: DROPPED}
    for state in State.ALL:
        names[state] = state
    lines = drawing.strip("\n").split("\n")
    header = lines[0]
    columns = [names[word] for word in header.split()]
    starts = [i for i in range(1, len(header)) if header[i] != " " and header[i - 1] == " "]
    table: dict[str, dict[str, str]] = {}
    for state in columns:
        table[state] = {}
    for line in lines[1:]:
        kind = line[: starts[0]].strip()
        if kind not in INPUTS:
            raise ValueError("not an input: " + kind)
        for i in range(len(columns)):
            end = starts[i + 1] if i + 1 < len(starts) else len(line)
            cell = line[starts[i] : end].strip()
            if cell == ".":
                table[columns[i]][kind] = columns[i]
            elif cell:
                table[columns[i]][kind] = names[cell]  # a KeyError for a misspelt cell
    return table


TABLE = read_drawing(DRAWING)


def next_state(table: "dict[str, dict[str, str]]", state: str, kind: str) -> str:
    """The table's cell for `kind` in `state` (a state, or DROPPED); StateError if none."""
    target = table[state].get(kind)
    if target is None:
        raise StateError("no move for " + kind + " in " + state)
    return target
