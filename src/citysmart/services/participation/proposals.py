"""Pure rules for processes and proposals: phases, supports, the decision, the follow-up.

The rules as the pages state them:

- Proposals are made while a "proposals" phase runs; their authors may edit them until
  the first support.
- Supports are given while a "supports" phase runs *or* a "proposals" phase runs (as in
  CONSUL Democracy, where proposals collect supports from the day they are made). A
  proposal whose supports reach the process's threshold goes to the vote ("voting").
- Votes (yes, no, abstain) are cast on proposals in "voting" while a "voting" phase runs.
- After the last voting phase has ended, a proposal is **accepted** when it has more yes
  than no votes and the ballots cast (abstentions included) reach the process's quorum;
  otherwise it is **rejected** (a tie is rejected).
- Accepted proposals move on to "in_execution" and then "implemented".
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

# Fixed categories: code -> (English, Korean).
CATEGORIES: Final[dict[str, tuple[str, str]]] = {
    "mobility": ("Mobility and transport", "교통"),
    "environment": ("Environment and fine dust", "환경·미세먼지"),
    "safety": ("Safety", "안전"),
    "health": ("Health and welfare", "보건·복지"),
    "education": ("Education", "교육"),
    "culture": ("Culture and sport", "문화·체육"),
    "urban": ("Urban planning and housing", "도시·주거"),
    "economy": ("Economy and jobs", "경제·일자리"),
    "digital": ("Digital and smart city", "디지털·스마트시티"),
    "other": ("Other", "기타"),
}
STATUS_LABELS: Final[dict[str, tuple[str, str]]] = {
    "open": ("Collecting supports", "지지 모집 중"),
    "voting": ("In the vote", "투표 중"),
    "accepted": ("Accepted", "채택"),
    "rejected": ("Rejected", "부결"),
    "in_execution": ("In execution", "실행 중"),
    "implemented": ("Implemented", "완료"),
}
PHASE_LABELS: Final[dict[str, tuple[str, str]]] = {
    "information": ("Information", "안내"),
    "proposals": ("Proposals", "제안"),
    "supports": ("Supports", "지지"),
    "voting": ("Voting", "투표"),
    "budgeting": ("Budgeting", "예산"),
    "survey": ("Survey", "설문"),
    "follow_up": ("Follow-up", "후속 조치"),
}
CHOICES: Final = ("yes", "no", "abstain")
# Where an accepted proposal may go next (the operator's follow-up).
NEXT_STATUS: Final[dict[str, tuple[str, ...]]] = {
    "accepted": ("in_execution",),
    "in_execution": ("implemented",),
}
SUPPORT_PHASES: Final = ("supports", "proposals")
DECISION_RULE: Final = (
    "Accepted when yes votes outnumber no votes and the ballots cast (abstentions included) "
    "reach the quorum; otherwise rejected (a tie is rejected)."
)
DECISION_RULE_KO: Final = (
    "찬성이 반대보다 많고 투표수(기권 포함)가 정족수 이상이면 채택, 그렇지 않으면 부결"
    "(동수는 부결)."
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_CONTROL_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class PhaseLike(Protocol):
    """What the rules need of a phase."""

    kind: str
    starts_at: dt.datetime
    ends_at: dt.datetime


class RuleError(ValueError):
    """Input or an action the rules refuse, with a message that says why."""


def clean_line(text: str, limit: int, what: str, *, required: bool = True) -> str:
    """Return one line of user text: NFC, no control characters, trimmed, length-checked."""
    value = _CONTROL_LINE.sub(" ", unicodedata.normalize("NFC", text)).strip()
    if required and not value:
        raise RuleError(f"{what} is empty")
    if len(value) > limit:
        raise RuleError(f"{what} is {len(value)} characters long; at most {limit}")
    return value


def clean_text(text: str, limit: int, what: str, *, required: bool = True) -> str:
    """Return multi-line user text: NFC, control characters but newlines and tabs removed."""
    value = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    value = _CONTROL.sub("", value).strip()
    if required and not value:
        raise RuleError(f"{what} is empty")
    if len(value) > limit:
        raise RuleError(f"{what} is {len(value)} characters long; at most {limit}")
    return value


def check_category(code: str) -> str:
    """Return a known category code, or raise RuleError listing the known ones."""
    if code not in CATEGORIES:
        raise RuleError(f"unknown category {code!r}; one of {', '.join(CATEGORIES)}")
    return code


def check_phases(phases: Sequence[PhaseLike], kinds: Sequence[str]) -> None:
    """Refuse phases of unknown kinds, empty or reversed periods, or overlapping phases."""
    previous_end: dt.datetime | None = None
    for number, phase in enumerate(phases, start=1):
        if phase.kind not in kinds:
            raise RuleError(
                f"phase {number}: unknown kind {phase.kind!r}; one of {', '.join(kinds)}"
            )
        if phase.ends_at <= phase.starts_at:
            raise RuleError(f"phase {number} ends before it starts")
        if previous_end is not None and phase.starts_at < previous_end:
            raise RuleError(f"phase {number} starts before phase {number - 1} ends")
        previous_end = phase.ends_at


def current_phase(phases: Sequence[PhaseLike], now: dt.datetime) -> PhaseLike | None:
    """Return the phase running at ``now`` (starts inclusive, ends exclusive), if any."""
    return next((p for p in phases if p.starts_at <= now < p.ends_at), None)


def phase_open(phases: Sequence[PhaseLike], kinds: Sequence[str], now: dt.datetime) -> bool:
    """Whether a phase of one of ``kinds`` runs at ``now``."""
    phase = current_phase(phases, now)
    return phase is not None and phase.kind in kinds


def voting_over(phases: Sequence[PhaseLike], now: dt.datetime) -> bool:
    """Whether the process had a voting phase and every one has ended by ``now``."""
    voting = [p for p in phases if p.kind == "voting"]
    return bool(voting) and all(p.ends_at <= now for p in voting)


def reached_threshold(supports: int, threshold: int) -> bool:
    """Whether a proposal's supports send it to the vote."""
    return supports >= max(threshold, 1)


def may_edit(support_count: int, status: str) -> bool:
    """Whether an author may still edit a proposal (until its first support)."""
    return support_count == 0 and status == "open"


def progress_percent(supports: int, threshold: int) -> int:
    """Return the share of the threshold reached, 0-100."""
    return min(100, round(100 * supports / max(threshold, 1)))


@dataclass(frozen=True, slots=True)
class Decision:
    """The result of a vote, with the rule as applied."""

    accepted: bool
    yes: int
    no: int
    abstain: int
    quorum: int
    note: str

    @property
    def status(self) -> str:
        """Return the proposal's status after the decision."""
        return "accepted" if self.accepted else "rejected"

    @property
    def turnout(self) -> int:
        """Return the ballots cast."""
        return self.yes + self.no + self.abstain


def decide(yes: int, no: int, abstain: int, quorum: int) -> Decision:
    """Apply the decision rule to a vote's tallies."""
    if min(yes, no, abstain, quorum) < 0:
        raise RuleError("tallies and quorum cannot be negative")
    turnout = yes + no + abstain
    if turnout < quorum:
        note = f"rejected: {turnout} ballots, under the quorum of {quorum}"
        return Decision(False, yes, no, abstain, quorum, note)
    if yes > no:
        note = f"accepted: {yes} yes > {no} no, {turnout} ballots (quorum {quorum})"
        return Decision(True, yes, no, abstain, quorum, note)
    reason = "a tie" if yes == no else f"{yes} yes ≤ {no} no"
    return Decision(False, yes, no, abstain, quorum, f"rejected: {reason}, {turnout} ballots")


def check_next_status(current: str, wanted: str) -> str:
    """Return ``wanted`` if the follow-up may move a proposal there from ``current``."""
    if wanted not in NEXT_STATUS.get(current, ()):
        allowed = ", ".join(NEXT_STATUS.get(current, ())) or "nothing"
        raise RuleError(f"a proposal that is {current} can move to {allowed}, not {wanted}")
    return wanted
