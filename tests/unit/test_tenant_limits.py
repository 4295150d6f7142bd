"""The per-tenant limits' values and window arithmetic (``diarist.domain.limits``): pure."""

from __future__ import annotations

import pytest

from diarist.domain.limits import RateWindow, Slot, TenantLimits, limit_problem, retry_after_s, window_of


def test_overrides_win_per_limit_and_zero_is_an_override() -> None:
    defaults = TenantLimits(max_active_jobs=100, requests_per_minute=600)
    assert TenantLimits().over(defaults) == defaults
    assert TenantLimits(requests_per_minute=0).over(defaults) == TenantLimits(100, 0)
    assert TenantLimits(max_active_jobs=3).over(defaults) == TenantLimits(3, 600)


def test_fixed_minute_windows() -> None:
    assert window_of(1_800_000_000.0) == (1_800_000_000, 1_800_000_060)
    assert window_of(1_800_000_059.999) == (1_800_000_000, 1_800_000_060)
    assert window_of(1_800_000_060.0) == (1_800_000_060, 1_800_000_120)
    assert retry_after_s(1_800_000_010.0, 1_800_000_060) == 50
    assert retry_after_s(1_800_000_059.5, 1_800_000_060) == 1
    assert retry_after_s(1_800_000_070.0, 1_800_000_060) == 1  # never 0 or negative
    assert RateWindow(limit=3, used=3, reset_at=0).remaining == 0
    assert RateWindow(limit=3, used=1, reset_at=0).remaining == 2


@pytest.mark.parametrize("value", [-1, 1_000_001, 2.5, True, "5"])
def test_bad_limit_values(value: object) -> None:
    assert limit_problem("x", value) is not None  # type: ignore[arg-type]


def test_good_limit_values() -> None:
    assert limit_problem("x", 0) is None and limit_problem("x", 1_000_000) is None
    assert limit_problem("x", 5001, 5000) is not None


def test_slots_round_trip_and_a_malformed_one_is_released_when_its_job_is_missing() -> None:
    slot = Slot("7c9e6679-7425-40de-944b-e07fc1f90ae7", 1_800_000_000)
    assert Slot.parse(slot.encode()) == slot
    assert Slot.parse("no-time") == Slot("no-time", 0)
    assert Slot.parse("job@notanumber") == Slot("job@notanumber", 0)
