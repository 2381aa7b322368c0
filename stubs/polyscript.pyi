"""PyScript's polyscript module: only `config`, the page's config (a JS object, read by
the adapter through JSON.stringify)."""

from typing import Any

config: Any
