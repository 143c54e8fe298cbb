from sandbox.model.breaker import CircuitBreaker


def breaker() -> CircuitBreaker:
    return CircuitBreaker(min_calls=4, error_rate=0.5, open_s=5, window_s=10)


def test_stays_closed_below_the_minimum_number_of_calls():
    b = breaker()
    for t in range(3):
        b.record(t, ok=False)
    assert b.state == "closed" and b.allow(3)


def test_opens_at_the_error_rate_then_fails_fast_until_open_s_passes():
    b = breaker()
    for t, ok in enumerate([True, False, True, False]):
        b.record(t, ok)
    assert b.state == "open"
    assert not b.allow(3.5) and not b.allow(7.9)
    assert b.allow(8.0) and b.state == "half-open"
    assert not b.allow(8.1), "half-open lets exactly one trial call through"


def test_a_good_trial_closes_it_and_a_bad_one_opens_it_again():
    b = breaker()
    for t in range(4):
        b.record(t, ok=False)
    assert b.allow(10)
    b.record(10.1, ok=False)
    assert b.state == "open" and not b.allow(14)
    assert b.allow(15.2)
    b.record(15.3, ok=True)
    assert b.state == "closed" and b.allow(15.4)


def test_old_calls_leave_the_rolling_window():
    b = breaker()
    b.record(0, ok=False)
    b.record(1, ok=False)
    for t in (20, 21, 22):
        b.record(t, ok=True)
    b.record(23, ok=False)
    assert b.state == "closed", "the two early failures are outside the 10 s window"
