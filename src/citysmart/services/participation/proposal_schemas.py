"""Request bodies of the processes and proposals API (shared with the page forms)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

PhaseKind = Literal[
    "information", "proposals", "supports", "voting", "budgeting", "survey", "follow_up"
]


class PhaseIn(BaseModel):
    """One phase of a process, in order."""

    kind: PhaseKind
    title: str = Field(max_length=200)
    title_ko: str | None = Field(default=None, max_length=200)
    starts_at: AwareDatetime
    ends_at: AwareDatetime


class ProcessCreate(BaseModel):
    """A new process (unpublished until an operator publishes it)."""

    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,78}[a-z0-9]$")
    title: str = Field(max_length=200)
    title_ko: str | None = Field(default=None, max_length=200)
    description: str = Field(default="", max_length=20_000)
    area_code: str | None = Field(default=None, max_length=16)
    support_threshold: int = Field(default=100, ge=1, le=1_000_000)
    quorum: int = Field(default=0, ge=0, le=1_000_000)
    published: bool = False
    phases: list[PhaseIn] = Field(default_factory=list, max_length=20)


class ProcessUpdate(BaseModel):
    """Changes to a process; phases, when given, replace all of them."""

    title: str | None = Field(default=None, max_length=200)
    title_ko: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=20_000)
    area_code: str | None = Field(default=None, max_length=16)
    support_threshold: int | None = Field(default=None, ge=1, le=1_000_000)
    quorum: int | None = Field(default=None, ge=0, le=1_000_000)
    published: bool | None = None
    phases: list[PhaseIn] | None = Field(default=None, max_length=20)


class ProposalCreate(BaseModel):
    """A new proposal."""

    title: str = Field(max_length=200)
    body: str = Field(max_length=10_000)
    category: str = Field(max_length=32)
    area_code: str | None = Field(default=None, max_length=16)
    lon: float | None = None
    lat: float | None = None


class ProposalUpdate(BaseModel):
    """An author's edit of a proposal (before its first support)."""

    title: str | None = Field(default=None, max_length=200)
    body: str | None = Field(default=None, max_length=10_000)
    category: str | None = Field(default=None, max_length=32)
    area_code: str | None = Field(default=None, max_length=16)
    lon: float | None = None
    lat: float | None = None


class VoteIn(BaseModel):
    """A ballot."""

    choice: Literal["yes", "no", "abstain"]


class MilestoneCreate(BaseModel):
    """A step in carrying out an accepted proposal."""

    title: str = Field(max_length=200)
    title_ko: str | None = Field(default=None, max_length=200)
    date: dt.date
    status: Literal["planned", "in_progress", "done"] = "planned"
    note: str = Field(default="", max_length=5_000)


class StatusIn(BaseModel):
    """The follow-up status of an accepted proposal."""

    status: Literal["in_execution", "implemented"]
