"""Surveys and participatory budgets."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from citysmart.core.db import Base
from citysmart.core.time import utcnow
from citysmart.core.types import UTCDateTime

__all__ = [
    "Ballot",
    "BallotLine",
    "Budget",
    "BudgetProject",
    "Survey",
    "SurveyAnswer",
    "SurveyOption",
    "SurveyQuestion",
    "SurveyResponse",
]

# Who may answer a survey.
AUDIENCES = ("signed_in", "verified")
# What a question asks for: one option, several options, free text, or a 1-5 scale.
QUESTION_KINDS = ("single", "multiple", "text", "scale")
# How a budget's winners are found (budget_rules.RULES).
BUDGET_RULES = ("greedy", "equal_shares")


class Survey(Base):
    """A survey: in a process, or standalone (for a sandbox project's feedback)."""

    __tablename__ = "participation_survey"

    id: Mapped[int] = mapped_column(primary_key=True)
    # None: a standalone survey (a sandbox project links to it by this id).
    process_id: Mapped[int | None] = mapped_column(
        ForeignKey("participation_process.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    title_ko: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    audience: Mapped[str] = mapped_column(String(16), default="signed_in")  # one of AUDIENCES
    opens_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SurveyQuestion(Base):
    """One question of a survey, asked in order."""

    __tablename__ = "participation_survey_question"
    __table_args__ = (UniqueConstraint("survey_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(
        ForeignKey("participation_survey.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # one of QUESTION_KINDS
    prompt: Mapped[str] = mapped_column(String(500))
    prompt_ko: Mapped[str | None] = mapped_column(String(500))
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    max_choices: Mapped[int | None] = mapped_column(Integer)  # "multiple" only; None: any


class SurveyOption(Base):
    """One option of a choice question."""

    __tablename__ = "participation_survey_option"
    __table_args__ = (UniqueConstraint("question_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(
        ForeignKey("participation_survey_question.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(200))
    label_ko: Mapped[str | None] = mapped_column(String(200))


class SurveyResponse(Base):
    """One person's answers to a survey (one per person)."""

    __tablename__ = "participation_survey_response"
    __table_args__ = (UniqueConstraint("survey_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(
        ForeignKey("participation_survey.id", ondelete="CASCADE")
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SurveyAnswer(Base):
    """One answer in a response: a chosen option, a text or a scale value."""

    __tablename__ = "participation_survey_answer"

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(
        ForeignKey("participation_survey_response.id", ondelete="CASCADE"), index=True
    )
    question_id: Mapped[int] = mapped_column(
        ForeignKey("participation_survey_question.id", ondelete="CASCADE"), index=True
    )
    option_id: Mapped[int | None] = mapped_column(
        ForeignKey("participation_survey_option.id", ondelete="CASCADE")
    )
    text: Mapped[str | None] = mapped_column(Text)
    value: Mapped[int | None] = mapped_column(Integer)


class Budget(Base):
    """A participatory budget in a process: money residents allocate to projects."""

    __tablename__ = "participation_budget"

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[int] = mapped_column(
        ForeignKey("participation_process.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    title_ko: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    total_krw: Mapped[int] = mapped_column(BigInteger)
    area_code: Mapped[str | None] = mapped_column(String(16))  # a dong's code; None: city-wide
    # A ballot must spend at least this share of the total (Decidim's "minimum" rule).
    min_share_pct: Mapped[int | None] = mapped_column(Integer)
    max_projects: Mapped[int | None] = mapped_column(Integer)  # None: any number
    rule: Mapped[str] = mapped_column(String(16), default="greedy")  # one of BUDGET_RULES
    opens_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class BudgetProject(Base):
    """A project residents may fund from a budget."""

    __tablename__ = "participation_budget_project"

    id: Mapped[int] = mapped_column(primary_key=True)
    budget_id: Mapped[int] = mapped_column(
        ForeignKey("participation_budget.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    title_ko: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    cost_krw: Mapped[int] = mapped_column(BigInteger)
    area_code: Mapped[str | None] = mapped_column(String(16))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Ballot(Base):
    """One resident's ballot for a budget: editable until checked out, then final."""

    __tablename__ = "participation_ballot"
    __table_args__ = (UniqueConstraint("budget_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    budget_id: Mapped[int] = mapped_column(
        ForeignKey("participation_budget.id", ondelete="CASCADE")
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    checked_out_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class BallotLine(Base):
    """A project chosen on a ballot."""

    __tablename__ = "participation_ballot_line"

    ballot_id: Mapped[int] = mapped_column(
        ForeignKey("participation_ballot.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[int] = mapped_column(
        ForeignKey("participation_budget_project.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    )
