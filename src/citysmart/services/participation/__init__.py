"""Citizen participation: processes, proposals to decisions, debates, surveys, budgets, sandbox."""

from __future__ import annotations

from fastapi import APIRouter

from citysmart.core.service import ServiceManifest
from citysmart.services.participation import (
    budget_api,
    budget_entities,
    budget_pages,
    opinion_opendata,
    proposal_api,
    proposal_opendata,
    proposal_pages,
    sandbox_api,
    sandbox_opendata,
    sandbox_pages,
    talk_api,
    talk_pages,
)

_PARTS = (proposal_api, talk_api, budget_api, sandbox_api)
_PAGES = (proposal_pages, talk_pages, budget_pages, sandbox_pages)

router = APIRouter()
for part in (*_PARTS, *_PAGES):
    router.include_router(part.router)

SERVICE = ServiceManifest(
    name="participation",
    title="Citizen participation",
    description=(
        "Proposals, debates, votes, surveys, participatory budgets, the opinion channel and "
        "regulatory-sandbox projects."
    ),
    router=router,
    entity_types=(
        proposal_opendata.PROCESS_TYPE,
        proposal_opendata.PROPOSAL_TYPE,
        *talk_api.ENTITY_TYPES,
        *budget_entities.ENTITY_TYPES,
        opinion_opendata.ENTITY_TYPE,
        sandbox_opendata.ENTITY_TYPE,
    ),
    pages=tuple(page for part in _PAGES for page in part.PAGES),
    jobs=tuple(job for part in (*_PARTS, *_PAGES) for job in part.JOBS),
    dashboard=tuple(p for part in _PAGES for p in getattr(part, "DASHBOARD", ())),
)
