"""Errors of the management API client.

One type per thing a caller does differently (stripe-python style): fix the credentials,
give up on a session, try again later. Every message is built from the HTTP status, the
Meshes error code and a redacted copy of Meshes' own message, so no text here ever holds
a token, a launch URL, the machine JWT or the secret.
"""

from __future__ import annotations


class MeshesError(Exception):
    """Anything that went wrong talking to Meshes."""


class MeshesAPIError(MeshesError):
    """Meshes answered with an error (or could not be reached: `status` None).

    `status` is the HTTP status, `code` Meshes' error code (``invalid_token``,
    ``session_not_found``, ...), `field` the offending field of a 400, `operation` what
    the client was doing (``create_session``, ``refresh_session``, ...).
    """

    def __init__(
        self,
        operation: str,
        status: int | None,
        code: str | None,
        message: str = "",
        field: str | None = None,
    ) -> None:
        self.operation = operation
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        head = f"Meshes {operation} failed"
        if status is not None:
            head += f": HTTP {status}"
        if code:
            head += f" {code}"
        if field:
            head += f" (field {field})"
        super().__init__(head + (f": {message}" if message else ""))


class MeshesCredentialsError(MeshesAPIError):
    """Meshes refused the machine credentials (401/403 on the JWT): check
    MESHES_ORG_ID, MESHES_ACCESS_KEY and MESHES_SECRET_KEY."""


class MeshesNotFoundError(MeshesAPIError):
    """The session is unknown, revoked or expired (404, or a 401 about the session)."""


class MeshesValidationError(MeshesAPIError):
    """Meshes refused the request body (400); `field` names the field."""


class MeshesRateLimitedError(MeshesAPIError):
    """429 after the retries; `retry_after` is the seconds Meshes asked for, if any."""

    def __init__(
        self,
        operation: str,
        status: int | None,
        code: str | None,
        message: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(operation, status, code, message)
        self.retry_after = retry_after


class MeshesUnavailableError(MeshesAPIError):
    """Unreachable, timed out, or a 5xx after the retries."""
