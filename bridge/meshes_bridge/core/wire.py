"""The JS/Python wire, defined once: every name and number the loader and Python share.

`meshes-bridge static` writes these into the loader it builds (`const WIRE = {...}`, see
`meshes_bridge.assets.wire_constants`), so the JavaScript cannot drift from the Python;
tests/test_wire.py fails when the loader names or hard-codes anything else. The states,
events and error codes are the public host interface: a value here never changes.

Plain classes of constants, not enums: the core runs on MicroPython, which has no `enum`.
Each class lists its members in `ALL`, for checks.
"""

# Console lines of the loader and of Python alike start with this.
CONSOLE_PREFIX = "[meshes-bridge] "
# Every DOM event the bridge dispatches is this prefix and an Event name.
EVENT_PREFIX = "meshes-bridge:"
CONTAINER_SELECTOR = "[data-meshes-embed]"
STATE_ATTRIBUTE = "data-state"
# Marks the text a template helper puts in a container for a page whose loader never ran;
# the loader removes it once the embed is mounted or has failed.
FALLBACK_ATTRIBUTE = "data-meshes-fallback"
# A flag attribute (`data-debug`, ...) is on when present, unless it says one of these.
FALSE_WORDS = ("false", "0", "off", "no")
# The interpreters `data-runtime` may name; the first is the default.
MICROPYTHON = "micropython"
PYODIDE = "pyodide"
RUNTIMES = (MICROPYTHON, PYODIDE)


class State:
    """`data-state` on a container."""

    BOOTING = "booting"
    MINTING = "minting"
    MOUNTED = "mounted"
    AUTHENTICATED = "authenticated"
    REFRESHING = "refreshing"
    EXPIRED = "expired"
    ERROR = "error"
    ALL = (BOOTING, MINTING, MOUNTED, AUTHENTICATED, REFRESHING, EXPIRED, ERROR)
    # Still on the way to an authenticated embed: the loader holds PyScript's own setup
    # back while any container is in one of these.
    BUSY = (BOOTING, MINTING, MOUNTED)


class Event:
    """The DOM events, each dispatched as EVENT_PREFIX + name."""

    READY = "ready"
    AUTHENTICATED = "authenticated"
    NAVIGATE = "navigate"
    RESIZE = "resize"
    TOKEN_REFRESHED = "token-refreshed"
    TOKEN_EXPIRED = "token-expired"
    REJECTED = "rejected"
    ERROR = "error"
    TIMINGS = "timings"
    ALL = (
        READY,
        AUTHENTICATED,
        NAVIGATE,
        RESIZE,
        TOKEN_REFRESHED,
        TOKEN_EXPIRED,
        REJECTED,
        ERROR,
        TIMINGS,
    )


class ErrorCode:
    """`code` in a `meshes-bridge:error` event's detail (and `on_error`'s)."""

    BOOT = "boot"  # the loader: PyScript, the interpreter or the bridge's files did not load
    CONFIG = "config"  # the container's attributes are invalid
    MINT_FAILED = "mint-failed"  # the session endpoint failed, after retries
    MINT_INVALID = "mint-invalid"  # the session endpoint's answer is unusable
    LAUNCH_URL = "launch-url"  # launch_url is not https (or http on loopback)
    EMBED_ORIGIN = "embed-origin"  # launch_url's origin is not data-embed-origin
    READY_TIMEOUT = "ready-timeout"  # no meshes:ready in time; a fresh session follows
    REMOUNT_LIMIT = "remount-limit"  # fresh sessions never authenticated; given up
    REFRESH_FAILED = "refresh-failed"  # a refresh failed; a fresh session follows
    REFRESH_LOOP = "refresh-loop"  # the embed asks for refreshes past the budget
    HOOKS = "hooks"  # the data-hooks module did not load
    HOOK = "hook"  # a host hook raised
    INTERNAL = "internal"  # a bug in the bridge
    ALL = (
        BOOT,
        CONFIG,
        MINT_FAILED,
        MINT_INVALID,
        LAUNCH_URL,
        EMBED_ORIGIN,
        READY_TIMEOUT,
        REMOUNT_LIMIT,
        REFRESH_FAILED,
        REFRESH_LOOP,
        HOOKS,
        HOOK,
        INTERNAL,
    )


class Reason:
    """`reason` in a `meshes-bridge:rejected` event's detail."""

    ORIGIN = "origin"
    SOURCE = "source"
    TOO_LARGE = "too-large"
    SHAPE = "shape"
    UNKNOWN_TYPE = "unknown-type"
    ALL = (ORIGIN, SOURCE, TOO_LARGE, SHAPE, UNKNOWN_TYPE)


# -- The relay: window messages, handed to Python in batches --------------------------
#
# A batch is a JSON list of entries, oldest first; each entry a list:
#   [origin, slot, now, kind]                  kind NOT_OBJECT, TOO_LARGE, UNREADABLE, NO_TYPE
#   [origin, slot, now, TYPE, type]            a string `type` and nothing else read
#   [origin, slot, now, OBJECT, fields]        read in full
#   [origin, slot, now, OBJECT, fields, specials]
# `slot`: which watched iframe window sent it (NO_SLOT: none); `now`: performance.now() in
# seconds, the core's clock. Positional, with one-letter kinds: a flood is thousands of
# entries, and MicroPython's heap is small.


class Entry:
    """Positions in an entry."""

    ORIGIN = 0
    SLOT = 1
    NOW = 2
    KIND = 3
    FIELDS = 4  # OBJECT's fields, or TYPE's type
    SPECIALS = 5
    ALL = (ORIGIN, SLOT, NOW, KIND, FIELDS, SPECIALS)


NO_SLOT = -1


class Kind:
    """An entry's kind: how much of the message's data the relay read.

    The first three only for a message read in full (from a watched window, on the origin
    the core named for it: see the relay's `watch`), the last two only for any other."""

    OBJECT = "o"  # a plain object: its flat fields, and specials when it has any
    TOO_LARGE = "l"  # larger than MAX_MESSAGE_CHARS: not read
    UNREADABLE = "u"  # more than MAX_KEYS keys, or reading it threw
    NOT_OBJECT = "n"  # a string, number, array, null, Date, Blob...
    TYPE = "T"  # a string `type` of at most MAX_TYPE_CHARS, read alone
    NO_TYPE = "t"  # no such `type`
    ALL = (OBJECT, TOO_LARGE, UNREADABLE, NOT_OBJECT, TYPE, NO_TYPE)


class Special:
    """What `specials` says of a field JSON cannot carry."""

    NESTED = "nested"  # an object, an array, or a number past 2**53
    NAN = "nan"
    INF = "inf"
    NEG_INF = "-inf"
    ALL = (NESTED, NAN, INF, NEG_INF)


# The size of a message's data, counted as messages.message_size() does: reading stops
# past this, and the core counts again.
MAX_MESSAGE_CHARS = 16384
# What a value other than a string counts towards that size (a key or string: its length).
NON_STRING_CHARS = 8
MAX_FIELDS = 16
# More keys than this are not worth reading: the core takes at most MAX_FIELDS.
MAX_KEYS = MAX_FIELDS * 4
# The longest `type` read from a message not read in full (to say how loudly it is logged).
MAX_TYPE_CHARS = 64
# A batch: at most this many messages, or about this many characters (a task per batch
# stays short, and MicroPython's heap small); each entry counts ENTRY_CHARS besides its data.
BATCH_MESSAGES = 100
BATCH_CHARS = 65536
ENTRY_CHARS = 64

# -- Requests: the bridge's POSTs, run by the loader ----------------------------------
#
# The adapter hands the relay each request as the core specified it:
#   ticket = relay.request(answer, request_id, url, init)
# `url` as the core wrote it (the loader resolves it against the page's URL when it
# sends, as the core's same-origin check did), `init` the fetch options as JSON text
# (method, headers, body, credentials, cache); the loader adds only the abort signal.
# The loader's early mint, once the core adopts it, is followed the same way:
#   ticket = relay.adopt(record, answer, request_id)
# Either way the loader calls `answer` (one Python callable per container, kept for its
# lifetime) exactly once: answer(request_id, status, text), the HTTP status and the body's
# text, read at once; or `status` an Outcome and `text` "". Never after
# relay.abort(ticket): an abort the adapter asked for is no news. The loader reads
# nothing of the answer.


class Outcome:
    """`status` in a request's answer when there is no HTTP answer (never an HTTP status)."""

    NETWORK_ERROR = -1  # fetch or reading the body failed (offline, refused, cut short)
    BAD_URL = -2  # the URL does not resolve against the page's URL
    ALL = (NETWORK_ERROR, BAD_URL)


# Where the loader leaves what Python takes from it: `Symbol.for(key)` on globalThis.
# Symbols, not names: nothing of the host page's can collide with them.
LOADER_KEY = "meshes-bridge.loader"  # set by the copy of the loader that boots
RELAY_KEY = "meshes-bridge.relay"  # the message relay
EARLY_KEY = "meshes-bridge.early"  # the early mint records, each taken once
