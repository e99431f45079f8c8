"""The pure time rules."""

from __future__ import annotations

import pytest

from panic_trio.engine.schedule import backoff_delay, lockout_remaining, next_delay
from panic_trio.settings import parse_backoff

DEFAULT = parse_backoff("600:1,3600:15,inf:600")


@pytest.mark.parametrize(
    ("age", "delay"),
    [(0, 1), (599.999, 1), (600, 15), (3599.9, 15), (3600, 600), (10**9, 600)],
)
def test_backoff_tiers_by_run_age(age: float, delay: float) -> None:
    assert backoff_delay(age, DEFAULT) == delay


def test_a_vestaboard_floor_is_a_maximum_not_a_sum() -> None:
    assert next_delay(10, DEFAULT, floor=8) == 8
    assert next_delay(700, DEFAULT, floor=8) == 15
    assert next_delay(10, DEFAULT) == 1


def test_lockout_remaining_never_negative() -> None:
    assert lockout_remaining(100, 129.9, 30) == pytest.approx(0.1)
    assert lockout_remaining(100, 130, 30) == 0
    assert lockout_remaining(100, 500, 30) == 0
    assert lockout_remaining(100, 100, 0) == 0
