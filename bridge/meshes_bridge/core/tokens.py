"""The access token, and every token the embed has held, so that none is ever written out.

The iframe may echo an old token after a refresh, so redaction covers the last few, not
only the one held now.
"""

from meshes_bridge.core.redact import redact

# Old tokens kept for redaction only; a handful covers any iframe that lags behind.
MAX_SECRETS = 8


class Tokens:
    def __init__(self) -> None:
        self.token: str | None = None  # the access token, held here and nowhere else
        self.seen: list[str] = []

    def hold(self, token: str) -> None:
        self.token = token
        self.seen.append(token)
        if len(self.seen) > MAX_SECRETS:
            self.seen.pop(0)

    def inside(self, text: str) -> bool:
        """Does the text hold any token the embed has held?"""
        for secret in self.seen:
            if secret in text:
                return True
        return False

    def redact(self, text: str) -> str:
        return redact(text, self.seen)

    def scrub(self, fields: "dict[str, object]") -> "dict[str, object]":
        """The fields without any whose key or string value holds a token: whatever the
        iframe sends, a token must not reach an event detail."""
        clean: dict[str, object] = {}
        for key in fields:
            value = fields[key]
            if not self.inside(key) and not (isinstance(value, str) and self.inside(value)):
                clean[key] = value
        return clean
