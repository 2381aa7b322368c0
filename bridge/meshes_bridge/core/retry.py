"""When to try a failed request again. Decisions only; the caller keeps the clock."""

RETRY_BASE = 0.5
RETRY_FACTOR = 2.0
RETRY_CAP = 8.0
MAX_ATTEMPTS = 5
# Answers that mean "the session no longer exists": mint a new one instead of retrying.
SESSION_GONE = (401, 403, 404)


def is_retriable(status: "int | None") -> bool:
    """Network errors and timeouts (status None), 5xx and 429 may succeed later."""
    if status is None:
        return True
    return status >= 500 or status in (408, 429)


def backoff_delay(attempt: int) -> float:
    """Seconds to wait before retry number `attempt` (1-based), exponential and capped."""
    delay = RETRY_BASE * (RETRY_FACTOR ** (attempt - 1))
    return delay if delay < RETRY_CAP else RETRY_CAP


def can_retry(attempt: int) -> bool:
    return attempt < MAX_ATTEMPTS
