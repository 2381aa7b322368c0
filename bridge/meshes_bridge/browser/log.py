"""Console output. Text reaching here has been redacted by the core already."""

import js

from meshes_bridge.core.wire import CONSOLE_PREFIX as PREFIX


class Console:
    def __init__(self, debug: bool) -> None:
        self.debug = debug

    def write(self, level: str, text: str) -> None:
        if level == "debug" and not self.debug:
            return
        if level == "error":
            js.console.error(PREFIX + text)
        elif level == "warn":
            js.console.warn(PREFIX + text)
        elif level == "debug":
            js.console.debug(PREFIX + text)
        else:
            js.console.info(PREFIX + text)
