"""The session's requests to the host's backend: the mint, the refresh and the timings
report.

Each is a `Flight` (one request out at a time, its timeout, retries and budget). Here they
get their request ids, their URLs and CSRF pair from the config, and wait for their
budget: a mint past it says so in the console, a refresh past it (an iframe asking in a
loop) is reported once, until the loop calms down. What an answer means is the session's.
"""

from meshes_bridge.core import actions as act
from meshes_bridge.core.config import ContainerConfig
from meshes_bridge.core.flight import Flight
from meshes_bridge.core.inputs import EarlyMint
from meshes_bridge.core.limits import (
    BUDGET_WINDOW,
    MINT_BUDGET,
    MINT_TIMEOUT,
    REFRESH_BUDGET,
    REFRESH_TIMEOUT,
    REPORT_TIMEOUT,
)
from meshes_bridge.core.mint import is_same_request
from meshes_bridge.core.origins import quote_component
from meshes_bridge.core.outbox import Outbox
from meshes_bridge.core.reports import Reports
from meshes_bridge.core.timings import MINT_SENT, Timings
from meshes_bridge.core.transitions import StateError


class Backend:
    def __init__(self, out: Outbox, timings: Timings) -> None:
        self.mint = Flight(MINT_BUDGET, BUDGET_WINDOW, MINT_TIMEOUT)
        self.refresh = Flight(REFRESH_BUDGET, BUDGET_WINDOW, REFRESH_TIMEOUT)
        self.reports = Reports(REPORT_TIMEOUT)
        self._out = out
        self._timings = timings
        self._next_id = 0
        self._loop_reported = False

    def first_mint(self, early: "EarlyMint | None", config: ContainerConfig, now: float) -> None:
        """The session's first mint: the loader's early request carried on if it is the
        one the session would send, a new one otherwise."""
        if early is not None:
            if is_same_request(early, config):
                self._next_id += 1
                self.mint.send(self._next_id, now)
                self._timings.mark(MINT_SENT, now)
                self._out.add(act.AdoptEarlyMint(self._next_id))
                return
            self._out.add(act.DiscardEarlyMint())
            self._out.log("debug", "the loader's early mint request is not this one; minting again")
        self.start_mint(config, now)

    def start_mint(self, config: ContainerConfig, now: float) -> None:
        when = self.mint.wait_for_budget(now)
        if when > now:
            wait = str(int(when - now + 0.999))
            text = " sessions in " + str(int(BUDGET_WINDOW)) + " s; the next one in " + wait + " s"
            self._out.log("warn", "minted " + str(MINT_BUDGET) + text)
            return
        self._send(self.mint, act.StartMint, config.session_url, config.session_body, config, now)

    def want_refresh(self, session_id: "str | None", config: ContainerConfig, now: float) -> None:
        # Single flight: asks while a request (or its retry) is pending share its answer.
        if self.refresh.idle():
            self.start_refresh(session_id, config, now)

    def start_refresh(self, session_id: "str | None", config: ContainerConfig, now: float) -> None:
        if session_id is None:
            raise StateError("a refresh without a session")
        flight = self.refresh
        when = flight.wait_for_budget(now)
        if when > now:
            # An iframe asking in a loop: the backend gets at most the budget, the asks
            # meanwhile share the one refresh that waits for the next free slot.
            if not self._loop_reported:
                self._loop_reported = True
                limit = str(REFRESH_BUDGET) + " token refreshes within " + str(int(BUDGET_WINDOW))
                wait = " s; the next refresh waits " + str(int(when - now + 0.999)) + " s"
                self._out.report("refresh-loop", "the embed asked for more than " + limit + wait)
            return
        if flight.budget.used(now) < REFRESH_BUDGET // 2:
            self._loop_reported = False
        url = config.refresh_url.replace("{session_id}", quote_component(session_id))
        self._send(flight, act.StartRefresh, url, {}, config, now)

    def send_report(
        self, url: str, timings: "dict[str, object]", config: ContainerConfig, now: float
    ) -> None:
        """POST a mount's timings to data-timings-url (once; never retried)."""
        self._next_id += 1
        self.reports.send(self._next_id, now)
        self._out.add(
            act.PostTimings(self._next_id, url, timings, config.csrf_cookie, config.csrf_header)
        )

    def cancel(self) -> None:
        """Forget the mint and the refresh; the request out of each, if any, is aborted.
        The reports out are left to finish: each is about a mount that did authenticate."""
        for flight in (self.mint, self.refresh):
            request_id = flight.cancel()
            if request_id is not None:
                self._out.abort(request_id)

    def cancel_reports(self) -> None:
        """Forget the reports out, each aborted."""
        for request_id in self.reports.cancel():
            self._out.abort(request_id)

    def _send(
        self,
        flight: Flight,
        kind: "type[act.StartRequest]",
        url: str,
        body: "dict[str, object]",
        config: ContainerConfig,
        now: float,
    ) -> None:
        self._next_id += 1
        flight.send(self._next_id, now)
        if flight is self.mint:
            self._timings.mark(MINT_SENT, now)
        self._out.add(kind(self._next_id, url, body, config.csrf_cookie, config.csrf_header))
