"""Errors of the management API client.

One type per thing a caller does differently (stripe-python style): fix the credentials,
give up on a session, try again later. The text of an error (what `str()`, `repr()` and a
log line show) is built only from what the client itself knows: the operation, the HTTP
status and its standard reason phrase, Meshes' error code and field name when they have
the shape of a code, and a fixed description the client wrote. Meshes' free-text message
is kept apart in `message` (redacted) and never enters that text: it is not ours to trust,
and it may echo what was sent, a token included.
"""

from __future__ import annotations

from http import HTTPStatus

from meshes_bridge.server.redaction import REDACTED, is_plain_label


def _label(value: str) -> str:
    return value if is_plain_label(value) else REDACTED


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


class MeshesError(Exception):
    """Anything that went wrong talking to Meshes."""


class MeshesAPIError(MeshesError):
    """Meshes answered with an error (or could not be reached: `status` None).

    `status` is the HTTP status, `code` Meshes' error code (``invalid_token``,
    ``session_not_found``, ...) or the client's own (``timeout``, ``unreachable``,
    ``bad_response``), `field` the offending field of a 400, `operation` what the client
    was doing (``create_session``, ``refresh_session``, ...), `detail` the client's own
    description, `message` Meshes' own message, redacted: text from outside, not part of
    `str(error)`; show it to no one and log it only knowingly. `retry_after` is the seconds
    Meshes asked the client to wait (``Retry-After`` of a 429 or 503), if any.
    """

    def __init__(
        self,
        operation: str,
        status: int | None,
        code: str | None,
        message: str = "",
        field: str | None = None,
        *,
        detail: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.operation = operation
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.detail = detail
        self.retry_after = retry_after
        text = f"Meshes {operation} failed"
        if status is not None:
            text += f": HTTP {status}"
            phrase = _phrase(status)
            if phrase:
                text += f" {phrase}"
        if code:
            text += f", code {_label(code)}"
        if field:
            text += f", field {_label(field)}"
        if detail:
            text += f": {detail}"
        super().__init__(text)


class MeshesCredentialsError(MeshesAPIError):
    """Meshes refused the machine credentials (401/403 on the JWT): check
    MESHES_ORG_ID, MESHES_ACCESS_KEY and MESHES_SECRET_KEY."""


class MeshesNotFoundError(MeshesAPIError):
    """The session is unknown, revoked or expired (404, or a 401 about the session)."""


class MeshesValidationError(MeshesAPIError):
    """Meshes refused the request body (400); `field` names the field."""


class MeshesRateLimitedError(MeshesAPIError):
    """429 after the retries; `retry_after` is the seconds Meshes asked for, if any."""


class MeshesUnavailableError(MeshesAPIError):
    """Unreachable, timed out, or a 5xx after the retries."""
