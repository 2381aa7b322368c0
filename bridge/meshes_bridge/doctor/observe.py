"""What the doctor saw on the page: plain values, filled by `session.py`, read by the
checks. Nothing here is redacted yet: the checks and the renderers do that."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class SeenRequest:
    """One request the page (or a frame in it) made, with its answer."""

    url: str
    method: str
    resource_type: str
    is_navigation: bool
    main_frame: bool
    status: int | None = None
    failure: str | None = None
    request_headers: dict[str, str] = field(default_factory=dict)
    response_headers: dict[str, str] = field(default_factory=dict)
    start_ms: float | None = None  # since the page's navigation start
    duration_ms: float | None = None
    size: int | None = None  # the response body's size, bytes
    post_data: str | None = None
    body: str | None = None  # the response body, kept only for the host's endpoints


@dataclass
class ConsoleLine:
    type: str
    text: str
    url: str = ""


@dataclass
class Observation:
    url: str
    final_url: str = ""
    navigation_error: str | None = None
    document_status: int | None = None
    document_headers: dict[str, str] = field(default_factory=dict)
    meta_csp: list[str] = field(default_factory=list)
    probe: dict[str, Any] = field(default_factory=dict)
    requests: list[SeenRequest] = field(default_factory=list)
    console: list[ConsoleLine] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    cookies: list[dict[str, Any]] = field(default_factory=list)
    storage: dict[str, dict[str, str]] = field(default_factory=dict)
    dom: str = ""
    has_password_field: bool = False
    login: dict[str, Any] | None = None  # how the login went, when one was asked for
    stopped: str = ""
    duration_ms: int = 0
    page_ms: float | None = None  # the page's performance.now() when the doctor stopped

    @property
    def containers(self) -> list[dict[str, Any]]:
        found = self.probe.get("containers")
        return found if isinstance(found, list) else []

    @property
    def violations(self) -> list[dict[str, Any]]:
        found = self.probe.get("violations")
        return found if isinstance(found, list) else []
