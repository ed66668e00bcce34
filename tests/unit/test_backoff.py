"""The one backoff policy: pauses grow and stay capped, jitter stays in bounds, Retry-After is honoured, budgets end."""

import random

import pytest

from srcnet_tui.core.backoff import Backoff, wait_until


class FakeTime:
    """A clock that moves only when the code under test sleeps."""

    def __init__(self):
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_pauses_grow_by_the_factor_up_to_the_cap():
    policy = Backoff(first_s=0.5, factor=1.5, cap_s=5.0)
    assert [policy.pause(step) for step in range(8)] == [0.5, 0.75, 1.125, 1.6875, 2.53125, 3.796875, 5.0, 5.0]
    assert policy.pause(10_000) == 5.0  # no overflow after a very long outage


def test_full_jitter_stays_between_zero_and_the_unjittered_pause():
    policy = Backoff(first_s=0.25, cap_s=10.0, jitter=True)
    rng = random.Random(7)
    for step in range(12):
        ceiling = min(10.0, 0.25 * 2**step)
        draws = [policy.pause(step, rng=rng) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in draws)
        assert max(draws) > ceiling / 2  # jitter spreads the pauses, it does not just shrink them


@pytest.mark.parametrize("retry_after, expected", [(3.0, 3.0), (60.0, 10.0), (-5.0, 0.0)])
def test_retry_after_replaces_the_pause_but_never_exceeds_the_cap(retry_after, expected):
    assert Backoff(first_s=0.25, cap_s=10.0).pause(0, retry_after) == expected
    jittered = Backoff(first_s=0.25, cap_s=10.0, jitter=True).pause(0, retry_after, rng=random.Random(1))
    assert expected <= jittered <= expected + 0.25  # a little spread so a crowd told "in 3 s" does not return at once


def test_a_schedule_gives_up_after_its_attempts():
    schedule = Backoff(first_s=1.0, attempts=3).start(clock=FakeTime().clock)
    assert [schedule.next_pause(), schedule.next_pause(), schedule.next_pause()] == [1.0, 2.0, None]
    assert schedule.tries == 3


def test_a_schedule_gives_up_rather_than_sleep_past_its_time_budget():
    time = FakeTime()
    schedule = Backoff(first_s=1.0, total_s=5.0).start(clock=time.clock)
    while (pause := schedule.next_pause()) is not None:
        time.sleep(pause)
    assert time.slept == [1.0, 2.0]  # a pause of 4 s more would end at 7 s
    assert time.now <= 5.0


def test_a_schedule_honours_retry_after_within_its_budget():
    time = FakeTime()
    schedule = Backoff(first_s=0.1, cap_s=30.0, total_s=10.0).start(clock=time.clock)
    assert schedule.next_pause(retry_after=4.0) == 4.0
    time.sleep(4.0)
    assert schedule.next_pause(retry_after=7.0) is None  # the server's "later" is past the budget


def test_wait_until_returns_the_first_true_answer_and_pauses_between_looks():
    time = FakeTime()
    answers = iter([None, None, {"pid": 42}])
    found = wait_until(lambda: next(answers), Backoff(first_s=0.05, factor=1.0).within(1.0), sleep=time.sleep, clock=time.clock)
    assert found == {"pid": 42}
    assert time.slept == [0.05, 0.05]


def test_wait_until_gives_up_with_the_last_answer_when_time_runs_out():
    time = FakeTime()
    looks = []
    result = wait_until(
        lambda: looks.append(time.now), Backoff(first_s=0.5, factor=1.0).within(2.0), sleep=time.sleep, clock=time.clock
    )
    assert result is None
    assert looks == [0.0, 0.5, 1.0, 1.5, 2.0]
