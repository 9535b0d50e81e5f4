"""Public bikes (Eoulling): GBFS feeds, demand forecasts, truck rebalancing, simulation."""

from __future__ import annotations

from fastapi import APIRouter

from citysmart.core.service import ServiceManifest
from citysmart.services.bikes import api, gbfs_routes, models_plan  # noqa: F401 (plan tables)

router = APIRouter()
router.include_router(gbfs_routes.router)
router.include_router(api.router)

SERVICE = ServiceManifest(
    name="bikes",
    title="Public bikes",
    description="Eoulling public bikes: live station status, GBFS feeds, rebalancing plans.",
    router=router,
    entity_types=("BikeHireDockingStation",),
)
