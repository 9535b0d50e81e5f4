"""The opinion channel's pure rules: statuses, transitions, routing."""

from __future__ import annotations

import pytest

from citysmart.services.participation import opinion_rules as rules


def test_every_category_routes_to_one_department() -> None:
    routing = rules.default_routing()
    assert set(routing) == set(rules.CATEGORIES)
    assert routing["parking"] == "transport"
    assert routing["roads"] == "road"


@pytest.mark.parametrize(
    ("before", "after"),
    [("open", "assigned"), ("assigned", "in_progress"), ("in_progress", "closed")],
)
def test_valid_transitions(before: str, after: str) -> None:
    assert rules.check_transition(before, after, "Fixed on Monday.").after == after


@pytest.mark.parametrize(
    ("before", "after"),
    [("open", "in_progress"), ("closed", "open"), ("in_progress", "assigned"), ("open", "open")],
)
def test_invalid_transitions_name_the_allowed_ones(before: str, after: str) -> None:
    with pytest.raises(rules.TransitionError) as caught:
        rules.check_transition(before, after, "answer")
    assert caught.value.allowed == rules.TRANSITIONS[before]


def test_closing_needs_an_answer() -> None:
    with pytest.raises(ValueError, match="answer"):
        rules.check_transition("in_progress", "closed", "  ")


def test_unknown_status_category_and_kind() -> None:
    with pytest.raises(ValueError, match="unknown status"):
        rules.check_transition("open", "done", None)
    with pytest.raises(ValueError, match="unknown category"):
        rules.check_category("weather")
    with pytest.raises(ValueError, match="idea or complaint"):
        rules.check_kind("praise")
