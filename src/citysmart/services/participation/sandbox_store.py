"""Regulatory-sandbox storage: projects, stage changes, milestones and reports, sign-ups."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citysmart.core.auth import Principal
from citysmart.core.time import isoformat, utcnow
from citysmart.services.participation import sandbox_rules as rules
from citysmart.services.participation import survey_store
from citysmart.services.participation.follows import notify_followers
from citysmart.services.participation.models_budget import Survey
from citysmart.services.participation.models_sandbox import (
    SandboxEntry,
    SandboxEvent,
    SandboxProject,
    SandboxSignup,
)
from citysmart.services.participation.opinion_store import NotFound
from citysmart.services.participation.opinion_text import clean_text

TARGET = "sandbox"  # the Follow.target_type of projects


class SignupRefused(ValueError):
    """A sign-up the rules refuse (closed stage, already signed up, full)."""


@dataclass(frozen=True, slots=True)
class ProjectInput:
    """What an operator registers or changes about a project."""

    title: str
    field: str
    track: str
    operator_name: str
    title_ko: str | None = None
    summary: str = ""
    place: str = ""
    scale: str = ""
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    capacity: int | None = None
    survey_id: int | None = None


def _apply(session: Session, project: SandboxProject, data: ProjectInput) -> None:
    """Check and copy a project's fields."""
    rules.check_field(data.field)
    rules.check_track(data.track)
    rules.check_period(data.period_start, data.period_end)
    if data.capacity is not None and data.capacity < 1:
        raise ValueError("capacity is at least 1 (leave it empty for no limit)")
    if data.survey_id is not None and session.get(Survey, data.survey_id) is None:
        raise ValueError(f"no survey {data.survey_id}")
    project.title = clean_text(data.title, 200, field="title")
    project.title_ko = clean_text(data.title_ko, 200, field="title_ko", required=False) or None
    project.summary = clean_text(data.summary, 5000, field="summary", required=False)
    project.field = data.field
    project.track = data.track
    project.operator_name = clean_text(data.operator_name, 200, field="operator")
    project.place = clean_text(data.place, 200, field="place", required=False)
    project.scale = clean_text(data.scale, 300, field="scale", required=False)
    project.period_start = data.period_start
    project.period_end = data.period_end
    project.capacity = data.capacity
    project.survey_id = data.survey_id
    project.updated_at = utcnow()


def create_project(session: Session, actor: Principal, data: ProjectInput) -> SandboxProject:
    """Register a planned project."""
    project = SandboxProject(stage=rules.PLANNED, created_at=utcnow())
    _apply(session, project, data)
    session.add(project)
    session.flush()
    session.add(
        SandboxEvent(
            project_id=project.id,
            stage=rules.PLANNED,
            note="registered",
            actor_id=actor.user_id,
            at=project.created_at,
        )
    )
    session.flush()
    return project


def update_project(session: Session, project: SandboxProject, data: ProjectInput) -> None:
    """Change a project's description and conditions (not its stage)."""
    _apply(session, project, data)
    session.flush()


def get_project(session: Session, project_id: int) -> SandboxProject:
    """Return a project or raise NotFound."""
    project = session.get(SandboxProject, project_id)
    if project is None:
        raise NotFound(f"no sandbox project {project_id}")
    return project


def change_stage(
    session: Session, project: SandboxProject, actor: Principal, stage: str, note: str | None
) -> None:
    """Move a project to its next stage, record it and tell followers and participants."""
    rules.check_stage_change(project.stage, stage)
    project.stage = stage
    project.updated_at = utcnow()
    session.add(
        SandboxEvent(
            project_id=project.id,
            stage=stage,
            note=clean_text(note, 1000, field="note", required=False) or None,
            actor_id=actor.user_id,
            at=project.updated_at,
        )
    )
    en, ko = rules.STAGE_LABELS[stage]
    notify_followers(
        session,
        TARGET,
        project.id,
        "sandbox_stage",
        f"{project.title}: {en.lower()}",
        title_ko=f"{project.title_ko or project.title}: {ko}",
        link=f"/sandbox/projects/{project.id}",
        skip_user=actor.user_id,
    )
    session.flush()


def add_entry(
    session: Session,
    project: SandboxProject,
    kind: str,
    title: str,
    date: dt.date,
    body: str,
    status: str,
) -> SandboxEntry:
    """Add a milestone or a report to a project."""
    if kind not in rules.ENTRY_KINDS:
        raise ValueError(f"unknown kind {kind!r}: use milestone or report")
    if status not in rules.ENTRY_STATUSES:
        raise ValueError(f"unknown status {status!r}: use one of {', '.join(rules.ENTRY_STATUSES)}")
    entry = SandboxEntry(
        project_id=project.id,
        kind=kind,
        title=clean_text(title, 200, field="title"),
        date=date,
        body=clean_text(body, 20000, field="body", required=False),
        status=status,
        created_at=utcnow(),
    )
    session.add(entry)
    session.flush()
    return entry


def entries(session: Session, project_id: int) -> list[SandboxEntry]:
    """Return a project's milestones and reports by date."""
    return list(
        session.scalars(
            select(SandboxEntry)
            .where(SandboxEntry.project_id == project_id)
            .order_by(SandboxEntry.date, SandboxEntry.id)
        )
    )


def signup_count(session: Session, project_id: int) -> int:
    """Count a project's sign-ups."""
    query = select(func.count()).where(SandboxSignup.project_id == project_id)
    return int(session.scalar(query) or 0)


def is_signed_up(session: Session, project_id: int, user_id: int) -> bool:
    """Whether a user signed up for a project."""
    return session.get(SandboxSignup, (project_id, user_id)) is not None


def sign_up(session: Session, project: SandboxProject, user: Principal) -> SandboxSignup:
    """Sign a verified resident up for a trial (once; while open; within capacity)."""
    # Lock the project row so two sign-ups for the last place are not both admitted.
    session.execute(
        select(SandboxProject.id).where(SandboxProject.id == project.id).with_for_update()
    )
    refusal = rules.signup_refusal(
        project.stage,
        signup_count(session, project.id),
        project.capacity,
        is_signed_up(session, project.id, user.user_id),
    )
    if refusal:
        raise SignupRefused(refusal)
    signup = SandboxSignup(project_id=project.id, user_id=user.user_id, created_at=utcnow())
    session.add(signup)
    session.flush()
    return signup


def withdraw(session: Session, project: SandboxProject, user: Principal) -> bool:
    """Withdraw a sign-up; False if there was none."""
    signup = session.get(SandboxSignup, (project.id, user.user_id))
    if signup is None:
        return False
    session.delete(signup)
    session.flush()
    return True


def list_projects(
    session: Session, *, field: str | None = None, stage: str | None = None
) -> list[SandboxProject]:
    """Return projects, newest first, filtered by field and stage."""
    query = select(SandboxProject)
    if field:
        query = query.where(SandboxProject.field == field)
    if stage:
        query = query.where(SandboxProject.stage == stage)
    return list(session.scalars(query.order_by(SandboxProject.id.desc())))


def my_signups(session: Session, user_id: int) -> list[SandboxProject]:
    """Return the projects a user signed up for."""
    query = (
        select(SandboxProject)
        .join(SandboxSignup, SandboxSignup.project_id == SandboxProject.id)
        .where(SandboxSignup.user_id == user_id)
        .order_by(SandboxProject.id)
    )
    return list(session.scalars(query))


def project_view(
    session: Session, project: SandboxProject, *, detail: bool = False
) -> dict[str, Any]:
    """Return a project as anyone may read it (no sign-up personal data, only a count)."""
    view: dict[str, Any] = {
        "id": project.id,
        "title": project.title,
        "title_ko": project.title_ko,
        "summary": project.summary,
        "field": project.field,
        "track": project.track,
        "operator": project.operator_name,
        "place": project.place,
        "scale": project.scale,
        "period_start": project.period_start.isoformat() if project.period_start else None,
        "period_end": project.period_end.isoformat() if project.period_end else None,
        "stage": project.stage,
        "next_stages": list(rules.NEXT_STAGES[project.stage]),
        "signups_open": project.stage in rules.SIGNUP_STAGES,
        "capacity": project.capacity,
        "signups": signup_count(session, project.id),
        "survey_id": project.survey_id,
        "updated_at": isoformat(project.updated_at),
    }
    if detail:
        view["history"] = [
            {"stage": e.stage, "note": e.note, "at": isoformat(e.at)}
            for e in session.scalars(
                select(SandboxEvent)
                .where(SandboxEvent.project_id == project.id)
                .order_by(SandboxEvent.at, SandboxEvent.id)
            )
        ]
        view["entries"] = [
            {
                "id": e.id,
                "kind": e.kind,
                "title": e.title,
                "date": e.date.isoformat(),
                "body": e.body,
                "status": e.status,
            }
            for e in entries(session, project.id)
        ]
        view["survey"] = survey_summary(session, project.survey_id)
    return view


def survey_summary(session: Session, survey_id: int | None) -> dict[str, Any] | None:
    """Return the feedback survey's state and response count (its results page has the rest)."""
    survey = session.get(Survey, survey_id) if survey_id is not None else None
    if survey is None:
        return None
    return {
        "id": survey.id,
        "title": survey.title,
        "open": survey_store.is_open(survey),
        "closed": survey_store.is_closed(survey),
        "closes_at": isoformat(survey.closes_at),
        "respondents": survey_store.count_responses(session, survey.id),
        "link": f"/participation/surveys/{survey.id}",
        "results_link": f"/participation/surveys/{survey.id}/results",
        "results_api": f"/api/v1/participation/surveys/{survey.id}/results",
    }
