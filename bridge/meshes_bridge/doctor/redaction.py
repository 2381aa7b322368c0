"""Keeping secrets out of the doctor's report: the tokens and launch URLs it saw in the
endpoints' answers are learnt here, then every string of the report is passed through
the server half's redaction before anything is printed or written."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from meshes_bridge.core.redact import REDACTED, redact_fields
from meshes_bridge.server.redaction import redact_credentials, redact_text

# Body fields whose values are credentials (the core's list, and the launch URL).
_SECRET_FIELDS = ("access_token", "token", "launch_url", "launch_token", "refresh_token")
FREE_TEXT_LIMIT = 600


class Redactor:
    def __init__(self) -> None:
        self.secrets: set[str] = set()
        self.launch_urls: set[str] = set()

    def learn(self, body: str | None) -> None:
        """Remember the credentials in an endpoint's JSON answer."""
        if not body:
            return
        try:
            data = json.loads(body)
        except ValueError:
            return
        if not isinstance(data, dict):
            return
        for name in _SECRET_FIELDS:
            value = data.get(name)
            if isinstance(value, str) and len(value) >= 4:
                self.secrets.add(value)
                if name == "launch_url":
                    self.launch_urls.add(value)
                    for _key, part in parse_qsl(urlsplit(value).query):
                        if len(part) >= 8:
                            self.secrets.add(part)

    def ordered(self) -> list[str]:
        # Longest first: a launch URL goes whole before the token inside it.
        return sorted(self.secrets, key=len, reverse=True)

    def known(self, text: str) -> str:
        """Text of a known shape (a URL, a header value): secrets and JWTs out."""
        return redact_credentials(text, self.ordered())

    def text(self, text: str, limit: int = FREE_TEXT_LIMIT) -> str:
        """Free text from the page (a console line, an error message): as the server half
        redacts its own log lines."""
        return redact_text(text, self.ordered(), limit=limit)

    def body(self, body: str | None) -> Any:
        """An endpoint's answer, shown: JSON with the credential fields blanked, or text."""
        if body is None:
            return None
        try:
            data = json.loads(body)
        except ValueError:
            return self.text(body, limit=300)
        blanked = redact_fields(data)
        if isinstance(blanked, dict):
            for name in _SECRET_FIELDS:
                if name in blanked:
                    blanked[name] = REDACTED
        return self.scrub(blanked)

    def scrub(self, value: Any) -> Any:
        """Every string in a JSON value through `known` (the last net before output)."""
        if isinstance(value, str):
            return self.known(value)
        if isinstance(value, list):
            return [self.scrub(v) for v in value]
        if isinstance(value, dict):
            return {self.known(str(k)): self.scrub(v) for k, v in value.items()}
        return value
