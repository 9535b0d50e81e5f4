"""Processes and proposals API: supports, votes, decisions and follow-up.

Under ``/api/v1/participation``. Anyone reads published processes and their proposals;
operators create and change processes, decide votes and record the follow-up; signed-in
users who are not blocked make proposals; verified residents support and vote. Every
write is in the audit log (a vote's record says who voted, never how).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Request, UploadFile
from starlette.responses import Response

from citysmart.core.audit import record
from citysmart.core.auth import (
    CurrentPrincipal,
    OperatorDep,
    OptionalPrincipal,
    Principal,
    SessionDep,
)
from citysmart.core.errors import Problem
from citysmart.core.service import Job, Page
from citysmart.services.participation import follows
from citysmart.services.participation import process_store as processes
from citysmart.services.participation import proposal_store as store
from citysmart.services.participation import vote_store as votes
from citysmart.services.participation.guard import PosterDep, VerifiedDep
from citysmart.services.participation.models_proposal import ProposalImage
from citysmart.services.participation.proposal_images import MAX_UPLOAD_BYTES
from citysmart.services.participation.proposal_jobs import JOBS as PROPOSAL_JOBS
from citysmart.services.participation.proposal_opendata import publish_process, publish_proposal
from citysmart.services.participation.proposal_opendata_api import router as opendata_router
from citysmart.services.participation.proposal_schemas import (
    MilestoneCreate,
    ProcessCreate,
    ProcessUpdate,
    ProposalCreate,
    ProposalUpdate,
    StatusIn,
    VoteIn,
)

API = "/api/v1/participation"
router = APIRouter(prefix=API, tags=["participation: proposals"])
PAGES: tuple[Page, ...] = ()
JOBS: tuple[Job, ...] = PROPOSAL_JOBS
FOLLOW_TARGETS = ("process", "proposal")
router.include_router(opendata_router)


def audit(
    session: SessionDep, request: Request, who: Principal, action: str, target: str, **kw: Any
) -> None:
    """Record a participation action in the audit log."""
    ip = request.client.host if request.client else None
    record(session, who.username, f"participation.{action}", target, ip, **kw)


def _may_see_all(principal: Principal | None) -> bool:
    return principal is not None and store._is_operator(principal)


def publish(session: SessionDep, process_id: int) -> dict[str, Any]:
    """Return a process's public view after writing its open-data entity and proposals'."""
    process = processes.get_process(session, process_id, published_only=False)
    view = processes.process_public(session, process)
    publish_process(session, process, view["phases"])
    for proposal in store.list_proposals(session, process.id):
        publish_proposal(session, proposal, process)
    return view


@router.get("/processes")
def list_processes(
    session: SessionDep,
    principal: OptionalPrincipal,
    all: bool = False,  # noqa: A002
) -> list[dict[str, Any]]:
    """List published processes (operators may ask for all)."""
    rows = processes.list_processes(session, published_only=not (all and _may_see_all(principal)))
    return [processes.process_public(session, p) for p in rows]


@router.post("/processes", status_code=201)
def create_process(
    process_in: ProcessCreate, request: Request, session: SessionDep, principal: OperatorDep
) -> dict[str, Any]:
    """Create a process with its ordered phases (operators)."""
    process = processes.create_process(session, process_in, principal.user_id)
    audit(session, request, principal, "process.create", process.slug)
    return publish(session, process.id)


@router.get("/processes/{ref}")
def read_process(ref: str, session: SessionDep, principal: OptionalPrincipal) -> dict[str, Any]:
    """Read a process by slug or id."""
    process = processes.get_process(session, ref, published_only=not _may_see_all(principal))
    return processes.process_public(session, process)


@router.patch("/processes/{ref}")
def update_process(
    ref: str,
    process_in: ProcessUpdate,
    request: Request,
    session: SessionDep,
    principal: OperatorDep,
) -> dict[str, Any]:
    """Change or publish a process; phases, when given, replace the old ones (operators)."""
    process = processes.get_process(session, ref, published_only=False)
    processes.update_process(session, process, process_in)
    changed = sorted(process_in.model_fields_set)
    audit(session, request, principal, "process.update", process.slug, fields=changed)
    return publish(session, process.id)


@router.get("/processes/{ref}/proposals")
def list_proposals(
    ref: str, session: SessionDep, principal: OptionalPrincipal
) -> list[dict[str, Any]]:
    """List a process's proposals, most supported first."""
    process = processes.get_process(session, ref, published_only=not _may_see_all(principal))
    return [
        store.proposal_public(session, p, process)
        for p in store.list_proposals(session, process.id)
    ]


@router.post("/processes/{ref}/proposals", status_code=201)
def create_proposal(
    ref: str,
    proposal_in: ProposalCreate,
    request: Request,
    session: SessionDep,
    principal: PosterDep,
) -> dict[str, Any]:
    """Make a proposal while the process's proposals phase runs."""
    process = processes.get_process(session, ref, published_only=True)
    proposal = store.create_proposal(session, process, proposal_in, principal)
    audit(session, request, principal, "proposal.create", f"proposal:{proposal.id}")
    return store.proposal_public(session, proposal, process)


@router.get("/proposals/{proposal_id}")
def read_proposal(
    proposal_id: int, session: SessionDep, principal: OptionalPrincipal
) -> dict[str, Any]:
    """Read a proposal: supports, results, milestones (never who supported or voted)."""
    proposal = store.get_proposal(session, proposal_id, principal)
    return store.proposal_public(session, proposal, store.process_of(session, proposal))


@router.patch("/proposals/{proposal_id}")
def update_proposal(
    proposal_id: int,
    proposal_in: ProposalUpdate,
    request: Request,
    session: SessionDep,
    principal: PosterDep,
) -> dict[str, Any]:
    """Edit one's own proposal until its first support."""
    proposal = store.get_proposal(session, proposal_id, principal)
    store.update_proposal(session, proposal, proposal_in, principal)
    audit(session, request, principal, "proposal.update", f"proposal:{proposal.id}")
    return store.proposal_public(session, proposal, store.process_of(session, proposal))


@router.post("/proposals/{proposal_id}/images", status_code=201)
async def upload_image(
    proposal_id: int,
    image: Annotated[UploadFile, File()],
    request: Request,
    session: SessionDep,
    principal: PosterDep,
) -> dict[str, Any]:
    """Attach a JPEG or PNG (re-encoded: its EXIF, GPS included, is dropped)."""
    raw = await image.read(MAX_UPLOAD_BYTES + 1)
    proposal = store.get_proposal(session, proposal_id, principal)
    row = store.add_image(session, proposal, raw, principal)
    audit(session, request, principal, "proposal.image", f"proposal:{proposal.id}")
    return {"id": row.id, "url": f"{API}/proposals/{proposal.id}/images/{row.id}"}


@router.get("/proposals/{proposal_id}/images/{image_id}")
def read_image(
    proposal_id: int, image_id: int, session: SessionDep, principal: OptionalPrincipal
) -> Response:
    """Serve a proposal's image."""
    store.get_proposal(session, proposal_id, principal)
    row = session.get(ProposalImage, image_id)
    if row is None or row.proposal_id != proposal_id:
        raise Problem(404, "Not found", f"no image {image_id} on proposal {proposal_id}")
    return Response(
        row.data,
        media_type=row.content_type,
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


@router.post("/proposals/{proposal_id}/support", status_code=201)
def support_proposal(
    proposal_id: int, request: Request, session: SessionDep, principal: VerifiedDep
) -> dict[str, Any]:
    """Support a proposal (verified residents, once each; a second is refused with 409)."""
    proposal = store.get_proposal(session, proposal_id)
    count = votes.support(session, proposal, principal.user_id)
    audit(session, request, principal, "proposal.support", f"proposal:{proposal.id}")
    return {"support_count": count, "status": proposal.status}


@router.delete("/proposals/{proposal_id}/support")
def withdraw_support(
    proposal_id: int, request: Request, session: SessionDep, principal: VerifiedDep
) -> dict[str, Any]:
    """Withdraw one's support while the proposal collects supports."""
    proposal = store.get_proposal(session, proposal_id)
    count = votes.withdraw_support(session, proposal, principal.user_id)
    audit(session, request, principal, "proposal.unsupport", f"proposal:{proposal.id}")
    return {"support_count": count, "status": proposal.status}


@router.post("/proposals/{proposal_id}/vote", status_code=201)
def vote_on_proposal(
    proposal_id: int,
    vote_in: VoteIn,
    request: Request,
    session: SessionDep,
    principal: VerifiedDep,
) -> dict[str, Any]:
    """Cast a secret ballot (verified residents, once each; a second is refused with 409)."""
    proposal = store.get_proposal(session, proposal_id)
    votes.vote(session, proposal, principal.user_id, vote_in.choice)
    # Who voted is audited; how is not.
    audit(session, request, principal, "proposal.vote", f"proposal:{proposal.id}")
    return {"voted": True}


@router.get("/proposals/{proposal_id}/me")
def read_my_part(
    proposal_id: int, session: SessionDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Say whether the caller supports, voted on and follows a proposal."""
    proposal = store.get_proposal(session, proposal_id, principal)
    uid = principal.user_id
    return {
        "supported": votes.has_supported(session, proposal.id, uid),
        "voted": votes.has_voted(session, proposal.id, uid),
        "following": follows.is_following(session, uid, "proposal", proposal.id),
        "author": proposal.author_id == uid,
    }


@router.post("/proposals/{proposal_id}/decision")
def decide_proposal(
    proposal_id: int, request: Request, session: SessionDep, principal: OperatorDep
) -> dict[str, Any]:
    """Decide a proposal whose process's voting phase has ended (operators)."""
    proposal = store.get_proposal(session, proposal_id, principal)
    decision = votes.decide_proposal(session, proposal)
    audit(
        session, request, principal, "proposal.decide", f"proposal:{proposal.id}",
        status=decision.status,
    )  # fmt: skip
    return store.proposal_public(session, proposal, store.process_of(session, proposal))


@router.post("/proposals/{proposal_id}/milestones", status_code=201)
def create_milestone(
    proposal_id: int,
    milestone_in: MilestoneCreate,
    request: Request,
    session: SessionDep,
    principal: OperatorDep,
) -> dict[str, Any]:
    """Add a follow-up milestone to an accepted proposal (operators)."""
    proposal = store.get_proposal(session, proposal_id, principal)
    row = store.add_milestone(session, proposal, milestone_in, principal)
    audit(session, request, principal, "proposal.milestone", f"proposal:{proposal.id}")
    return {"id": row.id, "title": row.title, "date": row.date.isoformat(), "status": row.status}


@router.post("/proposals/{proposal_id}/status")
def update_status(
    proposal_id: int,
    status_in: StatusIn,
    request: Request,
    session: SessionDep,
    principal: OperatorDep,
) -> dict[str, Any]:
    """Move an accepted proposal to in execution, then implemented (operators)."""
    proposal = store.get_proposal(session, proposal_id, principal)
    store.set_status(session, proposal, status_in.status)
    audit(
        session, request, principal, "proposal.status", f"proposal:{proposal.id}",
        status=status_in.status,
    )  # fmt: skip
    return store.proposal_public(session, proposal, store.process_of(session, proposal))


def _check_target(session: SessionDep, target_type: str, target_id: int) -> None:
    if target_type == "process":
        processes.get_process(session, target_id, published_only=True)
    elif target_type == "proposal":
        store.get_proposal(session, target_id)
    else:
        raise Problem(404, "Not found", f"one follows {' or '.join(FOLLOW_TARGETS)} here")


@router.put("/follows/{target_type}/{target_id}", status_code=204)
def follow_item(
    target_type: str, target_id: int, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    """Follow a process or a proposal (to be notified of its changes)."""
    _check_target(session, target_type, target_id)
    follows.follow(session, principal.user_id, target_type, target_id)
    return Response(status_code=204)


@router.delete("/follows/{target_type}/{target_id}", status_code=204)
def unfollow_item(
    target_type: str, target_id: int, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    """Stop following a process or a proposal."""
    if target_type not in FOLLOW_TARGETS:
        raise Problem(404, "Not found", f"one follows {' or '.join(FOLLOW_TARGETS)} here")
    follows.unfollow(session, principal.user_id, target_type, target_id)
    return Response(status_code=204)
