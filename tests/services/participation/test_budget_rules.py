"""Participatory-budget rules, on hand-worked examples."""

from __future__ import annotations

import pytest

from citysmart.services.participation.budget_rules import (
    BallotRule,
    Candidate,
    checkout_problem,
    draft_problem,
    equal_shares,
    greedy,
    tally,
)


def test_a_ballot_over_the_budget_is_refused() -> None:
    rule = BallotRule(total_krw=100)
    assert draft_problem(rule, [60, 40]) is None
    problem = draft_problem(rule, [60, 41])
    assert problem is not None
    assert "101 KRW, over the budget of 100 KRW" in problem


def test_too_many_projects_are_refused() -> None:
    rule = BallotRule(total_krw=100, max_projects=2)
    assert draft_problem(rule, [10, 10]) is None
    assert draft_problem(rule, [10, 10, 10]) == "3 projects chosen; at most 2 are allowed"


def test_the_minimum_rule_holds_at_checkout_not_while_choosing() -> None:
    # 50% of 1,000,001 won is 500,000.5: the ballot must spend 500,001 (rounded up).
    rule = BallotRule(total_krw=1_000_001, min_share_pct=50)
    assert rule.minimum_krw() == 500_001
    assert draft_problem(rule, [500_000]) is None
    problem = checkout_problem(rule, [500_000])
    assert problem is not None
    assert "at least 500,001 KRW (50% of the budget)" in problem
    assert checkout_problem(rule, [500_001]) is None
    assert checkout_problem(rule, []) == "choose at least one project before checking out"


def test_the_rule_is_described_in_both_languages() -> None:
    rule = BallotRule(total_krw=1_000_000, min_share_pct=50, max_projects=3)
    assert rule.describe() == (
        "Choose projects costing at most 1,000,000 KRW in total; at least 50% (500,000 KRW) "
        "must be spent; at most 3 projects."
    )
    assert "최소 50%(500,000원)" in rule.describe_ko()


def test_greedy_funds_by_votes_and_skips_what_does_not_fit() -> None:
    # Budget 100. A (70, 9 votes) is funded, leaving 30; B (50, 8) does not fit and is
    # skipped; C (30, 5) fits exactly; D (10, 4) no longer fits; E has no votes.
    candidates = [
        Candidate(1, 70, 9),
        Candidate(2, 50, 8),
        Candidate(3, 30, 5),
        Candidate(4, 10, 4),
        Candidate(5, 0, 0),
    ]
    assert greedy(100, candidates) == [1, 3]


def test_greedy_breaks_ties_by_lower_cost_then_lower_id() -> None:
    # Three projects with 5 votes each, budget 60: the cheaper first (id 3, cost 20),
    # then between ids 1 and 2 (both cost 40) the lower id; 2 no longer fits.
    candidates = [Candidate(2, 40, 5), Candidate(1, 40, 5), Candidate(3, 20, 5)]
    assert greedy(60, candidates) == [3, 1]


def test_equal_shares_funds_the_minority_greedy_leaves_out() -> None:
    # 10 voters, budget 100: each holds 10. Voters 0-5 approve A (60) and B (40);
    # voters 6-9 approve C (40). Greedy by votes: A (6), B (6) -> 100 spent, C left out.
    # Equal shares: B costs 40/6 = 6.67 per supporter, A 10, C 10: B first; then A's
    # supporters hold 6 x 3.33 = 20 < 60, while C's four pay 10 each: C. A never fits.
    costs = {1: 60, 2: 40, 3: 40}
    ballots = [{1, 2}] * 6 + [{3}] * 4
    assert equal_shares(100, costs, ballots) == [2, 3]
    votes, funded = tally("greedy", 100, costs, ballots)
    assert votes == {1: 6, 2: 6, 3: 4}
    assert funded == [2, 1]  # tie at 6 votes: the cheaper B first


def test_equal_shares_lets_supporters_with_little_money_pay_all_they_hold() -> None:
    # Budget 90, 3 voters with 30 each. Voter 0 approves A (20) alone: pays 20, keeps 10.
    # B (60) is approved by all: rho solves min(10, r) + r + r = 60 -> r = 25.
    costs = {1: 20, 2: 60}
    ballots = [{1, 2}, {2}, {2}]
    # First round: A's rho = 20, B's rho = 20 (60/3): tie on rho, A is cheaper.
    assert equal_shares(90, costs, ballots) == [1, 2]


def test_equal_shares_completes_greedily_with_money_left() -> None:
    # Budget 100, 2 voters with 50 each. A (80) approved by both: rho 40. B (30) approved
    # by voter 0 only: rho 30 -> B first; then A needs 80 but the two hold 20 + 50 = 70.
    # Completion by votes: A (2 votes) does not fit in 70 left. Nothing else: [B].
    costs = {1: 80, 2: 30}
    ballots = [{1, 2}, {1}]
    assert equal_shares(100, costs, ballots) == [2]
    # Add C (20) approved by voter 1: C first (rho 20), voter 1 keeps 30; then B (rho 30)
    # before A (rho 50: voter 1's 30 is short of 40, so voter 0 would pay 50); then A's
    # supporters hold 20 + 30 = 50 < 80.
    costs[3] = 20
    assert equal_shares(100, costs, [{1, 2}, {1, 3}]) == [3, 2]


def test_equal_shares_without_ballots_funds_nothing() -> None:
    assert equal_shares(100, {1: 10}, []) == []


def test_an_unknown_rule_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown budget rule 'lottery'"):
        tally("lottery", 100, {1: 10}, [{1}])
