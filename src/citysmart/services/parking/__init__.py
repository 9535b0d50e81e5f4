"""Smart parking: live occupancy, free-space forecasts, guidance, tariffs and sessions."""

from __future__ import annotations

from citysmart.core.service import ServiceManifest
from citysmart.services.parking import api
from citysmart.services.parking.cli import parking
from citysmart.services.parking.live_job import LIVE_JOBS
from citysmart.services.parking.lots import LOT_TYPE, SPOT_TYPE

SERVICE = ServiceManifest(
    name="parking",
    title="Smart parking",
    description="Car parks' live occupancy, guidance to a free space, free-space forecasts.",
    router=api.router,
    entity_types=(LOT_TYPE, SPOT_TYPE),
    jobs=LIVE_JOBS,
    commands=parking,
)
