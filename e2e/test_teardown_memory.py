"""A container taken out of the page is freed: mounting and unmounting for hours must not
grow the page.

On MicroPython a torn-down container once stayed in memory for good, element and machine
with it: its callbacks (create_proxy) and the Python object holding them kept each other
alive across the two heaps, where neither garbage collector could see the whole loop. The
figure that shows it without reaching into the interpreter is Blink's own count of live DOM
nodes after garbage collection: the old container (and what it held) is five nodes.

MicroPython only: on Pyodide proxies are destroyed on teardown, and what is left is
reclaimed by Python's cycle collector whenever it next runs.
"""

from __future__ import annotations

import pytest

from e2e.harness import HostPage

# Enough for MicroPython's own collector to have run (it runs when its heap fills up): with
# the leak, 200 cycles grew the page by 1,200 nodes (6 a cycle); without it, by none.
CYCLES = 200
WARM_UP = 5
MAX_GROWTH = CYCLES  # one node a cycle: room for what the next collection will free

# Replaces the container with a fresh copy of itself: the old one is torn down, the new
# one mints and mounts (the same as an htmx swap of the whole container).
REMOUNT = """(id) => {
  const old = document.getElementById(id);
  const fresh = document.createElement("div");
  for (const attr of old.attributes) {
    if (attr.name !== "data-state") fresh.setAttribute(attr.name, attr.value);
  }
  old.replaceWith(fresh);
}"""


def _remount(host: HostPage, count: int) -> None:
    for _ in range(count):
        host.page.evaluate(REMOUNT, "embed-1")
        host.wait_authenticated()


def test_containers_taken_out_of_the_page_are_freed(host: HostPage) -> None:
    if host.runtime != "micropython":
        pytest.skip("the leak was MicroPython's (see the module docstring)")
    host.open()
    host.wait_authenticated()
    cdp = host.page.context.new_cdp_session(host.page)

    def live_nodes() -> int:
        for _ in range(2):  # a second pass frees what the first one's finalizers let go
            cdp.send("HeapProfiler.collectGarbage")
            # FinalizationRegistry callbacks run as tasks of their own: let them.
            host.page.evaluate("() => new Promise((done) => setTimeout(done, 0))")
        return int(cdp.send("Memory.getDOMCounters")["nodes"])

    _remount(host, WARM_UP)
    before = live_nodes()
    _remount(host, CYCLES)
    after = live_nodes()
    assert after - before <= MAX_GROWTH, (before, after)
    assert host.container().get_attribute("data-state") == "authenticated"
    assert len(host.servers.backend.calls("mint")) == 1 + WARM_UP + CYCLES
    assert host.errors == []
