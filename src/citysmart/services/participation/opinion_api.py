"""Opinion channel API: citizens file ideas and complaints, operators route and answer them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from starlette.responses import Response

from citysmart.core import audit, roles
from citysmart.core.auth import CurrentPrincipal, OperatorDep, OptionalPrincipal, SessionDep
from citysmart.core.errors import Problem
from citysmart.services.participation import opinion_opendata, opinion_store
from citysmart.services.participation import opinion_rules as rules
from citysmart.services.participation.follows import follow, unfollow
from citysmart.services.participation.guard import PosterDep

router = APIRouter(prefix="/api/v1/participation", tags=["participation: opinions"])


class OpinionCreate(BaseModel):
    """An idea or a complaint to file."""

    kind: Literal["idea", "complaint"]
    category: str = Field(max_length=24)
    title: str = Field(max_length=400)
    description: str = Field(max_length=10000)
    area_code: str | None = Field(default=None, max_length=16)
    lon: float | None = None
    lat: float | None = None
    public: bool = False


class StatusChange(BaseModel):
    """An operator moves an opinion on (closing needs an answer)."""

    status: str = Field(max_length=16)
    department: str | None = Field(default=None, max_length=32)
    answer: str | None = Field(default=None, max_length=10000)
    note: str | None = Field(default=None, max_length=2000)


class DepartmentChange(BaseModel):
    """Send an opinion (or a category's new opinions) to a department."""

    department: str = Field(max_length=32)


def is_operator(principal: Any) -> bool:
    """Whether a principal acts for the city on opinions."""
    return principal is not None and roles.grants(principal.role, roles.OPERATOR)


def _bad(exc: ValueError) -> Problem:
    if isinstance(exc, rules.TransitionError):
        return Problem(409, "Status change refused", str(exc), allowed=list(exc.allowed))
    return Problem(422, "Invalid opinion", str(exc))


def _get(db: SessionDep, opinion_id: int) -> Any:
    try:
        return opinion_store.get_opinion(db, opinion_id)
    except opinion_store.NotFound as exc:
        raise Problem(404, "Not found", str(exc)) from exc


@router.get("/opinions/categories")
def list_categories(db: SessionDep) -> dict[str, Any]:
    """List the kinds, categories (with their department), statuses and departments."""
    route = opinion_store.routing(db)
    return {
        "kinds": [{"code": k, "en": en, "ko": ko} for k, (en, ko) in rules.KIND_LABELS.items()],
        "categories": [
            {"code": c, "en": en, "ko": ko, "department": route[c]}
            for c, (en, ko) in rules.CATEGORIES.items()
        ],
        "statuses": [
            {"code": s, "en": en, "ko": ko, "next": list(rules.TRANSITIONS[s])}
            for s, (en, ko) in rules.STATUS_LABELS.items()
        ],
        "departments": [
            {"code": d.code, "name": d.name, "name_ko": d.name_ko}
            for d in opinion_store.departments(db)
        ],
    }


@router.post("/opinions", status_code=201)
def create_opinion(item_in: OpinionCreate, db: SessionDep, principal: PosterDep) -> dict[str, Any]:
    """File an idea or a complaint (signed in, not blocked); it is routed to a department."""
    data = opinion_store.OpinionInput(**item_in.model_dump())
    try:
        opinion = opinion_store.file_opinion(db, principal, data)
    except ValueError as exc:
        raise _bad(exc) from exc
    opinion_opendata.publish(db, opinion)
    return opinion_store.opinion_view(db, opinion, full=True, with_history=True)


@router.get("/opinions")
def list_opinions(
    db: SessionDep,
    status: Annotated[str | None, Query(max_length=16)] = None,
    category: Annotated[str | None, Query(max_length=24)] = None,
    kind: Annotated[str | None, Query(max_length=12)] = None,
    area_code: Annotated[str | None, Query(max_length=16)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict[str, Any]]:
    """List opinions as anyone may read them (no personal fields unless made public)."""
    found = opinion_store.list_opinions(
        db,
        status=status,
        category=category,
        kind=kind,
        area_code=area_code,
        limit=limit,
        offset=offset,
    )
    return [opinion_store.opinion_view(db, o, full=False) for o in found]


@router.get("/opinions/mine")
def list_my_opinions(db: SessionDep, principal: CurrentPrincipal) -> list[dict[str, Any]]:
    """List the signed-in user's own opinions with everything they wrote."""
    found = opinion_store.list_opinions(db, author_id=principal.user_id, limit=500)
    return [opinion_store.opinion_view(db, o, full=True) for o in found]


@router.get("/opinions/queue")
def read_queue(
    db: SessionDep,
    principal: OperatorDep,
    status: Annotated[str | None, Query(max_length=16)] = None,
    category: Annotated[str | None, Query(max_length=24)] = None,
    department: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict[str, Any]]:
    """List opinions for operators, filtered by status, category and department."""
    try:
        found = opinion_store.list_opinions(
            db,
            status=status,
            category=category,
            department=department,
            limit=limit,
            offset=offset,
        )
    except ValueError as exc:
        raise _bad(exc) from exc
    return [opinion_store.opinion_view(db, o, full=True) for o in found]


@router.get("/opinions/{opinion_id}")
def read_opinion(opinion_id: int, db: SessionDep, principal: OptionalPrincipal) -> dict[str, Any]:
    """Read an opinion with its history (all of it for its author and operators)."""
    opinion = _get(db, opinion_id)
    full = opinion_store.may_see_all(opinion, principal, is_operator(principal))
    return opinion_store.opinion_view(db, opinion, full=full, with_history=True)


@router.post("/opinions/{opinion_id}/status")
def change_status(
    opinion_id: int, change: StatusChange, db: SessionDep, principal: OperatorDep
) -> dict[str, Any]:
    """Move an opinion on (409 names the allowed statuses when the change is refused)."""
    opinion = _get(db, opinion_id)
    before = opinion.status
    try:
        opinion_store.change_status(
            db,
            opinion,
            principal,
            change.status,
            department_code=change.department,
            answer=change.answer,
            note=change.note,
        )
    except ValueError as exc:
        raise _bad(exc) from exc
    opinion_opendata.publish(db, opinion)
    audit.record(
        db,
        principal.username,
        "opinion.status",
        f"opinion:{opinion.id}",
        before=before,
        after=opinion.status,
    )
    return opinion_store.opinion_view(db, opinion, full=True, with_history=True)


@router.post("/opinions/{opinion_id}/department")
def reassign_opinion(
    opinion_id: int, change: DepartmentChange, db: SessionDep, principal: OperatorDep
) -> dict[str, Any]:
    """Hand an opinion to another department."""
    opinion = _get(db, opinion_id)
    try:
        opinion_store.reassign(db, opinion, principal, change.department)
    except ValueError as exc:
        raise _bad(exc) from exc
    opinion_opendata.publish(db, opinion)
    audit.record(
        db, principal.username, "opinion.reassign", f"opinion:{opinion.id}", to=change.department
    )
    return opinion_store.opinion_view(db, opinion, full=True, with_history=True)


@router.put("/opinions/routing/{category}")
def route_category(
    category: str, change: DepartmentChange, db: SessionDep, principal: OperatorDep
) -> dict[str, str]:
    """Send a category's new opinions to a department; return the whole routing."""
    try:
        opinion_store.route_category(db, category, change.department)
    except ValueError as exc:
        raise _bad(exc) from exc
    audit.record(
        db, principal.username, "opinion.routing", f"category:{category}", to=change.department
    )
    return opinion_store.routing(db)


@router.post("/opinions/{opinion_id}/follow", status_code=204)
def follow_opinion(opinion_id: int, db: SessionDep, principal: CurrentPrincipal) -> Response:
    """Follow an opinion to hear of its changes."""
    _get(db, opinion_id)
    follow(db, principal.user_id, opinion_store.TARGET, opinion_id)
    return Response(status_code=204)


@router.delete("/opinions/{opinion_id}/follow", status_code=204)
def unfollow_opinion(opinion_id: int, db: SessionDep, principal: CurrentPrincipal) -> Response:
    """Stop following an opinion."""
    unfollow(db, principal.user_id, opinion_store.TARGET, opinion_id)
    return Response(status_code=204)


@router.get("/opendata/opinions", response_model=None)
def read_opinion_stats(
    db: SessionDep,
    format: Literal["json", "csv"] = "json",  # noqa: A002
) -> list[dict[str, Any]] | Response:
    """Count opinions per month, category, kind and status (open data, JSON or CSV)."""
    rows = opinion_opendata.stats(db)
    if format == "csv":
        return Response(
            opinion_opendata.stats_csv(rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="opinions.csv"'},
        )
    return rows
