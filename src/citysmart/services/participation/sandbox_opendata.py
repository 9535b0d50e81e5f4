"""Open data of the sandbox registry: ``RegulatorySandboxProject`` entities, JSON and CSV.

No Smart Data Model covers sandbox projects, so the type is our own:
``urn:ngsi-ld:RegulatorySandboxProject:sejong-<id>`` with ``name``, ``alternateName`` (the
Korean title), ``description``, ``category`` (the field), ``sandboxTrack``, ``status`` (the
stage), ``operator`` (the company or organisation), ``areaServed`` (the place), ``scale``,
``startDate``, ``endDate``, ``participantCount`` (a count only: no sign-up personal data),
``dateModified`` and ``dataProvider``.
"""

from __future__ import annotations

import csv
import io
from typing import Any, Final

from sqlalchemy.orm import Session

from citysmart.core.time import isoformat
from citysmart.hub.registry import upsert_entity
from citysmart.services.participation.models_sandbox import SandboxProject
from citysmart.services.participation.sandbox_store import signup_count

ENTITY_TYPE: Final = "RegulatorySandboxProject"
DATA_PROVIDER: Final = "citysmart participation service (regulatory sandbox registry)"
CSV_COLUMNS: Final = (
    "id",
    "title",
    "title_ko",
    "field",
    "track",
    "stage",
    "operator",
    "place",
    "scale",
    "period_start",
    "period_end",
    "capacity",
    "signups",
)


def entity_id(project_id: int) -> str:
    """Return the NGSI-LD id of a project's entity."""
    return f"urn:ngsi-ld:{ENTITY_TYPE}:sejong-{project_id}"


def publish(session: Session, project: SandboxProject) -> None:
    """Write (or update) a project's entity in the hub."""
    props: dict[str, Any] = {
        "alternateName": project.title_ko,
        "description": project.summary or None,
        "category": project.field,
        "sandboxTrack": project.track,
        "status": project.stage,
        "operator": project.operator_name,
        "areaServed": project.place or None,
        "scale": project.scale or None,
        "startDate": project.period_start.isoformat() if project.period_start else None,
        "endDate": project.period_end.isoformat() if project.period_end else None,
        "participantCount": signup_count(session, project.id),
        "dateModified": isoformat(project.updated_at),
        "dataProvider": DATA_PROVIDER,
    }
    upsert_entity(session, entity_id(project.id), ENTITY_TYPE, project.title, props)


def projects_csv(views: list[dict[str, Any]]) -> str:
    """Return project views as CSV with a header."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(views)
    return out.getvalue()
