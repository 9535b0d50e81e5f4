"""Fine-dust integrated map: sensor QC, calibration, Korean grades, interpolated map, alerts."""

from __future__ import annotations

from fastapi import APIRouter

from citysmart.core.service import ServiceManifest
from citysmart.services.air import api, pages
from citysmart.services.air.cli import air
from citysmart.services.air.jobs import JOBS

router = APIRouter()
router.include_router(api.router)
router.include_router(pages.router)

SERVICE = ServiceManifest(
    name="air",
    title="Fine dust",
    description="Hourly fine-dust map of Sejong from IoT sensors and AirKorea stations.",
    router=router,
    jobs=JOBS,
    entity_types=("AirQualityObserved",),
    pages=(pages.PAGE,),
    commands=air,
)
