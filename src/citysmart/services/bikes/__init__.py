"""Public bikes (Eoulling): GBFS feeds, demand forecasts, truck rebalancing, simulation."""

from __future__ import annotations

from fastapi import APIRouter

from citysmart.core.service import ServiceManifest

router = APIRouter()

SERVICE = ServiceManifest(
    name="bikes",
    title="Public bikes",
    description="Eoulling public bikes: live station status, GBFS feeds, rebalancing plans.",
    router=router,
    entity_types=("BikeHireDockingStation",),
)
