"""``citysmart demo``: Sejong's geography, simulated devices over MQTT, and the portal."""

from __future__ import annotations

import datetime as dt
import secrets
import threading

import click
import uvicorn

from citysmart.core import accounts
from citysmart.core.config import Settings
from citysmart.hub.models import Device
from citysmart.hub.registry import register_device, upsert_entity
from citysmart.hub.runtime import HubRuntime
from citysmart.hub.senml import Reading
from citysmart.portal.app import create_app
from citysmart.sim.geography import Area, Site, iot_sites, load_areas, reference_sites
from citysmart.sim.model import UNITS, new_state, reading
from citysmart.sim.publisher import DeviceFleet

OPERATOR = "operator"
BACKFILL_HOURS = 24
BACKFILL_STEP = dt.timedelta(minutes=10)


def seed(runtime: HubRuntime) -> tuple[list[Area], list[Site]]:
    """Register Sejong's areas, the reference stations and the IoT sensors (idempotent)."""
    areas = load_areas()
    sites = reference_sites() + iot_sites(areas)
    with runtime.sessions.begin() as session:
        for area in areas:
            upsert_entity(
                session,
                area.entity_id,
                "AdministrativeArea",
                f"{area.name} ({area.name_eng})",
                {"code": area.code, "source": "KOSTAT SGIS 2018"},
                area.geometry,
            )
        for site in sites:
            properties = {
                "reference": site.reference,
                "simulated": True,
                "areaCode": site.area_code,
            }
            location = {"type": "Point", "coordinates": [site.lon, site.lat]}
            if session.get(Device, site.device_id) is None:
                register_device(
                    session,
                    site.device_id,
                    site.entity_id,
                    "AirQualityObserved",
                    actor="demo",
                    location=location,
                    name=site.name,
                )
            upsert_entity(
                session, site.entity_id, "AirQualityObserved", site.name, properties, location
            )
    return areas, sites


def backfill(runtime: HubRuntime, sites: list[Site]) -> int:
    """Store the last day of simulated readings so that charts have a history."""
    end = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    steps = int(dt.timedelta(hours=BACKFILL_HOURS) / BACKFILL_STEP)
    stored = 0
    for site in sites:
        state = new_state(site.area_code, site.device_id + "-history")
        readings = []
        for step in range(steps, 0, -1):
            when = end - step * BACKFILL_STEP
            micros = int(when.timestamp() * 1_000_000)
            for name, value in reading(state, when, site.reference).items():
                readings.append(Reading(name, micros, value, None, "n", UNITS[name]))
        stored += runtime.ingestor.store_readings(site.entity_id, site.device_id, readings)
    return stored


def run_demo(settings: Settings, host: str, port: int, interval: float) -> None:
    """Seed, start the hub and the simulated fleet, and serve until interrupted."""
    runtime = HubRuntime.create(settings)
    runtime.migrate()
    areas, sites = seed(runtime)
    password = secrets.token_urlsafe(12)
    with runtime.sessions.begin() as session:
        try:
            accounts.get_user(session, OPERATOR)
        except accounts.AccountError:
            accounts.create_user(session, OPERATOR, "operator", password, actor="demo")
        else:
            accounts.set_password(session, OPERATOR, password, actor="demo")
    stored = backfill(runtime, sites)
    app = create_app(settings, runtime=runtime, start_mqtt=True, migrate=False)
    fleet = DeviceFleet(sites, settings.effective_mqtt_url, interval)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))

    def start_fleet_when_ready() -> None:
        while not server.started:
            if server.should_exit:
                return
            threading.Event().wait(0.1)
        fleet.start()
        url = f"http://{host}:{port}/"
        click.echo(
            "\n".join(
                [
                    "",
                    f"citysmart demo: Sejong with {len(areas)} eup/myeon/dong boundaries "
                    "(KOSTAT 2018),",
                    f"  {sum(s.reference for s in sites)} AirKorea reference sites and "
                    f"{sum(not s.reference for s in sites)} low-cost sensors in 9 pilot areas.",
                    f"  Readings are SIMULATED (not measured); {stored} stored for the last "
                    f"{BACKFILL_HOURS} h, new ones every {interval:g} s over MQTT "
                    f"({settings.effective_mqtt_url}).",
                    f"  Open {url} and the hub explorer at {url}hub/explorer",
                    f"  Sign in as an operator: user '{OPERATOR}', password '{password}'",
                    "  Stop with Ctrl+C.",
                ]
            )
        )

    threading.Thread(target=start_fleet_when_ready, daemon=True).start()
    try:
        server.run()
    finally:
        fleet.stop()
