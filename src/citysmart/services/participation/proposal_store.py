"""Storing proposals and their images, edits, follow-up; their public view."""

from __future__ import annotations

import datetime as dt
from typing import Any

from shapely.geometry import Point
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citysmart.core import roles
from citysmart.core.admin_areas import city_boundary
from citysmart.core.auth import Principal
from citysmart.core.errors import Problem
from citysmart.core.notifications import notify
from citysmart.core.time import isoformat, utcnow
from citysmart.services.participation import follows
from citysmart.services.participation import proposals as rules
from citysmart.services.participation.models_process import Process
from citysmart.services.participation.models_proposal import (
    Milestone,
    Proposal,
    ProposalImage,
)
from citysmart.services.participation.process_store import check_area, phases_of
from citysmart.services.participation.proposal_images import MAX_IMAGES, ImageError, clean_image
from citysmart.services.participation.proposal_opendata import publish_proposal
from citysmart.services.participation.proposal_schemas import (
    MilestoneCreate,
    ProposalCreate,
    ProposalUpdate,
)

SERVICE_NAME = "participation"


def invalid(exc: Exception) -> Problem:
    """Return the 422 Problem for input the rules refused."""
    return Problem(422, "Invalid proposal", str(exc))


def check_point(lon: float | None, lat: float | None) -> tuple[float | None, float | None]:
    """Return a point inside Sejong (or no point), else raise a 422 Problem."""
    if lon is None and lat is None:
        return None, None
    if lon is None or lat is None:
        raise Problem(422, "Invalid location", "give both lon and lat, or neither")
    if not city_boundary().covers(Point(lon, lat)):
        raise Problem(422, "Outside Sejong", f"the point ({lon}, {lat}) is not inside Sejong")
    return round(lon, 6), round(lat, 6)


def link(proposal_id: int) -> str:
    """Return a proposal's page."""
    return f"/participation/proposals/{proposal_id}"


def get_proposal(session: Session, proposal_id: int, viewer: Principal | None = None) -> Proposal:
    """Return a visible proposal of a published process (404 otherwise)."""
    proposal = session.get(Proposal, proposal_id)
    if proposal is None:
        raise Problem(404, "Not found", f"no proposal {proposal_id}")
    process = session.get(Process, proposal.process_id)
    staff = viewer is not None and _is_operator(viewer)
    if not staff and (proposal.hidden_at is not None or process is None or not process.published):
        raise Problem(404, "Not found", f"no proposal {proposal_id}")
    return proposal


def _is_operator(principal: Principal) -> bool:
    return roles.grants(principal.role, roles.OPERATOR)


def process_of(session: Session, proposal: Proposal) -> Process:
    """Return a proposal's process."""
    process = session.get(Process, proposal.process_id)
    assert process is not None  # a foreign key with ON DELETE CASCADE
    return process


def tell(
    session: Session,
    proposal: Proposal,
    kind: str,
    title: str,
    title_ko: str | None = None,
    *,
    with_process: bool = False,
) -> int:
    """Notify a proposal's author and followers (and its process's, if asked) once each."""
    recipients = set(follows.followers(session, "proposal", proposal.id))
    if with_process:
        recipients |= set(follows.followers(session, "process", proposal.process_id))
    if proposal.author_id is not None:
        recipients.add(proposal.author_id)
    for user_id in sorted(recipients):
        notify(
            session, user_id, SERVICE_NAME, kind, title, title_ko=title_ko, link=link(proposal.id)
        )
    return len(recipients)


def create_proposal(
    session: Session,
    process: Process,
    data: ProposalCreate,
    author: Principal,
    now: dt.datetime | None = None,
) -> Proposal:
    """Store a new proposal while the process's proposals phase runs."""
    now = now or utcnow()
    if not process.published:
        raise Problem(404, "Not found", f"no process {process.slug!r}")
    if not rules.phase_open(phases_of(session, process.id), ("proposals",), now):
        raise Problem(409, "Closed", "proposals are made only while a proposals phase runs")
    lon, lat = check_point(data.lon, data.lat)
    try:
        proposal = Proposal(
            process_id=process.id,
            author_id=author.user_id,
            title=rules.clean_line(data.title, 200, "title"),
            body=rules.clean_text(data.body, 10_000, "body"),
            category=rules.check_category(data.category),
            area_code=check_area(data.area_code),
            lon=lon,
            lat=lat,
            status="open",
            support_count=0,
            created_at=now,
            updated_at=now,
        )
    except rules.RuleError as exc:
        raise invalid(exc) from exc
    session.add(proposal)
    session.flush()
    follows.follow(session, author.user_id, "proposal", proposal.id)
    publish_proposal(session, proposal, process)
    return proposal


def _check_author(proposal: Proposal, principal: Principal) -> None:
    if proposal.author_id != principal.user_id:
        raise Problem(403, "Forbidden", "only the proposal's author may change it")
    if not rules.may_edit(proposal.support_count, proposal.status):
        raise Problem(409, "Locked", "a proposal can be changed only until its first support")


def update_proposal(
    session: Session, proposal: Proposal, data: ProposalUpdate, principal: Principal
) -> Proposal:
    """Apply an author's edit (only before the first support)."""
    _check_author(proposal, principal)
    try:
        if data.title is not None:
            proposal.title = rules.clean_line(data.title, 200, "title")
        if data.body is not None:
            proposal.body = rules.clean_text(data.body, 10_000, "body")
        if data.category is not None:
            proposal.category = rules.check_category(data.category)
    except rules.RuleError as exc:
        raise invalid(exc) from exc
    if "area_code" in data.model_fields_set:
        proposal.area_code = check_area(data.area_code)
    if {"lon", "lat"} & data.model_fields_set:
        proposal.lon, proposal.lat = check_point(data.lon, data.lat)
    proposal.updated_at = utcnow()
    session.flush()
    publish_proposal(session, proposal, process_of(session, proposal))
    return proposal


def add_image(
    session: Session, proposal: Proposal, raw: bytes, principal: Principal
) -> ProposalImage:
    """Attach an image to a proposal, re-encoded without metadata."""
    _check_author(proposal, principal)
    count = session.scalar(
        select(func.count())
        .select_from(ProposalImage)
        .where(ProposalImage.proposal_id == proposal.id)
    )
    if int(count or 0) >= MAX_IMAGES:
        raise Problem(409, "Too many images", f"a proposal has at most {MAX_IMAGES} images")
    try:
        image = clean_image(raw)
    except ImageError as exc:
        raise Problem(422, "Invalid image", str(exc)) from exc
    row = ProposalImage(
        proposal_id=proposal.id,
        content_type=image.content_type,
        width=image.width,
        height=image.height,
        data=image.data,
    )
    session.add(row)
    session.flush()
    return row


def image_ids(session: Session, proposal_id: int) -> list[int]:
    """Return a proposal's image ids in upload order."""
    query = (
        select(ProposalImage.id)
        .where(ProposalImage.proposal_id == proposal_id)
        .order_by(ProposalImage.id)
    )
    return list(session.scalars(query))


def milestones_of(session: Session, proposal_id: int) -> list[Milestone]:
    """Return a proposal's milestones by date."""
    query = (
        select(Milestone)
        .where(Milestone.proposal_id == proposal_id)
        .order_by(Milestone.date, Milestone.id)
    )
    return list(session.scalars(query))


def add_milestone(
    session: Session, proposal: Proposal, data: MilestoneCreate, principal: Principal
) -> Milestone:
    """Add a follow-up milestone to an accepted proposal and tell its followers."""
    if proposal.status not in ("accepted", "in_execution", "implemented"):
        raise Problem(409, "Not accepted", "milestones follow accepted proposals only")
    try:
        row = Milestone(
            proposal_id=proposal.id,
            title=rules.clean_line(data.title, 200, "title"),
            title_ko=rules.clean_line(data.title_ko or "", 200, "title_ko", required=False) or None,
            date=data.date,
            status=data.status,
            note=rules.clean_text(data.note, 5_000, "note", required=False),
            created_by=principal.user_id,
        )
    except rules.RuleError as exc:
        raise invalid(exc) from exc
    session.add(row)
    session.flush()
    tell(
        session,
        proposal,
        "proposal_milestone",
        f"New milestone on “{proposal.title}”: {row.title}",
        f"“{proposal.title}” 새 이정표: {row.title}",
    )
    return row


def set_status(session: Session, proposal: Proposal, wanted: str) -> Proposal:
    """Move an accepted proposal on (accepted → in execution → implemented)."""
    try:
        proposal.status = rules.check_next_status(proposal.status, wanted)
    except rules.RuleError as exc:
        raise Problem(409, "Invalid status", str(exc)) from exc
    proposal.updated_at = utcnow()
    session.flush()
    en, ko = rules.STATUS_LABELS[wanted]
    tell(
        session,
        proposal,
        "proposal_status",
        f"“{proposal.title}” is now: {en}",
        f"“{proposal.title}”: {ko}",
    )
    publish_proposal(session, proposal, process_of(session, proposal))
    return proposal


def list_proposals(session: Session, process_id: int) -> list[Proposal]:
    """Return a process's visible proposals, most supported first."""
    query = (
        select(Proposal)
        .where(Proposal.process_id == process_id, Proposal.hidden_at.is_(None))
        .order_by(Proposal.support_count.desc(), Proposal.id)
    )
    return list(session.scalars(query))


def proposal_public(session: Session, proposal: Proposal, process: Process) -> dict[str, Any]:
    """Return what anyone may read of a proposal: never who wrote, supported or voted."""
    en, ko = rules.CATEGORIES.get(proposal.category, (proposal.category, proposal.category))
    status_en, status_ko = rules.STATUS_LABELS.get(proposal.status, (proposal.status, ""))
    decided = proposal.decided_at is not None
    return {
        "id": proposal.id,
        "process": process.slug,
        "title": proposal.title,
        "body": proposal.body,
        "category": proposal.category,
        "category_label": en,
        "category_label_ko": ko,
        "area_code": proposal.area_code,
        "lon": proposal.lon,
        "lat": proposal.lat,
        "status": proposal.status,
        "status_label": status_en,
        "status_label_ko": status_ko,
        "support_count": proposal.support_count,
        "support_threshold": process.support_threshold,
        "progress": rules.progress_percent(proposal.support_count, process.support_threshold),
        "results": (
            {
                "yes": proposal.votes_yes,
                "no": proposal.votes_no,
                "abstain": proposal.votes_abstain,
                "quorum": process.quorum,
                "rule": proposal.decision_note,
            }
            if decided
            else None
        ),
        "decided_at": isoformat(proposal.decided_at) if proposal.decided_at else None,
        "images": [
            f"/api/v1/participation/proposals/{proposal.id}/images/{i}"
            for i in image_ids(session, proposal.id)
        ],
        "milestones": [
            {
                "id": m.id,
                "title": m.title,
                "title_ko": m.title_ko,
                "date": m.date.isoformat(),
                "status": m.status,
                "note": m.note,
            }
            for m in milestones_of(session, proposal.id)
        ],
        "created_at": isoformat(proposal.created_at),
        "link": link(proposal.id),
    }
