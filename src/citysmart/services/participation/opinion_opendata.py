"""Open data of the opinion channel: FIWARE IssueReporting entities and statistics.

Each opinion is an ``IssueReporting`` entity (Smart Data Models, dataModel.IssueTracking)
in the hub, id ``urn:ngsi-ld:IssueReporting:sejong-opinion-<id>``, holding only what anyone
may read (see opinion_store): ``category``, ``categoryCode``, ``resolutionStatus`` (Open,
Assigned, InProgress, Closed), ``departmentId``, ``areaServed`` (the dong), ``reportId``,
``dateCreated``, ``dateModified``, ``dataProvider``; ``title`` and ``location`` only when
the author made the item public. Never the description, the author or the answer's history.
The statistics count opinions per category, status and month (UTC), as JSON or CSV.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from citysmart.core.admin_areas import load_admin_areas
from citysmart.core.time import isoformat
from citysmart.hub.registry import upsert_entity
from citysmart.services.participation import opinion_rules as rules
from citysmart.services.participation.models_sandbox import Department, Opinion
from citysmart.services.participation.opinion_store import month_of

ENTITY_TYPE: Final = "IssueReporting"
DATA_PROVIDER: Final = "citysmart participation service (opinion channel)"
STATS_COLUMNS: Final = ("month", "category", "kind", "status", "count")


def entity_id(opinion_id: int) -> str:
    """Return the NGSI-LD id of an opinion's entity."""
    return f"urn:ngsi-ld:{ENTITY_TYPE}:sejong-opinion-{opinion_id}"


def entity_properties(session: Session, opinion: Opinion) -> dict[str, Any]:
    """Return the public properties of an opinion's IssueReporting entity."""
    dept = session.get(Department, opinion.department_id) if opinion.department_id else None
    area = {a.code: a for a in load_admin_areas()}.get(opinion.area_code or "")
    props: dict[str, Any] = {
        "category": rules.CATEGORIES[opinion.category][0],
        "categoryCode": opinion.category,
        "subCategory": opinion.kind,
        "resolutionStatus": rules.RESOLUTION_STATUS[opinion.status],
        "departmentId": dept.code if dept else None,
        "areaServed": f"{area.name_ko} ({area.name_en})" if area else None,
        "reportId": str(opinion.id),
        "dateCreated": isoformat(opinion.created_at),
        "dateModified": isoformat(opinion.updated_at),
        "dataProvider": DATA_PROVIDER,
    }
    if opinion.public:
        props["title"] = opinion.title
    return props


def publish(session: Session, opinion: Opinion) -> None:
    """Write (or update) an opinion's IssueReporting entity in the hub."""
    location = None
    if opinion.public and opinion.lon is not None and opinion.lat is not None:
        location = {"type": "Point", "coordinates": [opinion.lon, opinion.lat]}
    upsert_entity(
        session,
        entity_id(opinion.id),
        ENTITY_TYPE,
        None,
        entity_properties(session, opinion),
        location=location,
    )


def stats(session: Session) -> list[dict[str, Any]]:
    """Count opinions per month, category, kind and status."""
    counts: Counter[tuple[str, str, str, str]] = Counter()
    rows = session.execute(
        select(Opinion.created_at, Opinion.category, Opinion.kind, Opinion.status)
    )
    for created_at, category, kind, status in rows:
        counts[(month_of(created_at), category, kind, status)] += 1
    return [
        {"month": m, "category": c, "kind": k, "status": s, "count": n}
        for (m, c, k, s), n in sorted(counts.items())
    ]


def stats_csv(rows: list[dict[str, Any]]) -> str:
    """Return the statistics as CSV with a header."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=STATS_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
