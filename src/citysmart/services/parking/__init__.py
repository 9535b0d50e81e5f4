"""Smart parking: live occupancy, free-space forecasts, guidance, tariffs and sessions."""

from __future__ import annotations

from citysmart.core.service import ServiceManifest
from citysmart.services.parking.cli import parking

SERVICE = ServiceManifest(
    name="parking",
    title="Smart parking",
    description="Free-space forecasts for car parks (in progress: live occupancy and guidance).",
    commands=parking,
)
