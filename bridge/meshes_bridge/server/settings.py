"""Configuration of the server half: the `MESHES_*` environment, each value settable in code.

    settings = MeshesSettings.from_env()                       # the environment
    settings = MeshesSettings.from_env(mint_limit=5)           # the environment, one override
    settings = MeshesSettings(org_id=..., access_key=..., ...) # all in code

`from_env` and the constructor validate at once and raise `ConfigurationError` naming every
missing or bad variable, so a misconfigured app fails at start-up, never at the first
request. The secret key is kept out of `repr()` and of every error message.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from meshes_bridge.core.origins import (
    OriginError,
    check_embed_origin,
    parse_origin,
    parse_origin_only,
    split_url,
)

DEFAULT_API_URL = "https://api.meshes.io"
DEFAULT_EMBED_ORIGIN = "https://embed.meshes.io"
DEFAULT_MINT_LIMIT = 10
DEFAULT_REFRESH_LIMIT = 30
MAX_ALLOWED_ORIGINS = 10  # Meshes accepts up to 10 `allowed_origins`

_UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)

#: Field name -> environment variable.
ENVIRONMENT = {
    "org_id": "MESHES_ORG_ID",
    "access_key": "MESHES_ACCESS_KEY",
    "secret_key": "MESHES_SECRET_KEY",
    "workspace_id": "MESHES_WORKSPACE_ID",
    "api_url": "MESHES_API_URL",
    "embed_origin": "MESHES_EMBED_ORIGIN",
    "allowed_origins": "MESHES_ALLOWED_ORIGINS",
    "redis_url": "MESHES_BRIDGE_REDIS_URL",
    "redis_cluster": "MESHES_BRIDGE_REDIS_CLUSTER",
    "mint_limit": "MESHES_BRIDGE_MINT_LIMIT",
    "refresh_limit": "MESHES_BRIDGE_REFRESH_LIMIT",
}
#: The spellings of a boolean variable (any case).
TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off"})
REQUIRED = ("org_id", "access_key", "secret_key", "workspace_id", "allowed_origins")


_VARIABLE_RE = re.compile(r"MESHES_[A-Z_]+")


class ConfigurationError(ValueError):
    """The settings are incomplete or wrong; `problems` lists each one (never a secret)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("meshes-bridge is not configured: " + "; ".join(self.problems))

    def saying_where(self, where: Callable[[str], str]) -> ConfigurationError:
        """The same problems, each ending with where the user sets its variable, in the
        user's own terms: `where("MESHES_ORG_ID")` -> "app.config['MESHES_ORG_ID'] or ..."."""

        def located(problem: str) -> str:
            named = _VARIABLE_RE.search(problem)
            return f"{problem} (set {where(named.group(0))})" if named else problem

        return ConfigurationError([located(problem) for problem in self.problems])


def _secure_url(url: object) -> bool:
    if not isinstance(url, str) or not re.match(r"^https?://[^/?#\s]+(/[^?#\s]*)?$", url):
        return False
    try:
        check_embed_origin(parse_origin(url))  # https, or http on a loopback host
    except OriginError:
        return False
    return True


def _origin(text: str) -> str:
    return parse_origin_only(text.strip()).serialize()


def _allowed_origin_problem(origin: object) -> str | None:
    """What is wrong with one entry of MESHES_ALLOWED_ORIGINS, naming the value and the fix.

    A browser's Origin header never ends with a slash or holds a path: such an entry is
    refused, never quietly trimmed, so the value the project wrote is the one it gets (and
    a path, which would suggest a narrower grant than an origin can express, is no typo)."""
    try:
        canonical, tail = split_url(origin.strip() if isinstance(origin, str) else origin)
    except OriginError:
        return (
            f"MESHES_ALLOWED_ORIGINS: {origin!r} is not an origin like "
            "https://app.example.com (scheme://host[:port])"
        )
    if not tail:
        return None
    fix = f"write {canonical.serialize()!r}"
    if tail == "/":
        return f"MESHES_ALLOWED_ORIGINS: {origin!r} ends with a slash, which no origin has: {fix}"
    return (
        f"MESHES_ALLOWED_ORIGINS: {origin!r} has a path, query or fragment ({tail[:40]!r}); an "
        f"origin is scheme://host[:port], and allows every path of that site: {fix}"
    )


@dataclass(frozen=True)
class MeshesSettings:
    """Section 2 of the server interface. Every field has its environment variable in
    `ENVIRONMENT`; `allowed_origins` is a tuple of canonical origins."""

    org_id: str = ""
    access_key: str = ""
    secret_key: str = field(default="", repr=False)
    workspace_id: str = ""
    api_url: str = DEFAULT_API_URL
    embed_origin: str = DEFAULT_EMBED_ORIGIN
    allowed_origins: tuple[str, ...] = ()
    redis_url: str | None = field(default=None, repr=False)  # may hold a password
    redis_cluster: bool = False  # redis_url names one node of a Redis Cluster
    mint_limit: int = DEFAULT_MINT_LIMIT
    refresh_limit: int = DEFAULT_REFRESH_LIMIT

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ConfigurationError(problems)
        # Canonical forms, so comparisons with a request's Origin header are exact.
        object.__setattr__(self, "allowed_origins", tuple(_origin(o) for o in self.allowed_origins))
        object.__setattr__(self, "embed_origin", _origin(self.embed_origin))
        object.__setattr__(self, "api_url", self.api_url.rstrip("/"))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> MeshesSettings:
        """Settings from `environ` (default `os.environ`); `overrides` (field names) win."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        problems: list[str] = []
        for name, variable in ENVIRONMENT.items():
            raw = env.get(variable, "").strip()
            if not raw:
                continue
            if name == "allowed_origins":
                values[name] = tuple(part.strip() for part in raw.split(",") if part.strip())
            elif name == "redis_cluster":
                word = raw.lower()
                if word in TRUE_WORDS | FALSE_WORDS:
                    values[name] = word in TRUE_WORDS
                else:
                    problems.append(f"{variable} must be true or false, not {raw!r}")
            elif name in ("mint_limit", "refresh_limit"):
                try:
                    values[name] = int(raw)
                except ValueError:
                    problems.append(f"{variable} must be a whole number")
            else:
                values[name] = raw
        values.update(overrides)
        if isinstance(values.get("allowed_origins"), str):
            values["allowed_origins"] = tuple(
                p.strip() for p in values["allowed_origins"].split(",") if p.strip()
            )
        if problems:  # report them with every other problem, in one error
            try:
                cls(**values)
            except ConfigurationError as other:
                problems += other.problems
            raise ConfigurationError(problems)
        return cls(**values)

    def with_changes(self, **changes: Any) -> MeshesSettings:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    def problems(self) -> list[str]:
        """What is missing or wrong, one line each, naming the variable (never a value of
        the secret)."""
        problems = [
            f"{ENVIRONMENT[name]} is not set" for name in REQUIRED if not getattr(self, name)
        ]
        if self.org_id and not _UUID_RE.match(self.org_id):
            problems.append("MESHES_ORG_ID must be the organization's UUID")
        if self.workspace_id and not _UUID_RE.match(self.workspace_id):
            problems.append("MESHES_WORKSPACE_ID must be a workspace UUID")
        given: object = self.allowed_origins  # as set: perhaps not the declared tuple
        if not isinstance(given, Iterable) or isinstance(given, str):
            problems.append("MESHES_ALLOWED_ORIGINS must be a list of origins")
        else:
            origins = list(given)
            if len(origins) > MAX_ALLOWED_ORIGINS:
                problems.append(f"MESHES_ALLOWED_ORIGINS holds more than {MAX_ALLOWED_ORIGINS}")
            problems.extend(filter(None, map(_allowed_origin_problem, origins)))
        try:
            check_embed_origin(parse_origin_only((self.embed_origin or "").strip()))
        except (OriginError, AttributeError):
            problems.append(
                "MESHES_EMBED_ORIGIN must be an https origin like https://embed.meshes.io "
                "(http only on a loopback host)"
            )
        if not _secure_url(self.api_url):
            # The machine JWT rides on every call: never over cleartext to another host.
            problems.append("MESHES_API_URL must be an https URL (http only on a loopback host)")
        cluster: object = self.redis_cluster  # as set: perhaps not a bool
        if not isinstance(cluster, bool):
            problems.append("MESHES_BRIDGE_REDIS_CLUSTER must be true or false")
        elif cluster and not self.redis_url:
            problems.append(
                "MESHES_BRIDGE_REDIS_CLUSTER is true but MESHES_BRIDGE_REDIS_URL is not set: "
                "set it to one node of the cluster"
            )
        for name in ("mint_limit", "refresh_limit"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                problems.append(f"{ENVIRONMENT[name]} must be a whole number >= 1")
        return problems

    def describe(self) -> dict[str, Any]:
        """Every field for a log or a debug page, the secret shown only as set / not set."""
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        shown["secret_key"] = "(set)" if self.secret_key else "(not set)"
        if self.redis_url:
            shown["redis_url"] = re.sub(r"//[^/@]*@", "//(credentials)@", self.redis_url)
        return shown
