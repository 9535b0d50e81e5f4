"""The sandbox lifecycle and sign-up rules (pure)."""

from __future__ import annotations

import datetime as dt

import pytest

from citysmart.services.participation import sandbox_rules as rules


def test_the_lifecycle_moves_forward_one_step() -> None:
    path = ["planned", "selected", "demonstrating", "evaluated", "converted"]
    for before, after in zip(path, path[1:], strict=False):
        rules.check_stage_change(before, after)
    rules.check_stage_change("evaluated", "ended")


@pytest.mark.parametrize(
    ("before", "after"),
    [("planned", "demonstrating"), ("ended", "converted"), ("demonstrating", "selected")],
)
def test_skipping_or_going_back_is_refused(before: str, after: str) -> None:
    with pytest.raises(rules.StageError) as caught:
        rules.check_stage_change(before, after)
    assert caught.value.allowed == rules.NEXT_STAGES[before]


def test_signup_refusals() -> None:
    assert rules.signup_refusal("demonstrating", 0, None, False) is None
    assert "not planned" in (rules.signup_refusal("planned", 0, None, False) or "")
    assert "already" in (rules.signup_refusal("selected", 1, None, True) or "")
    assert "full" in (rules.signup_refusal("selected", 5, 5, False) or "")


def test_fields_tracks_and_periods() -> None:
    assert rules.check_field("energy") == "energy"
    with pytest.raises(ValueError, match="unknown field"):
        rules.check_field("finance")
    with pytest.raises(ValueError, match="unknown track"):
        rules.check_track("fast")
    with pytest.raises(ValueError, match="ends"):
        rules.check_period(dt.date(2027, 2, 1), dt.date(2027, 1, 1))
