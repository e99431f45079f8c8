"""Cap rules as pure functions: days in a time zone, which cap breaks, the words."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from panic_trio.domain import usd
from panic_trio.engine.caps import Limits, breach, day_start, next_day_start

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 12, 1, 22, 30, tzinfo=UTC)


def test_days_start_at_midnight_in_the_cap_time_zone() -> None:
    assert day_start(NOW, UTC) == datetime(2026, 12, 1, tzinfo=UTC)
    assert next_day_start(NOW, UTC) == datetime(2026, 12, 2, tzinfo=UTC)
    # 22:30 UTC is 23:30 in Berlin (UTC+1 in winter): its day began at 23:00 UTC the day before.
    assert day_start(NOW, BERLIN) == datetime(2026, 11, 30, 23, tzinfo=UTC)
    assert next_day_start(NOW, BERLIN) == datetime(2026, 12, 1, 23, tzinfo=UTC)


def test_a_day_across_a_clock_change_is_23_hours_long() -> None:
    spring = datetime(2026, 3, 29, 12, tzinfo=UTC)  # Berlin moves to UTC+2 at 01:00 UTC
    assert day_start(spring, BERLIN) == datetime(2026, 3, 28, 23, tzinfo=UTC)
    assert next_day_start(spring, BERLIN) == datetime(2026, 3, 29, 22, tzinfo=UTC)


def check(limits: Limits, expected: float | None, **spent: float | None) -> str | None:
    sums = {"network_day": None, "run": None, "global_day": None, **spent}
    found = breach(limits, expected=expected, now=NOW, zone=UTC, **sums)
    return None if found is None else found.scope


def test_a_call_may_start_only_if_it_stays_within_the_cap() -> None:
    limits = Limits(network_day=0.05)
    assert check(limits, 0.02, network_day=0.0) is None
    assert check(limits, 0.02, network_day=0.02) is None  # 0.04
    assert check(limits, 0.02, network_day=0.04) == "network-day"  # 0.06 > 0.05
    assert check(Limits(network_day=0.06), 0.02, network_day=0.02 + 0.02) is None  # float sums


def test_an_unknown_next_cost_stops_only_at_the_cap_and_a_zero_cap_allows_free_models() -> None:
    limits = Limits(network_day=0.05)
    assert check(limits, None, network_day=0.049) is None
    assert check(limits, None, network_day=0.05) == "network-day"
    assert check(Limits(network_day=0.0), None, network_day=0.0) == "network-day"
    assert check(Limits(network_day=0.0), 0.0, network_day=0.0) is None


def test_day_caps_are_reported_before_the_run_cap() -> None:
    limits = Limits(network_day=0.05, run=0.05, global_day=0.05)
    assert check(limits, 0.02, network_day=0.04, run=0.04, global_day=0.04) == "global-day"
    assert check(limits, 0.02, network_day=0.04, run=0.04, global_day=0.0) == "network-day"
    assert check(limits, 0.02, network_day=0.0, run=0.04, global_day=0.0) == "network-run"


def test_the_words_say_which_cap_and_when_prompts_are_accepted_again() -> None:
    found = breach(
        Limits(network_day=0.05),
        network_day=0.05,
        run=None,
        global_day=None,
        expected=0.02,
        now=NOW,
        zone=BERLIN,
    )
    assert found is not None
    assert found.error == "daily spending cap of $0.05 reached"
    assert found.to_json() == {
        "scope": "network-day",
        "limit": 0.05,
        "currency": "USD",
        "resumes_at": "2026-12-01T23:00:00.000000+00:00",
        "message": "This network has spent today's budget of $0.05. It accepts prompts again "
        "at 00:00 on Wednesday 02 December (Europe/Berlin).",
    }
    run = breach(
        Limits(run=1.5), network_day=None, run=1.5, global_day=None, expected=0.1, now=NOW, zone=UTC
    )
    assert run is not None
    assert run.error == "per-run spending cap of $1.50 reached"
    assert run.resumes_at is None
    assert usd(0.005) == "$0.005"
