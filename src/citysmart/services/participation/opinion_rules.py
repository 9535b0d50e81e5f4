"""The opinion channel's rules: kinds, categories, statuses and how an item moves between them.

Statuses follow FIWARE's IssueReporting ``resolutionStatus`` (Open, Assigned, InProgress,
Closed): an item is filed ``open`` (already routed to its category's department), an operator
``assigned`` it to a department (confirming or changing the routing), work is ``in_progress``,
and it is ``closed`` with an answer. Closing needs a non-empty answer; a closed item stays
closed (a new opinion is filed instead), so the answer a citizen read never changes under them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

KINDS: Final = ("idea", "complaint")
KIND_LABELS: Final = {"idea": ("Idea", "제안"), "complaint": ("Complaint", "민원")}

# Category code -> (English, Korean). Fixed: routing and open-data statistics key on them.
CATEGORIES: Final = {
    "roads": ("Roads", "도로"),
    "transport": ("Public transport", "대중교통"),
    "parking": ("Parking", "주차"),
    "environment": ("Environment", "환경"),
    "safety": ("Safety", "안전"),
    "parks": ("Parks and green spaces", "공원·녹지"),
    "welfare": ("Welfare", "복지"),
    "culture": ("Culture and sport", "문화·체육"),
    "education": ("Education", "교육"),
    "administration": ("Administration", "행정"),
    "other": ("Other", "기타"),
}

# The departments a new city starts with, and the categories each takes (operators change
# the routing later; every category must map to exactly one department).
DEFAULT_DEPARTMENTS: Final = (
    ("road", "Road Management Division", "도로과", ("roads",)),
    ("transport", "Transportation Division", "교통과", ("transport", "parking")),
    ("environment", "Environment Policy Division", "환경정책과", ("environment",)),
    ("safety", "Safety Division", "안전총괄과", ("safety",)),
    ("parks", "Parks and Greenery Division", "공원관리과", ("parks",)),
    ("welfare", "Welfare Policy Division", "복지정책과", ("welfare",)),
    ("culture", "Culture and Sports Division", "문화체육과", ("culture", "education")),
    ("civil", "Civil Affairs Office", "민원담당관", ("administration", "other")),
)

OPEN, ASSIGNED, IN_PROGRESS, CLOSED = "open", "assigned", "in_progress", "closed"
STATUSES: Final = (OPEN, ASSIGNED, IN_PROGRESS, CLOSED)
STATUS_LABELS: Final = {
    OPEN: ("Open", "접수"),
    ASSIGNED: ("Assigned", "배정"),
    IN_PROGRESS: ("In progress", "처리 중"),
    CLOSED: ("Closed", "완료"),
}
# IssueReporting's resolutionStatus values for ours.
RESOLUTION_STATUS: Final = {
    OPEN: "Open",
    ASSIGNED: "Assigned",
    IN_PROGRESS: "InProgress",
    CLOSED: "Closed",
}
TRANSITIONS: Final[dict[str, tuple[str, ...]]] = {
    OPEN: (ASSIGNED, CLOSED),
    ASSIGNED: (IN_PROGRESS, CLOSED),
    IN_PROGRESS: (CLOSED,),
    CLOSED: (),
}


class TransitionError(ValueError):
    """A status change the rules refuse (``allowed`` names what the item may move to)."""

    def __init__(self, message: str, allowed: tuple[str, ...]) -> None:
        super().__init__(message)
        self.allowed = allowed


@dataclass(frozen=True, slots=True)
class Transition:
    """A checked status change."""

    before: str
    after: str


def check_transition(before: str, after: str, answer: str | None) -> Transition:
    """Check that an item may move from ``before`` to ``after`` (closing needs an answer)."""
    if after not in STATUSES:
        raise ValueError(f"unknown status {after!r}: use one of {', '.join(STATUSES)}")
    allowed = TRANSITIONS.get(before, ())
    if after not in allowed:
        shown = ", ".join(allowed) if allowed else "nothing (it is closed)"
        raise TransitionError(f"an item {before} may move to {shown}, not to {after}", allowed)
    if after == CLOSED and not (answer or "").strip():
        raise ValueError("closing needs an answer for the citizen")
    return Transition(before, after)


def check_category(category: str) -> str:
    """Return a known category code, or say which ones exist."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}: use one of {', '.join(CATEGORIES)}")
    return category


def check_kind(kind: str) -> str:
    """Return a known kind ("idea" or "complaint")."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}: use idea or complaint")
    return kind


def default_routing() -> dict[str, str]:
    """Map each category to the code of the department that takes it by default."""
    return {cat: code for code, _, _, cats in DEFAULT_DEPARTMENTS for cat in cats}
