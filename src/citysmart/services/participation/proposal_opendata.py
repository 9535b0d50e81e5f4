"""Open data of processes and proposals: NGSI-LD entities in the hub, JSON and CSV.

Each proposal of a published process is a ``CivicProposal`` entity, id
``urn:ngsi-ld:CivicProposal:sejong-proposal-<id>``, and each published process a
``ParticipatoryProcess`` entity, id ``urn:ngsi-ld:ParticipatoryProcess:sejong-<slug>``
(no FIWARE Smart Data Model covers either). They hold only what anyone may read on the
pages: title, body, category, dong, location, status, support count and the vote's
published results. Never an author, a supporter or a voter.
"""

from __future__ import annotations

import csv
import io
from typing import Any, Final

from sqlalchemy.orm import Session

from citysmart.core.admin_areas import load_admin_areas
from citysmart.core.time import isoformat
from citysmart.hub.ngsi_ld.entity_store import delete_entity
from citysmart.hub.registry import upsert_entity
from citysmart.services.participation import proposals as rules
from citysmart.services.participation.models_process import Process
from citysmart.services.participation.models_proposal import Proposal

PROPOSAL_TYPE: Final = "CivicProposal"
PROCESS_TYPE: Final = "ParticipatoryProcess"
DATA_PROVIDER: Final = "citysmart participation service (proposals)"
CSV_COLUMNS: Final = (
    "id",
    "process",
    "title",
    "body",
    "category",
    "area_code",
    "lon",
    "lat",
    "status",
    "support_count",
    "support_threshold",
    "votes_yes",
    "votes_no",
    "votes_abstain",
    "decided_at",
    "created_at",
)


def proposal_entity_id(proposal_id: int) -> str:
    """Return the NGSI-LD id of a proposal's entity."""
    return f"urn:ngsi-ld:{PROPOSAL_TYPE}:sejong-proposal-{proposal_id}"


def process_entity_id(slug: str) -> str:
    """Return the NGSI-LD id of a process's entity."""
    return f"urn:ngsi-ld:{PROCESS_TYPE}:sejong-{slug}"


def record(proposal: Proposal, process: Process) -> dict[str, Any]:
    """Return the open-data record of a proposal (nothing personal)."""
    return {
        "id": proposal.id,
        "process": process.slug,
        "title": proposal.title,
        "body": proposal.body,
        "category": proposal.category,
        "area_code": proposal.area_code,
        "lon": proposal.lon,
        "lat": proposal.lat,
        "status": proposal.status,
        "support_count": proposal.support_count,
        "support_threshold": process.support_threshold,
        "votes_yes": proposal.votes_yes,
        "votes_no": proposal.votes_no,
        "votes_abstain": proposal.votes_abstain,
        "decided_at": isoformat(proposal.decided_at) if proposal.decided_at else None,
        "created_at": isoformat(proposal.created_at),
    }


def to_csv(records: list[dict[str, Any]]) -> str:
    """Return proposal records as CSV with a header."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in records:
        writer.writerow({k: "" if row[k] is None else row[k] for k in CSV_COLUMNS})
    return out.getvalue()


def _area_name(code: str | None) -> str | None:
    area = {a.code: a for a in load_admin_areas()}.get(code or "")
    return f"{area.name_ko} ({area.name_en})" if area else None


def publish_proposal(session: Session, proposal: Proposal, process: Process) -> None:
    """Write a proposal's entity, or remove it when it is not public (any more)."""
    if not process.published or proposal.hidden_at is not None:
        delete_entity(session, proposal_entity_id(proposal.id))
        return
    data = record(proposal, process)
    props: dict[str, Any] = {
        "title": data["title"],
        "description": data["body"],
        "category": data["category"],
        "categoryName": rules.CATEGORIES.get(proposal.category, ("", ""))[0],
        "areaCode": data["area_code"],
        "areaServed": _area_name(proposal.area_code),
        "status": data["status"],
        "supportCount": data["support_count"],
        "supportThreshold": data["support_threshold"],
        "votesYes": data["votes_yes"],
        "votesNo": data["votes_no"],
        "votesAbstain": data["votes_abstain"],
        "dateDecided": data["decided_at"],
        "dateCreated": data["created_at"],
        "refProcess": process_entity_id(process.slug),
        "dataProvider": DATA_PROVIDER,
    }
    location = None
    if proposal.lon is not None and proposal.lat is not None:
        location = {"type": "Point", "coordinates": [proposal.lon, proposal.lat]}
    upsert_entity(
        session,
        proposal_entity_id(proposal.id),
        PROPOSAL_TYPE,
        None,
        {k: v for k, v in props.items() if v is not None},
        location=location,
    )


def publish_process(session: Session, process: Process, phases: list[dict[str, Any]]) -> None:
    """Write a published process's entity (or remove it when unpublished)."""
    if not process.published:
        delete_entity(session, process_entity_id(process.slug))
        return
    props: dict[str, Any] = {
        "title": process.title,
        "description": process.description,
        "supportThreshold": process.support_threshold,
        "quorum": process.quorum,
        "decisionRule": rules.DECISION_RULE,
        "phases": [{k: p[k] for k in ("kind", "title", "starts_at", "ends_at")} for p in phases],
        "dataProvider": DATA_PROVIDER,
    }
    if process.title_ko:
        props["titleKo"] = process.title_ko
    if process.area_code:
        props["areaCode"] = process.area_code
    upsert_entity(session, process_entity_id(process.slug), PROCESS_TYPE, process.title, props)
