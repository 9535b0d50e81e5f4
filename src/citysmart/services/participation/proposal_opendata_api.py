"""Open data of processes and proposals as JSON and CSV (nothing personal in either)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import select
from starlette.responses import Response

from citysmart.core.auth import SessionDep
from citysmart.services.participation import process_store as processes
from citysmart.services.participation.models_process import Process
from citysmart.services.participation.models_proposal import Proposal
from citysmart.services.participation.proposal_opendata import record, to_csv

# Mounted under /api/v1/participation by proposal_api.
router = APIRouter(prefix="/opendata", tags=["participation: open data"])


def _records(session: SessionDep) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Proposal, Process)
        .join(Process, Process.id == Proposal.process_id)
        .where(Process.published.is_(True), Proposal.hidden_at.is_(None))
        .order_by(Proposal.id)
    )
    return [record(proposal, process) for proposal, process in rows]


@router.get("/proposals.json")
def read_proposals_json(session: SessionDep) -> list[dict[str, Any]]:
    """Every public proposal: text, category, place, status, supports, results."""
    return _records(session)


@router.get("/proposals.csv")
def read_proposals_csv(session: SessionDep) -> Response:
    """Every public proposal as CSV."""
    return Response(
        to_csv(_records(session)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="sejong-proposals.csv"'},
    )


@router.get("/processes.json")
def read_processes_json(session: SessionDep) -> list[dict[str, Any]]:
    """Every published process with its phases and rules."""
    return [processes.process_public(session, p) for p in processes.list_processes(session)]
