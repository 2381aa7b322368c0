"""Which failures are retried, and the backoff between attempts."""

from meshes_bridge.core.retry import backoff_delay, can_retry, is_retriable


def test_retry_policy():
    assert [backoff_delay(n) for n in (1, 2, 3, 4, 5, 6, 20)] == [0.5, 1, 2, 4, 8, 8, 8]
    for status in (None, 500, 502, 503, 599, 408, 429):
        assert is_retriable(status), status
    for status in (200, 400, 401, 403, 404, 409, 302):
        assert not is_retriable(status), status
    assert can_retry(1) and can_retry(4) and not can_retry(5)
