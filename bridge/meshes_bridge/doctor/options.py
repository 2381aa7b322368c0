"""The doctor's options, as `meshes-bridge doctor` and `flask meshes doctor` take them."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_TIMEOUT = 60.0
INSTALL_HINT = 'pip install "meshes-bridge[doctor]"'
RUNTIMES = ("micropython", "pyodide")


class UsageError(ValueError):
    """Bad options; the message says which and what to write instead (exit 2)."""


@dataclass
class DoctorOptions:
    url: str
    login_url: str | None = None
    username: str | None = None
    password: str | None = None
    storage_state: str | None = None
    cookies: list[tuple[str, str]] = field(default_factory=list)
    runtime: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    json: bool = False
    html: str | None = None
    chromium: str | None = None  # an explicit executable (MESHES_BRIDGE_CHROMIUM also works)
    progress: bool = True

    def check(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise UsageError(f"URL must start with http:// or https:// (got {self.url!r})")
        given = [self.login_url, self.username, self.password]
        if any(v is not None for v in given) and not all(v is not None for v in given):
            raise UsageError("--login-url, --username and --password go together")
        if self.runtime is not None and self.runtime not in RUNTIMES:
            raise UsageError(f"--runtime must be one of {', '.join(RUNTIMES)}")
        if self.timeout <= 0:
            raise UsageError("--timeout must be a positive number of seconds")


def parse_cookie(text: str) -> tuple[str, str]:
    """``NAME=VALUE`` as a pair; UsageError otherwise (the value is never repeated)."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise UsageError("--cookie takes NAME=VALUE")
    return name.strip(), value
