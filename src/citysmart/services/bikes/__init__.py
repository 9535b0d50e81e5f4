"""Public bikes (Eoulling): GBFS feeds, demand forecasts, truck rebalancing, simulation."""

from __future__ import annotations

from fastapi import APIRouter

from citysmart.core.service import ServiceManifest
from citysmart.services.bikes import api, gbfs_routes, pages, plan_routes
from citysmart.services.bikes.cli import bikes
from citysmart.services.bikes.forecast_job import FORECAST_JOBS
from citysmart.services.bikes.plan_service import PLAN_JOBS
from citysmart.services.bikes.trip_inbox import INBOX_JOBS

router = APIRouter()
router.include_router(gbfs_routes.router)
router.include_router(api.router)
router.include_router(plan_routes.router)
router.include_router(pages.router)

SERVICE = ServiceManifest(
    name="bikes",
    title="Public bikes",
    description="Eoulling public bikes: live station status, GBFS feeds, rebalancing plans.",
    router=router,
    entity_types=("BikeHireDockingStation",),
    roles={plan_routes.DRIVER: {"citizen"}},
    jobs=(*INBOX_JOBS, *FORECAST_JOBS, *PLAN_JOBS),
    commands=bikes,
    pages=(pages.PLAN_PAGE, pages.DRIVER_PAGE),
)
