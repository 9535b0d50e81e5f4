"""Regulatory-sandbox rules: fields, tracks, the project lifecycle and who may sign up when.

A project is ``planned``, ``selected`` for the sandbox, ``demonstrating`` (the trial runs),
``evaluated``, then ``ended`` or ``converted`` to a permanent service. Stages only move
forward, one step at a time; citizens sign up while a project is selected or demonstrating.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

FIELDS: Final = {
    "healthcare": ("Healthcare", "보건의료"),
    "transport": ("Transport", "교통"),
    "safety": ("Safety", "안전"),
    "living": ("Living", "생활"),
    "energy": ("Energy", "에너지"),
    "education": ("Education", "교육"),
}
TRACKS: Final = {
    "rapid_check": ("Rapid check", "신속확인"),
    "temporary_permit": ("Temporary permit", "임시허가"),
    "demonstration_exemption": ("Demonstration exemption", "실증특례"),
}
PLANNED, SELECTED, DEMONSTRATING = "planned", "selected", "demonstrating"
EVALUATED, ENDED, CONVERTED = "evaluated", "ended", "converted"
STAGES: Final = (PLANNED, SELECTED, DEMONSTRATING, EVALUATED, ENDED, CONVERTED)
STAGE_LABELS: Final = {
    PLANNED: ("Planned", "계획"),
    SELECTED: ("Selected", "선정"),
    DEMONSTRATING: ("Demonstrating", "실증 중"),
    EVALUATED: ("Evaluated", "평가"),
    ENDED: ("Ended", "종료"),
    CONVERTED: ("Converted to a service", "정식 서비스 전환"),
}
NEXT_STAGES: Final[dict[str, tuple[str, ...]]] = {
    PLANNED: (SELECTED,),
    SELECTED: (DEMONSTRATING,),
    DEMONSTRATING: (EVALUATED,),
    EVALUATED: (ENDED, CONVERTED),
    ENDED: (),
    CONVERTED: (),
}
SIGNUP_STAGES: Final = (SELECTED, DEMONSTRATING)
ENTRY_KINDS: Final = ("milestone", "report")
ENTRY_STATUSES: Final = ("planned", "done", "published")


class StageError(ValueError):
    """A stage change the lifecycle refuses (``allowed`` names the possible next stages)."""

    def __init__(self, message: str, allowed: tuple[str, ...]) -> None:
        super().__init__(message)
        self.allowed = allowed


def check_stage_change(before: str, after: str) -> None:
    """Check that a project may move from ``before`` to ``after``."""
    if after not in STAGES:
        raise ValueError(f"unknown stage {after!r}: use one of {', '.join(STAGES)}")
    allowed = NEXT_STAGES.get(before, ())
    if after not in allowed:
        shown = ", ".join(allowed) if allowed else "nothing (the project is over)"
        raise StageError(f"a {before} project may move to {shown}, not to {after}", allowed)


def check_field(field: str) -> str:
    """Return a known field code."""
    if field not in FIELDS:
        raise ValueError(f"unknown field {field!r}: use one of {', '.join(FIELDS)}")
    return field


def check_track(track: str) -> str:
    """Return a known track code."""
    if track not in TRACKS:
        raise ValueError(f"unknown track {track!r}: use one of {', '.join(TRACKS)}")
    return track


def check_period(start: dt.date | None, end: dt.date | None) -> None:
    """Check that a period's end is not before its start."""
    if start is not None and end is not None and end < start:
        raise ValueError(f"the period ends ({end}) before it starts ({start})")


def signup_refusal(stage: str, taken: int, capacity: int | None, already: bool) -> str | None:
    """Say why a citizen may not sign up now, or None when they may."""
    if stage not in SIGNUP_STAGES:
        return f"sign-ups are open while a project is selected or demonstrating, not {stage}"
    if already:
        return "you have already signed up for this project"
    if capacity is not None and taken >= capacity:
        return f"the trial is full ({capacity} places)"
    return None
