"""The opinion channel's storage: filing, routing, status changes, notifications, views.

**What the public sees.** A complaint often names a neighbour, a house or the author's own
situation, so by default anyone (signed in or not, and the open data) sees only an item's
kind, category, dong, department, status, dates and the city's answer; the title, the
description, the map point and the author's name are shown to the author and to operators.
An author who ticks "public" lets everyone read the title, the description, the point and
their user name too. The answer is written by the city for publication and is always shown.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from shapely.geometry import Point
from sqlalchemy import select
from sqlalchemy.orm import Session

from citysmart.core.admin_areas import city_boundary, load_admin_areas
from citysmart.core.auth import Principal
from citysmart.core.models import User
from citysmart.core.notifications import notify
from citysmart.core.time import isoformat, utcnow
from citysmart.services.participation import opinion_rules as rules
from citysmart.services.participation.follows import SERVICE_NAME, follow, notify_followers
from citysmart.services.participation.models_sandbox import (
    Department,
    DepartmentCategory,
    Opinion,
    OpinionEvent,
)
from citysmart.services.participation.opinion_text import clean_text

TARGET = "opinion"  # the Follow.target_type of opinions


class NotFound(LookupError):
    """The item asked for does not exist."""


@dataclass(frozen=True, slots=True)
class OpinionInput:
    """What a citizen files."""

    kind: str
    category: str
    title: str
    description: str
    area_code: str | None = None
    lon: float | None = None
    lat: float | None = None
    public: bool = False


def ensure_departments(session: Session) -> None:
    """Create the default departments and routing the first time (an empty table)."""
    if session.scalar(select(Department.id).limit(1)) is not None:
        return
    for code, name, name_ko, categories in rules.DEFAULT_DEPARTMENTS:
        dept = Department(code=code, name=name, name_ko=name_ko)
        session.add(dept)
        session.flush()
        for category in categories:
            session.add(DepartmentCategory(category=category, department_id=dept.id))
    session.flush()


def departments(session: Session) -> list[Department]:
    """Return every department, by code."""
    ensure_departments(session)
    return list(session.scalars(select(Department).order_by(Department.code)))


def department_by_code(session: Session, code: str) -> Department:
    """Return a department by its code."""
    ensure_departments(session)
    dept = session.scalar(select(Department).where(Department.code == code))
    if dept is None:
        known = ", ".join(d.code for d in departments(session))
        raise ValueError(f"unknown department {code!r}: use one of {known}")
    return dept


def routing(session: Session) -> dict[str, str]:
    """Map each category to its department's code (categories without a row: the default)."""
    ensure_departments(session)
    codes = {d.id: d.code for d in session.scalars(select(Department))}
    mapped = {
        row.category: codes[row.department_id]
        for row in session.scalars(select(DepartmentCategory))
    }
    return {cat: mapped.get(cat, rules.default_routing()[cat]) for cat in rules.CATEGORIES}


def route_category(session: Session, category: str, department_code: str) -> None:
    """Send a category's new opinions to a department."""
    rules.check_category(category)
    dept = department_by_code(session, department_code)
    row = session.get(DepartmentCategory, category)
    if row is None:
        session.add(DepartmentCategory(category=category, department_id=dept.id))
    else:
        row.department_id = dept.id
    session.flush()


def _place(area_code: str | None, lon: float | None, lat: float | None) -> str | None:
    """Check a dong code and a point in Sejong; return the dong (found from the point if none)."""
    areas = {a.code: a for a in load_admin_areas()}
    if area_code and area_code not in areas:
        raise ValueError(f"unknown dong code {area_code!r}")
    if (lon is None) != (lat is None):
        raise ValueError("a place needs both lon and lat")
    if lon is None or lat is None:
        return area_code or None
    point = Point(lon, lat)
    if not city_boundary().covers(point):
        raise ValueError(f"the point ({lon}, {lat}) is not in Sejong")
    if area_code:
        return area_code
    return next((a.code for a in areas.values() if a.geometry.covers(point)), None)


def file_opinion(session: Session, author: Principal, data: OpinionInput) -> Opinion:
    """Store a citizen's idea or complaint, routed to its category's department."""
    kind = rules.check_kind(data.kind)
    category = rules.check_category(data.category)
    title = clean_text(data.title, 200, field="title")
    description = clean_text(data.description, 5000, field="description")
    area_code = _place(data.area_code, data.lon, data.lat)
    dept = department_by_code(session, routing(session)[category])
    now = utcnow()
    opinion = Opinion(
        kind=kind,
        category=category,
        title=title,
        description=description,
        area_code=area_code,
        lon=data.lon,
        lat=data.lat,
        public=data.public,
        author_id=author.user_id,
        status=rules.OPEN,
        department_id=dept.id,
        created_at=now,
        updated_at=now,
    )
    session.add(opinion)
    session.flush()
    session.add(
        OpinionEvent(
            opinion_id=opinion.id,
            status=rules.OPEN,
            department_id=dept.id,
            note="filed",
            actor_id=author.user_id,
            at=now,
        )
    )
    follow(session, author.user_id, TARGET, opinion.id)
    return opinion


def get_opinion(session: Session, opinion_id: int) -> Opinion:
    """Return an opinion or raise NotFound."""
    opinion = session.get(Opinion, opinion_id)
    if opinion is None:
        raise NotFound(f"no opinion {opinion_id}")
    return opinion


def _tell(session: Session, opinion: Opinion, actor_id: int, what: str, what_ko: str) -> None:
    """Notify the author and the followers that an opinion changed."""
    link = f"/participation/opinions/{opinion.id}"
    title = f"Your {opinion.kind} #{opinion.id}: {what}"
    title_ko = f"{rules.KIND_LABELS[opinion.kind][1]} #{opinion.id}: {what_ko}"
    if opinion.author_id is not None:
        notify(
            session,
            opinion.author_id,
            SERVICE_NAME,
            "opinion_changed",
            title,
            title_ko=title_ko,
            link=link,
        )
    notify_followers(
        session,
        TARGET,
        opinion.id,
        "opinion_changed",
        f"{rules.KIND_LABELS[opinion.kind][0]} #{opinion.id}: {what}",
        title_ko=title_ko,
        link=link,
        skip_user=opinion.author_id,
    )


def change_status(
    session: Session,
    opinion: Opinion,
    actor: Principal,
    status: str,
    *,
    department_code: str | None = None,
    answer: str | None = None,
    note: str | None = None,
) -> Opinion:
    """Move an opinion to ``status`` (rules.check_transition), record and notify."""
    answer_text = clean_text(answer, 5000, field="answer", required=False) or None
    note_text = clean_text(note, 1000, field="note", required=False) or None
    rules.check_transition(opinion.status, status, answer_text)
    if department_code:
        opinion.department_id = department_by_code(session, department_code).id
    now = utcnow()
    opinion.status = status
    opinion.updated_at = now
    if status == rules.CLOSED:
        opinion.answer = answer_text
        opinion.closed_at = now
    session.add(
        OpinionEvent(
            opinion_id=opinion.id,
            status=status,
            department_id=opinion.department_id,
            note=answer_text if status == rules.CLOSED else note_text,
            actor_id=actor.user_id,
            at=now,
        )
    )
    label, label_ko = rules.STATUS_LABELS[status]
    _tell(session, opinion, actor.user_id, f"now {label.lower()}", label_ko)
    session.flush()
    return opinion


def reassign(session: Session, opinion: Opinion, actor: Principal, department_code: str) -> Opinion:
    """Hand an open or ongoing opinion to another department (status unchanged)."""
    if opinion.status == rules.CLOSED:
        raise rules.TransitionError("a closed item is not reassigned", ())
    dept = department_by_code(session, department_code)
    opinion.department_id = dept.id
    opinion.updated_at = utcnow()
    session.add(
        OpinionEvent(
            opinion_id=opinion.id,
            status=opinion.status,
            department_id=dept.id,
            note=f"reassigned to {dept.code}",
            actor_id=actor.user_id,
            at=opinion.updated_at,
        )
    )
    _tell(
        session, opinion, actor.user_id, f"sent to {dept.name}", f"{dept.name_ko or dept.name} 배정"
    )
    session.flush()
    return opinion


def history(session: Session, opinion_id: int) -> list[OpinionEvent]:
    """Return an opinion's steps, oldest first."""
    return list(
        session.scalars(
            select(OpinionEvent)
            .where(OpinionEvent.opinion_id == opinion_id)
            .order_by(OpinionEvent.at, OpinionEvent.id)
        )
    )


def may_see_all(opinion: Opinion, viewer: Principal | None, operator: bool) -> bool:
    """Whether a viewer sees an opinion's personal fields (its author or an operator)."""
    return viewer is not None and (operator or viewer.user_id == opinion.author_id)


def opinion_view(
    session: Session, opinion: Opinion, *, full: bool, with_history: bool = False
) -> dict[str, Any]:
    """Return an opinion as the API and the pages show it (``full``: with personal fields)."""
    dept = session.get(Department, opinion.department_id) if opinion.department_id else None
    areas = {a.code: a for a in load_admin_areas()}
    area = areas.get(opinion.area_code or "")
    view: dict[str, Any] = {
        "id": opinion.id,
        "kind": opinion.kind,
        "category": opinion.category,
        "area_code": opinion.area_code,
        "area_name": f"{area.name_ko} ({area.name_en})" if area else None,
        "status": opinion.status,
        "resolution_status": rules.RESOLUTION_STATUS[opinion.status],
        "department": dept.code if dept else None,
        "department_name": dept.name if dept else None,
        "department_name_ko": dept.name_ko if dept else None,
        "answer": opinion.answer,
        "public": opinion.public,
        "created_at": isoformat(opinion.created_at),
        "updated_at": isoformat(opinion.updated_at),
        "closed_at": isoformat(opinion.closed_at) if opinion.closed_at else None,
        "title": None,
        "description": None,
        "lon": None,
        "lat": None,
        "author": None,
    }
    if full or opinion.public:
        author = session.get(User, opinion.author_id) if opinion.author_id else None
        view.update(
            title=opinion.title,
            description=opinion.description,
            lon=opinion.lon,
            lat=opinion.lat,
            author=author.username if author else None,
        )
    if with_history:
        codes = {d.id: d.code for d in session.scalars(select(Department))}
        view["history"] = [
            {
                "status": e.status,
                "department": codes.get(e.department_id or -1),
                # Operators' notes are internal; the answer is public (it is the closing note).
                "note": e.note if (full or e.status == rules.CLOSED) else None,
                "at": isoformat(e.at),
            }
            for e in history(session, opinion.id)
        ]
    return view


def list_opinions(
    session: Session,
    *,
    status: str | None = None,
    category: str | None = None,
    department: str | None = None,
    kind: str | None = None,
    area_code: str | None = None,
    author_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Opinion]:
    """Return opinions newest first, filtered."""
    query = select(Opinion)
    if status:
        query = query.where(Opinion.status == status)
    if category:
        query = query.where(Opinion.category == category)
    if kind:
        query = query.where(Opinion.kind == kind)
    if area_code:
        query = query.where(Opinion.area_code == area_code)
    if author_id is not None:
        query = query.where(Opinion.author_id == author_id)
    if department:
        dept = department_by_code(session, department)
        query = query.where(Opinion.department_id == dept.id)
    query = query.order_by(Opinion.created_at.desc(), Opinion.id.desc())
    return list(session.scalars(query.limit(min(max(limit, 1), 500)).offset(max(offset, 0))))


def month_of(when: dt.datetime) -> str:
    """Return the ``YYYY-MM`` of an instant in UTC."""
    return when.astimezone(dt.UTC).strftime("%Y-%m")
