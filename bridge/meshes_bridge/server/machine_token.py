"""The machine JWT every management call carries (PyJWT, HS256).

Header `kid` = access key; claims `iss` = ``urn:meshes:m2m:<access key>``, `aud` =
``meshes-api``, `org`, `iat`, `exp` = `iat` + 60 s at most. A token is reused while it
has more than `REUSE_MARGIN` seconds left, so a busy server signs about once a minute.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import jwt

AUDIENCE = "meshes-api"
LIFETIME = 60  # the most Meshes accepts
REUSE_MARGIN = 20  # a token with less left is not reused (clock skew, slow retries)


def issuer(access_key: str) -> str:
    return f"urn:meshes:m2m:{access_key}"


class MachineTokens:
    """Signs (and caches) machine JWTs for one machine key. Thread-safe."""

    def __init__(
        self,
        org_id: str,
        access_key: str,
        secret_key: str,
        clock: Callable[[], float] = time.time,
        lifetime: int = LIFETIME,
    ) -> None:
        if not 0 < lifetime <= LIFETIME:
            raise ValueError(f"lifetime must be 1-{LIFETIME} s")
        self._org_id = org_id
        self._access_key = access_key
        self._secret = secret_key.encode("utf-8")
        self._clock = clock
        self._lifetime = lifetime
        self._lock = threading.Lock()
        self._cached: tuple[str, int] | None = None  # (token, exp)

    def __repr__(self) -> str:
        return f"MachineTokens(org={self._org_id!r}, kid={self._access_key!r})"

    def token(self) -> str:
        """A JWT with at least REUSE_MARGIN seconds left (a cached one, or a new one)."""
        now = int(self._clock())
        with self._lock:
            cached = self._cached
            if cached is not None and cached[1] - now > min(REUSE_MARGIN, self._lifetime - 1):
                return cached[0]
            exp = now + self._lifetime
            claims = {
                "iss": issuer(self._access_key),
                "aud": AUDIENCE,
                "org": self._org_id,
                "iat": now,
                "exp": exp,
            }
            token = jwt.encode(
                claims, self._secret, algorithm="HS256", headers={"kid": self._access_key}
            )
            self._cached = (token, exp)
            return token

    def forget(self) -> None:
        """Drop the cached token (after Meshes refused it: the next call signs afresh)."""
        with self._lock:
            self._cached = None
