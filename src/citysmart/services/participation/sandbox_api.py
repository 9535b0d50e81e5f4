"""Opinion channel and regulatory-sandbox API.

The opinion routes live in opinion_api (included here); this module holds the sandbox's:
operators register projects, move them through their lifecycle and add milestones and
reports; verified residents sign up for trials and withdraw; anyone reads the registry.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from starlette.responses import Response

from citysmart.core import audit
from citysmart.core.auth import CurrentPrincipal, OperatorDep, OptionalPrincipal, SessionDep
from citysmart.core.errors import Problem
from citysmart.core.service import Job, Page
from citysmart.services.participation import opinion_api, sandbox_opendata, sandbox_store
from citysmart.services.participation import sandbox_rules as rules
from citysmart.services.participation.follows import follow
from citysmart.services.participation.guard import VerifiedDep
from citysmart.services.participation.models_sandbox import SandboxProject
from citysmart.services.participation.opinion_store import NotFound

router = APIRouter()
router.include_router(opinion_api.router)
sandbox = APIRouter(prefix="/api/v1/participation/sandbox", tags=["participation: sandbox"])
PAGES: tuple[Page, ...] = ()
JOBS: tuple[Job, ...] = ()


class ProjectIn(BaseModel):
    """A sandbox project as an operator registers or edits it."""

    title: str = Field(max_length=400)
    title_ko: str | None = Field(default=None, max_length=400)
    summary: str = Field(default="", max_length=10000)
    field: str = Field(max_length=16)
    track: str = Field(max_length=32)
    operator_name: str = Field(max_length=400)
    place: str = Field(default="", max_length=400)
    scale: str = Field(default="", max_length=600)
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    capacity: int | None = Field(default=None, ge=1, le=1_000_000)
    survey_id: int | None = None


class StageChange(BaseModel):
    """Move a project to its next stage."""

    stage: str = Field(max_length=16)
    note: str | None = Field(default=None, max_length=2000)


class EntryIn(BaseModel):
    """A milestone or report."""

    kind: Literal["milestone", "report"]
    title: str = Field(max_length=400)
    date: dt.date
    body: str = Field(default="", max_length=40000)
    status: Literal["planned", "done", "published"] = "planned"


def load_project(db: SessionDep, project_id: int) -> SandboxProject:
    """Return a project or answer 404."""
    try:
        return sandbox_store.get_project(db, project_id)
    except NotFound as exc:
        raise Problem(404, "Not found", str(exc)) from exc


def _input(item_in: ProjectIn) -> sandbox_store.ProjectInput:
    return sandbox_store.ProjectInput(**item_in.model_dump())


@sandbox.get("/projects")
def list_projects(
    db: SessionDep,
    field: Annotated[str | None, Query(max_length=16)] = None,
    stage: Annotated[str | None, Query(max_length=16)] = None,
) -> list[dict[str, Any]]:
    """List sandbox projects, filtered by field and stage."""
    found = sandbox_store.list_projects(db, field=field, stage=stage)
    return [sandbox_store.project_view(db, p) for p in found]


@sandbox.post("/projects", status_code=201)
def create_project(item_in: ProjectIn, db: SessionDep, principal: OperatorDep) -> dict[str, Any]:
    """Register a planned project (operators)."""
    try:
        project = sandbox_store.create_project(db, principal, _input(item_in))
    except ValueError as exc:
        raise Problem(422, "Invalid project", str(exc)) from exc
    sandbox_opendata.publish(db, project)
    audit.record(db, principal.username, "sandbox.create", f"sandbox:{project.id}")
    return sandbox_store.project_view(db, project, detail=True)


@sandbox.get("/projects/{project_id}")
def read_project(project_id: int, db: SessionDep, principal: OptionalPrincipal) -> dict[str, Any]:
    """Read a project with its history, milestones and reports (and whether you signed up)."""
    project = load_project(db, project_id)
    view = sandbox_store.project_view(db, project, detail=True)
    if principal is not None:
        view["signed_up"] = sandbox_store.is_signed_up(db, project.id, principal.user_id)
    return view


@sandbox.put("/projects/{project_id}")
def update_project(
    project_id: int, item_in: ProjectIn, db: SessionDep, principal: OperatorDep
) -> dict[str, Any]:
    """Change a project's description and conditions (operators)."""
    project = load_project(db, project_id)
    try:
        sandbox_store.update_project(db, project, _input(item_in))
    except ValueError as exc:
        raise Problem(422, "Invalid project", str(exc)) from exc
    sandbox_opendata.publish(db, project)
    audit.record(db, principal.username, "sandbox.update", f"sandbox:{project.id}")
    return sandbox_store.project_view(db, project, detail=True)


@sandbox.post("/projects/{project_id}/stage")
def change_stage(
    project_id: int, change: StageChange, db: SessionDep, principal: OperatorDep
) -> dict[str, Any]:
    """Move a project to its next stage (409 names the allowed ones when refused)."""
    project = load_project(db, project_id)
    before = project.stage
    try:
        sandbox_store.change_stage(db, project, principal, change.stage, change.note)
    except rules.StageError as exc:
        raise Problem(409, "Stage change refused", str(exc), allowed=list(exc.allowed)) from exc
    except ValueError as exc:
        raise Problem(422, "Invalid stage", str(exc)) from exc
    sandbox_opendata.publish(db, project)
    audit.record(
        db,
        principal.username,
        "sandbox.stage",
        f"sandbox:{project.id}",
        before=before,
        after=project.stage,
    )
    return sandbox_store.project_view(db, project, detail=True)


@sandbox.post("/projects/{project_id}/entries", status_code=201)
def create_entry(
    project_id: int, entry_in: EntryIn, db: SessionDep, principal: OperatorDep
) -> dict[str, Any]:
    """Add a milestone or a report to a project (operators)."""
    project = load_project(db, project_id)
    try:
        entry = sandbox_store.add_entry(
            db,
            project,
            entry_in.kind,
            entry_in.title,
            entry_in.date,
            entry_in.body,
            entry_in.status,
        )
    except ValueError as exc:
        raise Problem(422, "Invalid entry", str(exc)) from exc
    audit.record(db, principal.username, "sandbox.entry", f"sandbox:{project.id}", entry=entry.id)
    return {"id": entry.id, "kind": entry.kind, "title": entry.title}


@sandbox.post("/projects/{project_id}/signup", status_code=201)
def sign_up(project_id: int, db: SessionDep, principal: VerifiedDep) -> dict[str, Any]:
    """Sign up to try a project (verified residents, once, while sign-ups are open)."""
    project = load_project(db, project_id)
    try:
        sandbox_store.sign_up(db, project, principal)
    except sandbox_store.SignupRefused as exc:
        raise Problem(409, "Sign-up refused", str(exc)) from exc
    follow(db, principal.user_id, sandbox_store.TARGET, project.id)
    sandbox_opendata.publish(db, project)
    return {
        "project_id": project.id,
        "signed_up": True,
        "signups": sandbox_store.signup_count(db, project.id),
    }


@sandbox.delete("/projects/{project_id}/signup", status_code=204)
def withdraw(project_id: int, db: SessionDep, principal: CurrentPrincipal) -> Response:
    """Withdraw your sign-up."""
    project = load_project(db, project_id)
    if not sandbox_store.withdraw(db, project, principal):
        raise Problem(404, "Not found", "you have not signed up for this project")
    sandbox_opendata.publish(db, project)
    return Response(status_code=204)


@router.get("/api/v1/participation/opendata/sandbox", response_model=None)
def read_sandbox_opendata(
    db: SessionDep,
    format: Literal["json", "csv"] = "json",  # noqa: A002
) -> list[dict[str, Any]] | Response:
    """Every sandbox project as open data (JSON or CSV; no sign-up personal data)."""
    views = [sandbox_store.project_view(db, p) for p in sandbox_store.list_projects(db)]
    if format == "csv":
        return Response(
            sandbox_opendata.projects_csv(views),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="sandbox-projects.csv"'},
        )
    return views


router.include_router(sandbox)
