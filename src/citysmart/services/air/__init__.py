"""Fine-dust integrated map: sensor QC, calibration, Korean grades, interpolated map, alerts."""

from __future__ import annotations

from fastapi import APIRouter

from citysmart.core.service import ServiceManifest
from citysmart.services.air import alert_pages, alert_routes, api, pages, report_routes
from citysmart.services.air.cli import air
from citysmart.services.air.forecast_job import FORECAST_JOBS
from citysmart.services.air.forecast_routes import router as forecast_router
from citysmart.services.air.jobs import JOBS
from citysmart.services.air.notify import ALERT_JOBS

router = APIRouter()
router.include_router(api.router)
router.include_router(alert_routes.router)
router.include_router(report_routes.router)
router.include_router(forecast_router)
router.include_router(pages.router)
router.include_router(alert_pages.router)

SERVICE = ServiceManifest(
    name="air",
    title="Fine dust",
    description="Hourly fine-dust map of Sejong from IoT sensors and AirKorea stations.",
    router=router,
    jobs=(*JOBS, *ALERT_JOBS, *FORECAST_JOBS),
    entity_types=("AirQualityObserved",),
    pages=(pages.PAGE, alert_pages.PAGE, alert_pages.REPORT_PAGE),
    commands=air,
)
