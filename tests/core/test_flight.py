"""One kind of backend request and its timing: timeout, retries, budget."""

from meshes_bridge.core.flight import Flight
from meshes_bridge.core.retry import backoff_delay


def test_flight_one_request_then_its_timeout():
    flight = Flight(2, 60.0, 10.0)
    assert flight.idle() and flight.wait_for_budget(0.0) == 0.0
    flight.send(7, 0.0)
    assert not flight.idle() and flight.wake_at == 10.0
    assert flight.overdue(9.9) is None and flight.overdue(10.0) == 7
    assert not flight.due(10.0)  # a request out is not a retry
    assert not flight.land(6) and flight.land(7) and flight.idle()
    assert not flight.land(7)  # an answer lands once


def test_flight_retries_with_backoff_then_gives_up():
    flight = Flight(10, 60.0, 10.0)
    attempts = 0
    while flight.retry_later(500, 0.0):
        attempts += 1
        assert flight.wake_at == backoff_delay(attempts)
        assert not flight.due(flight.wake_at - 0.01) and flight.due(flight.wake_at)
    assert attempts == 4 and flight.idle()
    assert not Flight(10, 60.0, 10.0).retry_later(400, 0.0)


def test_flight_waits_for_its_budget_and_cancels():
    flight = Flight(1, 60.0, 10.0)
    flight.send(1, 0.0)
    flight.land(1)
    assert flight.wait_for_budget(5.0) == 60.0 and flight.wake_at == 60.0
    flight.attempt = 3
    assert flight.cancel() is None and flight.idle() and flight.attempt == 0
    flight.send(2, 61.0)
    assert flight.cancel() == 2 and flight.idle()
