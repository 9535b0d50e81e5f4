"""Fine-dust integrated map: sensor QC, calibration, Korean grades, interpolated map, alerts."""

from __future__ import annotations

from citysmart.core.service import ServiceManifest
from citysmart.services.air.cli import air

SERVICE = ServiceManifest(
    name="air",
    title="Fine dust",
    description="Hourly fine-dust map of Sejong from IoT sensors and AirKorea stations.",
    entity_types=("AirQualityObserved",),
    commands=air,
)
