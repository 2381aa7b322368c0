"""When each step towards an authenticated embed happened: the `timings` event (host
interface 6), once per mount, at its first `meshes:auth`.

The stamps are the bridge's progress on the way to that auth, in the order of `STEPS`, so
that each is at or after the one before and the gaps between them add up to the time the
host waited (what a monitoring chart stacks):

- `loader`, `runtime_ready`: when loader.js began and when the interpreter was up (the
  loader's own stamps, handed over at Start). Only a container found when the bridge
  started has them: a remount, or a container added later, is None for both.
- `mint_sent`: the mount's first mint request went out (retries do not move it). The
  loader's early mint, sent while the runtime booted, counts from when the bridge took it
  over: what the mint cost after the runtime was up is what the host waited for it.
- `mint_answered`: the answer that minted the session reached the bridge.
- `iframe_created`: the iframe was put in the page.
- `iframe_loaded`: its document loaded: the `load` event, or its `meshes:ready` when that
  came first (a document that speaks has run its script; `load` may wait for images).
- `ready`, `auth`: the `meshes:ready` that led to the first `meshes:auth`, and that auth.

Seconds on the core's clock (performance.now() / 1000) in, milliseconds out.
"""

LOADER = "loader"
RUNTIME_READY = "runtime_ready"
MINT_SENT = "mint_sent"
MINT_ANSWERED = "mint_answered"
IFRAME_CREATED = "iframe_created"
IFRAME_LOADED = "iframe_loaded"
READY = "ready"
AUTH = "auth"
STEPS = (
    LOADER,
    RUNTIME_READY,
    MINT_SENT,
    MINT_ANSWERED,
    IFRAME_CREATED,
    IFRAME_LOADED,
    READY,
    AUTH,
)
# The detail's key for the interpreter's name (not a step: never None on a page).
RUNTIME = "runtime"


class Timings:
    """One embed's stamps for its current mount."""

    def __init__(self, runtime: "str | None" = None) -> None:
        self.runtime = runtime
        self._stamps: dict[str, float] = {}
        self._reported = False  # this mount's timings have gone out

    def boot(self, loader: "float | None", runtime_ready: "float | None") -> None:
        """The loader's stamps (seconds), for the first mount of a container found at boot."""
        if loader is not None:
            self._stamps[LOADER] = loader
        if runtime_ready is not None:
            self._stamps[RUNTIME_READY] = runtime_ready

    def mark(self, step: str, now: float) -> None:
        """`step` happened at `now`; only its first time in a mount counts."""
        if not self._reported and step not in self._stamps:
            self._stamps[step] = now

    def mount_again(self) -> None:
        """A fresh session and iframe: their steps count anew; the boot's are gone."""
        self._stamps = {}
        self._reported = False

    def authenticated(self, now: float) -> "dict[str, object] | None":
        """The mount's auth was posted at `now`: its timings (the event's detail), the first
        time only, else None."""
        if self._reported:
            return None
        self.mark(AUTH, now)
        self._reported = True
        stamps = self._stamps
        ready = stamps.get(READY)
        loaded = stamps.get(IFRAME_LOADED)
        if ready is not None and (loaded is None or ready < loaded):
            stamps[IFRAME_LOADED] = ready
        detail: dict[str, object] = {RUNTIME: self.runtime}
        last = None
        for step in STEPS:
            at = stamps.get(step)
            if at is None:
                detail[step] = None
                continue
            # Every stamp is a now the core was given on the one clock, in order; kept in
            # order here all the same, since the host is promised it.
            if last is not None and at < last:
                at = last
            last = at
            detail[step] = round(at * 1000.0, 3)
        return detail
