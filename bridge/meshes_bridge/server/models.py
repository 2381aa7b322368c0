"""Typed results of the management API client. Their `repr()` never shows a token or a
launch URL, so logging a result by accident leaks nothing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


def _str(data: Mapping[str, Any], name: str, required: bool = True) -> str | None:
    if not isinstance(data, Mapping):
        raise ValueError("the answer is not a JSON object")
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise ValueError(f"field {name} missing or not a string")
    return value


@dataclass(frozen=True)
class MintedSession:
    """`POST /api/v1/sessions`: a new session and its two credentials."""

    session_id: str
    access_token: str = field(repr=False)
    expires_at: str
    launch_url: str = field(repr=False)
    workspace_id: str | None = None
    role: str | None = None
    session_type: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MintedSession:
        return cls(
            session_id=_str(data, "session_id") or "",
            access_token=_str(data, "access_token") or "",
            expires_at=_str(data, "expires_at") or "",
            launch_url=_str(data, "launch_url") or "",
            workspace_id=_str(data, "workspace_id", required=False),
            role=_str(data, "role", required=False),
            session_type=_str(data, "session_type", required=False),
        )

    def browser_json(self) -> dict[str, str]:
        """Exactly what the bridge's mint endpoint answers (host interface)."""
        return {
            "session_id": self.session_id,
            "access_token": self.access_token,
            "expires_at": self.expires_at,
            "launch_url": self.launch_url,
        }


@dataclass(frozen=True)
class RefreshedToken:
    """`POST /api/v1/sessions/{id}/refresh`: a new access token (no launch URL)."""

    session_id: str
    access_token: str = field(repr=False)
    expires_at: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any], session_id: str) -> RefreshedToken:
        return cls(
            session_id=_str(data, "session_id", required=False) or session_id,
            access_token=_str(data, "access_token") or "",
            expires_at=_str(data, "expires_at") or "",
        )

    def browser_json(self) -> dict[str, str]:
        """Exactly what the bridge's refresh endpoint answers."""
        return {"access_token": self.access_token, "expires_at": self.expires_at}


@dataclass(frozen=True)
class SessionSummary:
    """One entry of `GET /api/v1/sessions` (no credentials in it)."""

    session_id: str
    workspace_id: str | None
    status: str | None
    role: str | None = None
    session_type: str | None = None
    external_user_id: str | None = None
    created_at: str | None = None
    expires_at: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SessionSummary:
        def opt(name: str) -> str | None:
            value = data.get(name)
            return value if isinstance(value, str) else None

        return cls(
            session_id=_str(data, "session_id") or "",
            workspace_id=opt("workspace_id"),
            status=opt("status"),
            role=opt("role"),
            session_type=opt("session_type"),
            external_user_id=opt("external_user_id"),
            created_at=opt("created_at"),
            expires_at=opt("expires_at"),
        )
