"""Pure rules of processes: phases open and closed, their order."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from citysmart.services.participation import proposals as rules
from citysmart.services.participation.models_process import PHASE_KINDS

T0 = dt.datetime(2027, 3, 1, tzinfo=dt.UTC)


@dataclass
class P:
    kind: str
    starts_at: dt.datetime
    ends_at: dt.datetime


def day(n: float) -> dt.datetime:
    return T0 + dt.timedelta(days=n)


PHASES = [
    P("proposals", day(0), day(10)),
    P("supports", day(10), day(20)),
    P("voting", day(20), day(30)),
]


def test_the_current_phase_starts_inclusive_and_ends_exclusive() -> None:
    assert rules.current_phase(PHASES, day(-1)) is None
    assert rules.current_phase(PHASES, day(0)) is PHASES[0]
    assert rules.current_phase(PHASES, day(10)) is PHASES[1]
    assert rules.current_phase(PHASES, day(30)) is None


def test_supports_run_in_the_supports_and_proposals_phases() -> None:
    assert rules.phase_open(PHASES, rules.SUPPORT_PHASES, day(5))
    assert rules.phase_open(PHASES, rules.SUPPORT_PHASES, day(15))
    assert not rules.phase_open(PHASES, rules.SUPPORT_PHASES, day(25))
    assert rules.phase_open(PHASES, ("voting",), day(25))


def test_voting_is_over_only_after_every_voting_phase() -> None:
    assert not rules.voting_over(PHASES, day(25))
    assert rules.voting_over(PHASES, day(30))
    assert not rules.voting_over(PHASES[:2], day(100))  # no voting phase: never over


@pytest.mark.parametrize(
    ("phases", "message"),
    [
        ([P("party", day(0), day(1))], "unknown kind"),
        ([P("voting", day(1), day(1))], "ends before it starts"),
        ([P("proposals", day(0), day(5)), P("voting", day(4), day(6))], "starts before"),
    ],
)
def test_bad_phases_are_refused(phases: list[P], message: str) -> None:
    with pytest.raises(rules.RuleError, match=message):
        rules.check_phases(phases, PHASE_KINDS)


def test_user_text_is_normalised_and_limited() -> None:
    assert rules.clean_line(" Cafe\u0301\x00 ", 20, "title") == "Café"
    assert rules.clean_text("a\r\nb\x07", 20, "body") == "a\nb"
    with pytest.raises(rules.RuleError, match="at most 3"):
        rules.clean_line("abcd", 3, "title")
    with pytest.raises(rules.RuleError, match="empty"):
        rules.clean_text(" \x01 ", 3, "body")
    with pytest.raises(rules.RuleError, match="unknown category"):
        rules.check_category("weather")
