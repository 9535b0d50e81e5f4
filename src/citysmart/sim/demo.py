"""``citysmart demo``: Sejong's geography, devices over MQTT, the fine-dust map, and the portal.

The fine-dust sensors replay real hourly series from Beijing (``sim/replay.py``: the UCI
data set, time-shifted to now by month, day and hour), labelled as such everywhere; when
that data cannot be read they fall back to the simulated model (``sim/model.py``),
labelled "simulated". The last :data:`BACKFILL_HOURS` hours are stored at start and the
services' jobs run once before the URL is printed, so the map's 48-hour slider is full.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import threading

import click
import httpx
import uvicorn
from sqlalchemy.exc import SQLAlchemyError

from citysmart.core import accounts
from citysmart.core.config import Settings
from citysmart.core.jobs import jobs_setting
from citysmart.hub.models import Device
from citysmart.hub.registry import register_device, upsert_entity
from citysmart.hub.runtime import HubRuntime
from citysmart.hub.senml import Reading
from citysmart.portal.app import create_app
from citysmart.sim.bike_fleet import (
    SEOUL_TZ,
    BikeRiders,
    bike_lines,
    drop_trip_history,
    seed_bike_stations,
)
from citysmart.sim.bike_roster import set_up_crew
from citysmart.sim.geography import Area, Site, iot_sites, load_areas, reference_sites
from citysmart.sim.model import UNITS, SiteState, new_state, reading
from citysmart.sim.participation import CITIZEN, MODERATOR, Cast, make_cast, set_up_scene
from citysmart.sim.publisher import DeviceFleet, ReadingSource
from citysmart.sim.replay import REPLAY_LABEL, SOURCE_URL, Replay, ReplayError, make_replay

logger = logging.getLogger(__name__)
OPERATOR = "operator"
# 48 hours for the map's time slider, plus the hour the first of them needs for QC.
BACKFILL_HOURS = 49
BACKFILL_STEP = dt.timedelta(minutes=10)


def sejong_sites() -> tuple[list[Area], list[Site]]:
    """Return Sejong's areas and every device site (reference stations first)."""
    areas = load_areas()
    return areas, reference_sites() + iot_sites(areas)


def site_properties(site: Site, replay: Replay | None) -> dict[str, object]:
    """Return what the hub keeps of a site: kind, area, and where its readings come from."""
    properties: dict[str, object] = {
        "reference": site.reference,
        "simulated": True,
        "areaCode": site.area_code,
        # The nominal interval the air service counts hourly capture against: the
        # backfill's; live readings come faster, which only raises capture.
        "reportingIntervalS": BACKFILL_STEP.total_seconds(),
    }
    if replay is not None:
        station = replay.station_of(site)
        properties["dataSource"] = REPLAY_LABEL
        properties["replayedFrom"] = (
            f"Beijing {station.name} station, same month-day-hour of 2016-17 ({SOURCE_URL})"
        )
    else:
        properties["dataSource"] = "simulated"
    return properties


def seed(runtime: HubRuntime, replay: Replay | None = None) -> tuple[list[Area], list[Site]]:
    """Register Sejong's areas, the reference stations and the IoT sensors (idempotent)."""
    areas, sites = sejong_sites()
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
            properties = site_properties(site, replay)
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


def simulated_source() -> ReadingSource:
    """Return the simulated model as a reading source (one state per site)."""
    states: dict[str, SiteState] = {}

    def values(site: Site, when: dt.datetime) -> dict[str, float]:
        state = states.get(site.device_id)
        if state is None:
            state = states[site.device_id] = new_state(site.area_code, site.device_id + "-history")
        return reading(state, when, site.reference)

    return values


def backfill(
    runtime: HubRuntime,
    sites: list[Site],
    source: ReadingSource | None = None,
    hours: int = BACKFILL_HOURS,
    end: dt.datetime | None = None,
) -> int:
    """Store the last ``hours`` of readings (to now) so that the map and charts have a history."""
    source = source or simulated_source()
    end = end or dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    steps = int(dt.timedelta(hours=hours) / BACKFILL_STEP)
    stored = 0
    for site in sites:
        readings = []
        for step in range(steps, 0, -1):
            when = end - step * BACKFILL_STEP
            micros = int(when.timestamp() * 1_000_000)
            for name, value in source(site, when).items():
                readings.append(Reading(name, micros, value, None, "n", UNITS[name]))
        stored += runtime.ingestor.store_readings(site.entity_id, site.device_id, readings)
    return stored


def load_replay() -> Replay | None:
    """Return the replay of Beijing's series onto Sejong's sites, or None if unreadable."""
    areas, sites = sejong_sites()
    try:
        return make_replay(areas, sites)
    except (OSError, ReplayError) as exc:
        logger.warning("cannot replay Beijing's data (%s): readings will be simulated", exc)
        return None


def run_demo(settings: Settings, host: str, port: int, interval: float) -> None:
    """Seed, start the hub and the simulated fleet, and serve until interrupted."""
    runtime = HubRuntime.create(settings)
    runtime.migrate()
    replay = load_replay()
    areas, sites = seed(runtime, replay)
    bike_sites = seed_bike_stations(runtime)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    trips = drop_trip_history(bike_sites, settings.data_dir)  # the bikes job imports it
    riders = BikeRiders(runtime, bike_sites)
    password = secrets.token_urlsafe(12)
    with runtime.sessions.begin() as session:
        try:
            accounts.get_user(session, OPERATOR)
        except accounts.AccountError:
            accounts.create_user(session, OPERATOR, "operator", password, actor="demo")
        else:
            accounts.set_password(session, OPERATOR, password, actor="demo")
        # The demo acts as the bike operator over HTTP (trucks, staff, the first plan).
        crew_token, _ = accounts.issue_token(session, OPERATOR, 1)
    cast = _participation_cast(runtime, crew_token)
    stored = backfill(runtime, sites, replay.values if replay is not None else None)
    hours_ready = 0
    if jobs_setting() is not False:
        # The hourly air job computes the backfilled hours now: the map is ready at start.
        runner = runtime.start_jobs(run_now=True)
        hours_ready = _map_hours(runtime)
        if any(s.failures for s in runner.stats.values()):
            logger.warning("a job failed at start: %s", runner.stats)
    app = create_app(settings, runtime=runtime, start_mqtt=True, migrate=False)
    fleet = DeviceFleet(
        sites, settings.effective_mqtt_url, interval, replay.values if replay else None
    )
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))

    def start_fleet_when_ready() -> None:
        while not server.started:
            if server.should_exit:
                return
            threading.Event().wait(0.1)
        fleet.start()
        riders.start()
        url = f"http://{host}:{port}/"
        click.echo(
            "\n".join(
                [
                    "",
                    f"citysmart demo: Sejong with {len(areas)} eup/myeon/dong boundaries "
                    "(KOSTAT 2018),",
                    f"  {sum(s.reference for s in sites)} AirKorea reference sites and "
                    f"{sum(not s.reference for s in sites)} low-cost sensors in 9 pilot areas.",
                    *_readings_lines(replay),
                    *bike_lines(bike_sites, trips),
                    f"  {stored} readings stored for the last {BACKFILL_HOURS} h, new ones every "
                    f"{interval:g} s over MQTT ({settings.effective_mqtt_url}).",
                    f"  Fine-dust map: {url}air ({hours_ready} hours computed; "
                    "the hourly job adds each new hour)",
                    f"  Open {url} and the hub explorer at {url}hub/explorer",
                    f"  Bike rebalancing plan: {url}bikes/plan (drivers: {url}bikes/driver)",
                    f"  Sign in as an operator: user '{OPERATOR}', password '{password}'",
                    *_participation_lines(url, cast),
                    "  Stop with Ctrl+C.",
                ]
            )
        )
        today = dt.datetime.now(SEOUL_TZ).date()
        try:
            click.echo(f"  Bikes: {set_up_crew(url.rstrip('/'), crew_token, today)}")
        except httpx.HTTPError as exc:
            logger.warning("the demo could not set up the bike crew: %s", exc)
        if cast is not None:  # set_up_scene logs its errors and says so
            click.echo(f"  Participation: {set_up_scene(url.rstrip('/'), cast, today)}")

    threading.Thread(target=start_fleet_when_ready, daemon=True).start()
    try:
        server.run()
    finally:
        fleet.stop()
        riders.stop()


def _participation_cast(runtime: HubRuntime, operator_token: str) -> Cast | None:
    """Create the participation scene's people, or None (with a warning) if that fails."""
    try:
        with runtime.sessions.begin() as session:
            return make_cast(session, operator_token)
    except (accounts.AccountError, SQLAlchemyError) as exc:
        logger.warning("the demo could not create its citizens: %s", exc)
        return None


def _participation_lines(url: str, cast: Cast | None) -> list[str]:
    """Say where participation is and how to sign in as the demo's citizen and moderator."""
    if cast is None:
        return []
    return [
        f"  Participation: {url}participation (sandbox trials: {url}sandbox, "
        f"opinions: {url}participation/opinions)",
        f"  Sign in as a verified citizen: user '{CITIZEN}', password "
        f"'{cast.passwords[CITIZEN]}'; as a moderator: user '{MODERATOR}', password "
        f"'{cast.passwords[MODERATOR]}'",
    ]


def _readings_lines(replay: Replay | None) -> list[str]:
    """Say plainly where the demo's readings come from."""
    if replay is None:
        return ["  Readings are SIMULATED (not measured): Beijing's data could not be read."]
    return [
        f"  Fine-dust readings are REPLAYED: {REPLAY_LABEL}.",
        "  Each pilot area replays one Beijing station (UCI data set, 2016-17) at the same",
        "  month, day and hour as now (KST); sensor bias, humidity effect and noise are simulated.",
    ]


def _map_hours(runtime: HubRuntime) -> int:
    """Count the hours the fine-dust map has (0 without the air service's tables)."""
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    try:
        with runtime.engine.connect() as conn:
            count = conn.execute(
                text("SELECT count(DISTINCT hour) FROM air_map_hour WHERE status = 'ok'")
            ).scalar()
    except SQLAlchemyError:
        return 0
    return int(count or 0)
