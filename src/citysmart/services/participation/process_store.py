"""Storing processes and their phases, and their public view."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from citysmart.core.admin_areas import load_admin_areas
from citysmart.core.errors import Problem
from citysmart.core.time import isoformat, utcnow
from citysmart.services.participation import proposals as rules
from citysmart.services.participation.models_process import PHASE_KINDS, Phase, Process
from citysmart.services.participation.models_proposal import Proposal
from citysmart.services.participation.proposal_schemas import (
    PhaseIn,
    ProcessCreate,
    ProcessUpdate,
)


def _bad(exc: rules.RuleError) -> Problem:
    return Problem(422, "Invalid process", str(exc))


def check_area(code: str | None) -> str | None:
    """Return a known eup/myeon/dong code (or None), else raise a 422 Problem."""
    if code in (None, ""):
        return None
    if code not in {a.code for a in load_admin_areas()}:
        raise Problem(422, "Unknown area", f"{code!r} is not one of Sejong's eup/myeon/dong codes")
    return code


def _phases(process_id: int, phases: list[PhaseIn]) -> list[Phase]:
    rows = [
        Phase(
            process_id=process_id,
            position=i,
            kind=p.kind,
            title=rules.clean_line(p.title, 200, f"phase {i + 1}'s title"),
            title_ko=rules.clean_line(p.title_ko or "", 200, "title_ko", required=False) or None,
            starts_at=p.starts_at.astimezone(dt.UTC),
            ends_at=p.ends_at.astimezone(dt.UTC),
        )
        for i, p in enumerate(phases)
    ]
    rules.check_phases(rows, PHASE_KINDS)
    return rows


def create_process(session: Session, data: ProcessCreate, user_id: int) -> Process:
    """Store a new process and its phases (409 when the slug is taken)."""
    if session.scalar(select(Process.id).where(Process.slug == data.slug)) is not None:
        raise Problem(409, "Slug taken", f"a process named {data.slug!r} exists already")
    try:
        process = Process(
            slug=data.slug,
            title=rules.clean_line(data.title, 200, "title"),
            title_ko=rules.clean_line(data.title_ko or "", 200, "title_ko", required=False) or None,
            description=rules.clean_text(data.description, 20_000, "description", required=False),
            area_code=check_area(data.area_code),
            support_threshold=data.support_threshold,
            quorum=data.quorum,
            published=data.published,
            created_by=user_id,
            created_at=utcnow(),
        )
        session.add(process)
        session.flush()
        session.add_all(_phases(process.id, data.phases))
    except rules.RuleError as exc:
        raise _bad(exc) from exc
    session.flush()
    return process


def update_process(session: Session, process: Process, data: ProcessUpdate) -> Process:
    """Change a process; given phases replace the old ones."""
    try:
        if data.title is not None:
            process.title = rules.clean_line(data.title, 200, "title")
        if data.title_ko is not None:
            process.title_ko = (
                rules.clean_line(data.title_ko, 200, "title_ko", required=False) or None
            )
        if data.description is not None:
            process.description = rules.clean_text(
                data.description, 20_000, "description", required=False
            )
        if "area_code" in data.model_fields_set:
            process.area_code = check_area(data.area_code)
        if data.support_threshold is not None:
            process.support_threshold = data.support_threshold
        if data.quorum is not None:
            process.quorum = data.quorum
        if data.published is not None:
            process.published = data.published
        if data.phases is not None:
            new = _phases(process.id, data.phases)
            session.execute(delete(Phase).where(Phase.process_id == process.id))
            session.flush()
            session.add_all(new)
    except rules.RuleError as exc:
        raise _bad(exc) from exc
    session.flush()
    return process


def phases_of(session: Session, process_id: int) -> list[Phase]:
    """Return a process's phases in order."""
    query = select(Phase).where(Phase.process_id == process_id).order_by(Phase.position)
    return list(session.scalars(query))


def get_process(session: Session, ref: str | int, *, published_only: bool) -> Process:
    """Return a process by id or slug (404 if unknown, or unpublished for the public)."""
    if isinstance(ref, int) or ref.isdigit():
        process = session.get(Process, int(ref))
    else:
        process = session.scalar(select(Process).where(Process.slug == ref))
    if process is None or (published_only and not process.published):
        raise Problem(404, "Not found", f"no process {ref!r}")
    return process


def list_processes(session: Session, *, published_only: bool = True) -> list[Process]:
    """Return processes, newest first."""
    query = select(Process).order_by(Process.created_at.desc(), Process.id.desc())
    if published_only:
        query = query.where(Process.published.is_(True))
    return list(session.scalars(query))


def phase_public(phase: Phase, now: dt.datetime) -> dict[str, Any]:
    """Return the public view of a phase."""
    en, ko = rules.PHASE_LABELS.get(phase.kind, (phase.kind, phase.kind))
    return {
        "position": phase.position,
        "kind": phase.kind,
        "kind_label": en,
        "kind_label_ko": ko,
        "title": phase.title,
        "title_ko": phase.title_ko,
        "starts_at": isoformat(phase.starts_at),
        "ends_at": isoformat(phase.ends_at),
        "current": phase.starts_at <= now < phase.ends_at,
        "past": phase.ends_at <= now,
    }


def process_public(
    session: Session, process: Process, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Return the public view of a process: its phases, the current one, proposal count."""
    now = now or utcnow()
    phases = phases_of(session, process.id)
    current = rules.current_phase(phases, now)
    count = session.scalar(
        select(func.count())
        .select_from(Proposal)
        .where(Proposal.process_id == process.id, Proposal.hidden_at.is_(None))
    )
    return {
        "id": process.id,
        "slug": process.slug,
        "title": process.title,
        "title_ko": process.title_ko,
        "description": process.description,
        "area_code": process.area_code,
        "support_threshold": process.support_threshold,
        "quorum": process.quorum,
        "published": process.published,
        "created_at": isoformat(process.created_at),
        "phases": [phase_public(p, now) for p in phases],
        "current_phase": current.kind if current else None,
        "proposal_count": int(count or 0),
        "decision_rule": rules.DECISION_RULE,
        "decision_rule_ko": rules.DECISION_RULE_KO,
        "link": f"/participation/processes/{process.slug}",
    }
