"""Pure rules of supports and votes: the threshold, the decision with ties and quorum."""

from __future__ import annotations

import pytest

from citysmart.services.participation import proposals as rules


def test_the_threshold_sends_a_proposal_to_the_vote() -> None:
    assert not rules.reached_threshold(2, 3)
    assert rules.reached_threshold(3, 3)
    assert rules.reached_threshold(1, 0)  # a threshold under one still needs one support
    assert rules.progress_percent(1, 3) == 33
    assert rules.progress_percent(9, 3) == 100


def test_authors_edit_only_until_the_first_support() -> None:
    assert rules.may_edit(0, "open")
    assert not rules.may_edit(1, "open")
    assert not rules.may_edit(0, "voting")


@pytest.mark.parametrize(
    ("yes", "no", "abstain", "quorum", "accepted"),
    [
        (3, 1, 0, 0, True),
        (2, 2, 5, 0, False),  # a tie is rejected
        (1, 2, 0, 0, False),
        (3, 1, 0, 5, False),  # under the quorum
        (3, 1, 1, 5, True),  # abstentions count for the quorum
        (0, 0, 0, 0, False),  # no ballots
    ],
)
def test_the_decision_rule(yes: int, no: int, abstain: int, quorum: int, accepted: bool) -> None:
    decision = rules.decide(yes, no, abstain, quorum)
    assert decision.accepted is accepted
    assert decision.status == ("accepted" if accepted else "rejected")
    assert decision.turnout == yes + no + abstain
    assert decision.note.startswith(decision.status)


def test_the_decision_refuses_negative_numbers() -> None:
    with pytest.raises(rules.RuleError):
        rules.decide(-1, 0, 0, 0)


def test_the_follow_up_moves_forward_only() -> None:
    assert rules.check_next_status("accepted", "in_execution") == "in_execution"
    assert rules.check_next_status("in_execution", "implemented") == "implemented"
    for current, wanted in (("accepted", "implemented"), ("rejected", "in_execution")):
        with pytest.raises(rules.RuleError):
            rules.check_next_status(current, wanted)
