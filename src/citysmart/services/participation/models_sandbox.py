"""The opinion channel (ideas and complaints) and regulatory-sandbox projects."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from citysmart.core.db import Base
from citysmart.core.time import utcnow
from citysmart.core.types import UTCDateTime

__all__ = [
    "Department",
    "DepartmentCategory",
    "Opinion",
    "OpinionEvent",
    "SandboxEntry",
    "SandboxEvent",
    "SandboxProject",
    "SandboxSignup",
]


class Department(Base):
    """A city department that answers opinions."""

    __tablename__ = "participation_department"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    name_ko: Mapped[str | None] = mapped_column(String(120))


class DepartmentCategory(Base):
    """The routing: which department takes a category's new opinions."""

    __tablename__ = "participation_department_category"

    category: Mapped[str] = mapped_column(String(24), primary_key=True)
    department_id: Mapped[int] = mapped_column(
        ForeignKey("participation_department.id", ondelete="CASCADE"), index=True
    )


class Opinion(Base):
    """An idea or a complaint a citizen filed (IssueReporting)."""

    __tablename__ = "participation_opinion"
    __table_args__ = (Index("ix_participation_opinion_status", "status", "department_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))  # opinion_rules.KINDS
    category: Mapped[str] = mapped_column(String(24))  # opinion_rules.CATEGORIES
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    area_code: Mapped[str | None] = mapped_column(String(16))  # the dong
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    # The author lets anyone read the title, the text, the point and their name.
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="open")
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("participation_department.id", ondelete="SET NULL")
    )
    answer: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class OpinionEvent(Base):
    """One step of an opinion's history: filed, routed, a status change, an answer."""

    __tablename__ = "participation_opinion_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    opinion_id: Mapped[int] = mapped_column(
        ForeignKey("participation_opinion.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16))  # the status after this step
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("participation_department.id", ondelete="SET NULL")
    )
    note: Mapped[str | None] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SandboxProject(Base):
    """A regulatory-sandbox demonstration project."""

    __tablename__ = "participation_sandbox_project"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    title_ko: Mapped[str | None] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    field: Mapped[str] = mapped_column(String(16))  # sandbox_rules.FIELDS
    track: Mapped[str] = mapped_column(String(32))  # sandbox_rules.TRACKS
    operator_name: Mapped[str] = mapped_column(String(200))
    place: Mapped[str] = mapped_column(String(200), default="")
    scale: Mapped[str] = mapped_column(String(300), default="")
    period_start: Mapped[dt.date | None] = mapped_column(Date)
    period_end: Mapped[dt.date | None] = mapped_column(Date)
    stage: Mapped[str] = mapped_column(String(16), default="planned")
    capacity: Mapped[int | None] = mapped_column(Integer)  # trial places; None: no limit
    survey_id: Mapped[int | None] = mapped_column(
        ForeignKey("participation_survey.id", ondelete="SET NULL")
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SandboxEvent(Base):
    """A stage change of a project."""

    __tablename__ = "participation_sandbox_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("participation_sandbox_project.id", ondelete="CASCADE"), index=True
    )
    stage: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SandboxEntry(Base):
    """A project's milestone or report."""

    __tablename__ = "participation_sandbox_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("participation_sandbox_project.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(12))  # sandbox_rules.ENTRY_KINDS
    title: Mapped[str] = mapped_column(String(200))
    date: Mapped[dt.date] = mapped_column(Date)
    body: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(12))  # sandbox_rules.ENTRY_STATUSES
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SandboxSignup(Base):
    """A citizen signed up to try a project (one per person and project)."""

    __tablename__ = "participation_sandbox_signup"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("participation_sandbox_project.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
