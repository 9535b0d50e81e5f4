"""Participatory-budget rules: what a ballot may hold, and which projects a tally funds.

Two rules decide the winners, both on approval ballots (a ballot approves the projects
it picks):

- **greedy** (the default, as most cities run it): projects in order of votes, each
  funded while the money left covers it; a project that does not fit is skipped and the
  next one tried.
- **equal_shares** (the Method of Equal Shares, Peters and Skowron): each voter holds an
  equal share of the budget; a project is funded when its supporters can pay for it, the
  one whose supporters each pay least first; money left when no project is affordable is
  spent greedily by votes on what still fits (the usual completion).

Ties are broken deterministically: more votes first, then lower cost, then lower id.
Amounts are whole won; equal shares computes in exact fractions.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Final

GREEDY: Final = "greedy"
EQUAL_SHARES: Final = "equal_shares"
RULES: Final = (GREEDY, EQUAL_SHARES)
RULE_NAMES: Final = {
    GREEDY: ("greedy by votes", "득표순 선정"),
    EQUAL_SHARES: ("Method of Equal Shares", "균등 몫 방식"),
}


@dataclass(frozen=True, slots=True)
class BallotRule:
    """What a budget asks of a ballot."""

    total_krw: int
    min_share_pct: int | None = None  # spend at least this share of the total to check out
    max_projects: int | None = None

    def minimum_krw(self) -> int:
        """Return the least a checked-out ballot must spend (0 without a minimum rule)."""
        if not self.min_share_pct:
            return 0
        return -(-self.total_krw * self.min_share_pct // 100)  # ceiling, in whole won

    def describe(self) -> str:
        """Say the rule in one English sentence."""
        parts = [f"Choose projects costing at most {self.total_krw:,} KRW in total"]
        if self.min_share_pct:
            parts.append(
                f"at least {self.min_share_pct}% ({self.minimum_krw():,} KRW) must be spent"
            )
        if self.max_projects:
            parts.append(f"at most {self.max_projects} projects")
        return "; ".join(parts) + "."

    def describe_ko(self) -> str:
        """Say the rule in one Korean sentence."""
        parts = [f"총 {self.total_krw:,}원 이내에서 사업을 고르세요"]
        if self.min_share_pct:
            parts.append(f"최소 {self.min_share_pct}%({self.minimum_krw():,}원)를 배정해야 합니다")
        if self.max_projects:
            parts.append(f"최대 {self.max_projects}개 사업")
        return "; ".join(parts) + "."


def draft_problem(rule: BallotRule, costs: Sequence[int]) -> str | None:
    """Say why a ballot being filled in is refused (over budget, too many), or None."""
    spent = sum(costs)
    if spent > rule.total_krw:
        return f"the chosen projects cost {spent:,} KRW, over the budget of {rule.total_krw:,} KRW"
    if rule.max_projects is not None and len(costs) > rule.max_projects:
        return f"{len(costs)} projects chosen; at most {rule.max_projects} are allowed"
    return None


def checkout_problem(rule: BallotRule, costs: Sequence[int]) -> str | None:
    """Say why a ballot may not be checked out (also empty or under the minimum), or None."""
    problem = draft_problem(rule, costs)
    if problem is not None:
        return problem
    if not costs:
        return "choose at least one project before checking out"
    spent = sum(costs)
    if spent < rule.minimum_krw():
        return (
            f"the chosen projects cost {spent:,} KRW; at least {rule.minimum_krw():,} KRW "
            f"({rule.min_share_pct}% of the budget) must be allocated"
        )
    return None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A project in a tally: its id, cost and votes."""

    id: int
    cost: int
    votes: int


def by_votes(candidates: Iterable[Candidate]) -> list[Candidate]:
    """Order projects by votes (most first), then lower cost, then lower id."""
    return sorted(candidates, key=lambda c: (-c.votes, c.cost, c.id))


def greedy(total: int, candidates: Iterable[Candidate], spent: int = 0) -> list[int]:
    """Fund projects by votes while the money lasts, skipping those that do not fit.

    Projects without votes are never funded. ``spent`` is what was already committed.
    """
    funded: list[int] = []
    for candidate in by_votes(candidates):
        if candidate.votes > 0 and spent + candidate.cost <= total:
            funded.append(candidate.id)
            spent += candidate.cost
    return funded


def _rho(cost: int, balances: list[Fraction]) -> Fraction | None:
    """Return the least per-supporter payment that covers ``cost``, or None if unaffordable.

    Each supporter pays min(balance, rho); those who cannot pay rho pay all they hold.
    """
    if not balances or sum(balances) < cost:
        return None
    remaining = Fraction(cost)
    left = len(balances)
    for balance in sorted(balances):
        rho = remaining / left
        if balance >= rho:
            return rho
        remaining -= balance
        left -= 1
    return None  # unreachable: the sum covered the cost


def equal_shares(
    total: int, costs: Mapping[int, int], ballots: Sequence[Collection[int]]
) -> list[int]:
    """Fund projects by the Method of Equal Shares (approval ballots), then complete greedily.

    ``costs`` maps each project's id to its cost; each ballot is the set of project ids it
    approves. Returns the funded ids in the order they were chosen.
    """
    if not ballots:
        return []
    share = Fraction(total, len(ballots))
    balances = [share] * len(ballots)
    supporters: dict[int, list[int]] = {pid: [] for pid in costs}
    for voter, ballot in enumerate(ballots):
        for pid in ballot:
            if pid in supporters:
                supporters[pid].append(voter)
    funded: list[int] = []
    open_ids = {pid for pid, voters in supporters.items() if voters}
    while True:
        best: tuple[Fraction, int, int] | None = None  # (rho, cost, id): the least wins
        for pid in open_ids:
            rho = _rho(costs[pid], [balances[v] for v in supporters[pid]])
            if rho is not None and (best is None or (rho, costs[pid], pid) < best):
                best = (rho, costs[pid], pid)
        if best is None:
            break
        rho, cost, pid = best
        for voter in supporters[pid]:
            balances[voter] -= min(balances[voter], rho)
        funded.append(pid)
        open_ids.discard(pid)
    spent = sum(costs[pid] for pid in funded)
    rest = [Candidate(pid, costs[pid], len(supporters[pid])) for pid in open_ids]
    return funded + greedy(total, rest, spent)


def tally(
    rule: str, total: int, costs: Mapping[int, int], ballots: Sequence[Collection[int]]
) -> tuple[dict[int, int], list[int]]:
    """Count each project's votes and return them with the ids funded by ``rule``."""
    votes = dict.fromkeys(costs, 0)
    for ballot in ballots:
        for pid in set(ballot):
            if pid in votes:
                votes[pid] += 1
    if rule == EQUAL_SHARES:
        return votes, equal_shares(total, costs, ballots)
    if rule != GREEDY:
        raise ValueError(f"unknown budget rule {rule!r}; expected one of {', '.join(RULES)}")
    return votes, greedy(total, [Candidate(pid, costs[pid], votes[pid]) for pid in costs])
