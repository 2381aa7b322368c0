"""Entry point: called once by the loader's main.py, once the interpreter is up."""

import asyncio
import json

import js

from meshes_bridge.browser import ffi
from meshes_bridge.browser.embed import BrowserEmbed
from meshes_bridge.browser.hooks import Hooks, load_hooks
from meshes_bridge.browser.log import Console
from meshes_bridge.core import inputs as inp
from meshes_bridge.core.config import LoaderOptions, parse_loader_options
from meshes_bridge.core.wire import CONTAINER_SELECTOR, EVENT_PREFIX, Entry, ErrorCode, Event

SELECTOR = CONTAINER_SELECTOR
# Read once per message: module names, not class attributes (MicroPython looks up less).
_ORIGIN = Entry.ORIGIN
_SLOT = Entry.SLOT
_NOW = Entry.NOW


class Bridge:
    """Every container on the page, one window message listener, one DOM observer."""

    def __init__(self, options: LoaderOptions, console: Console) -> None:
        self.options = options
        self.console = console
        self.hooks: Hooks | None = None
        self.embeds: list[BrowserEmbed] = []
        self._on_batch = ffi.create_proxy(self._batch)
        self._on_mutation = ffi.create_proxy(self._mutated)
        self._observer: js.MutationObserver | None = None
        # The loader's stamps, for the containers of the first scan only: a container
        # added later was not waiting for the runtime.
        self._boot: inp.BootTimes | None = ffi.boot_times()

    def listen(self) -> None:
        # Before any container mints: no meshes:ready may arrive unheard. Through the
        # loader's relay, which hands Python the messages in batches (one call, not one
        # per message) and before any other input (pump).
        ffi.listen(self._on_batch)

    def pump(self) -> None:
        """Handle every message the relay holds: called before any other input, so that
        the core sees inputs in the order they happened."""
        # A batch at a time: a flood's backlog is never one JSON text in MicroPython's heap.
        text = ffi.take_messages()
        while text:
            self._batch(text)
            text = ffi.take_messages()

    def watch(self) -> None:
        self._observer = js.MutationObserver.new(self._on_mutation)
        # Attributes too: an element may become a container (or stop being one) in place.
        options: dict[str, object] = {"childList": True, "subtree": True, "attributes": True}
        options["attributeFilter"] = ["data-meshes-embed"]
        self._observer.observe(js.document.documentElement, ffi.to_plain(options))
        self.reconcile()

    def reconcile(self) -> None:
        """Mount containers new to the document, tear down the ones that left it, and tell
        a container whose iframe was taken out from under it (an htmx swap, a DOM morph)."""
        self.pump()  # messages that came before this change of the page, first
        kept = []
        for embed in self.embeds:
            if not embed.present():
                embed.teardown()
                continue
            kept.append(embed)
            if embed.iframe_lost():
                # The same machine carries on: its remount cap and mint budget hold.
                embed.feed(inp.IframeLost())
        self.embeds = kept
        boot = self._boot
        self._boot = None
        for element in js.document.querySelectorAll(SELECTOR):
            if not self._known(element):
                embed = BrowserEmbed(
                    element,
                    self.options.debug,
                    self.console,
                    self.hooks,
                    self.pump,
                    self.options.timings_url,
                    boot,
                )
                self.embeds.append(embed)
                embed.start()

    def _known(self, element: object) -> bool:
        for embed in self.embeds:
            if ffi.same_object(embed.element, element):
                return True
        return False

    def _mutated(self, *args: object) -> None:
        try:
            self.reconcile()
        except Exception as exc:
            self.console.write(
                "error", "internal error while scanning the page: " + type(exc).__name__
            )

    def _batch(self, text: str) -> None:
        """Messages from the relay: a JSON list of entries (core/wire.py, "The relay")."""
        try:
            entries = json.loads(str(text))
        except Exception as exc:  # MemoryError above all: MicroPython's heap is small
            self.console.write("error", "internal error on messages: " + type(exc).__name__)
            return
        for entry in entries:
            try:
                self._message(entry)
            except Exception as exc:
                self.console.write("error", "internal error on a message: " + type(exc).__name__)
        # The timers once per batch, not once per message: none can fire before this
        # returns, and a storm's messages mostly leave the deadlines as they were.
        for embed in list(self.embeds):
            embed.schedule_timer()

    def _message(self, entry: "list[object]") -> None:
        """One window message, as the relay saw it: its origin, the slot of the watched
        iframe window that sent it (-1: none did), when (seconds on the core's clock) and
        its data (see ffi.message_data)."""
        origin = str(entry[_ORIGIN])
        # A number at each of these places: the relay's layout, which mypy cannot see.
        slot: int = entry[_SLOT]  # type: ignore[assignment]
        now = float(entry[_NOW])  # type: ignore[arg-type]
        data = ffi.message_data(entry)
        owner = None
        if slot >= 0:
            for embed in self.embeds:
                if embed.slot == slot:
                    owner = embed
                    break
        if owner is not None:
            # Another container's iframe is not a stranger: only its owner hears it.
            owner.feed(inp.MessageReceived(origin, True, data), now)
            return
        for embed in list(self.embeds):
            embed.feed(inp.MessageReceived(origin, False, data), now)


def _loader_config() -> "dict[str, object]":
    import polyscript

    config = json.loads(str(js.JSON.stringify(polyscript.config)))
    if not isinstance(config, dict):
        return {}
    bridge = config.get("meshes_bridge")
    return bridge if isinstance(bridge, dict) else {}


def _patch_http(console: Console) -> None:
    if ffi.RUNTIME != "pyodide":
        return
    try:
        import pyodide_http

        pyodide_http.patch_all()
    except Exception as exc:
        console.write("warn", "pyodide-http could not be patched in: " + type(exc).__name__)


def _report_to_all(bridge: Bridge, code: str, message: str) -> None:
    bridge.console.write("error", code + ": " + message)
    for element in js.document.querySelectorAll(SELECTOR):
        ffi.dispatch(element, EVENT_PREFIX + Event.ERROR, {"code": code, "message": message})


async def _load_hooks(bridge: Bridge, url: str) -> None:
    # pyodide-http first, so hook code may use urllib at import time. Only with hooks:
    # importing it pulls in urllib, http.client and email (a third of a second).
    _patch_http(bridge.console)
    try:
        namespace = await load_hooks(url)
        bridge.hooks = Hooks(
            namespace,
            lambda handle, code, message: handle._embed.report_hook_error(code, message),
        )
    except BaseException as exc:  # even SystemExit: the containers must still mount
        text = str(exc) if type(exc).__name__ == "HookError" else type(exc).__name__
        _report_to_all(bridge, ErrorCode.HOOKS, "hooks module not loaded: " + text)
    _watch(bridge)


def _watch(bridge: Bridge) -> None:
    try:
        bridge.watch()
    except Exception as exc:
        bridge.console.write("error", "internal error while starting: " + type(exc).__name__)


def boot() -> Bridge:
    options = parse_loader_options(_loader_config())
    console = Console(options.debug)
    for warning in options.warnings:
        console.write("warn", warning)
    bridge = Bridge(options, console)
    bridge.listen()
    if options.hooks is None:
        _watch(bridge)  # nothing to wait for: mount now
    else:
        # The containers mount once the hooks are in.
        asyncio.create_task(_load_hooks(bridge, options.hooks))
    return bridge
