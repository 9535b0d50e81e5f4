"""GBFS v3.0 feeds of Eoulling under ``/gbfs``, discoverable from ``/gbfs/gbfs.json``.

Public (open data, no sign-in). Every feed is built when asked from live data: stations
and their newest status from the hub, dockless e-scooters from the bikes tables. URLs in
gbfs.json are absolute, built from the request's base URL (so they follow the host and
any root path the app is served under). ``Cache-Control`` allows caching for the feed's
``ttl``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from citysmart.core.auth import SessionDep
from citysmart.services.bikes import gbfs, store
from citysmart.services.bikes.stations import read_stations

router = APIRouter(prefix="/gbfs", tags=["gbfs"])
CONTACT_ENV = "CITYSMART_GBFS_CONTACT_EMAIL"


def _answer(document: dict[str, Any]) -> JSONResponse:
    return JSONResponse(document, headers={"Cache-Control": f"public, max-age={document['ttl']}"})


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def system() -> gbfs.SystemInfo:
    """Return the published system, with the contact address from the environment."""
    contact = os.environ.get(CONTACT_ENV, "").strip()
    if contact:
        return dataclasses.replace(gbfs.EOULLING, feed_contact_email=contact)
    return gbfs.EOULLING


@router.get("/gbfs.json", name="gbfs")
def read_gbfs(request: Request) -> JSONResponse:
    """List every feed this system publishes, with absolute URLs (auto-discovery)."""
    urls = {name: str(request.url_for(name)) for name in ("gbfs", *gbfs.FEEDS)}
    return _answer(gbfs.gbfs_discovery(urls, _now()))


@router.get("/system_information.json", name="system_information")
def read_system_information() -> JSONResponse:
    """Describe the system: Eoulling (어울링), Sejong, Asia/Seoul, Korean and English."""
    return _answer(gbfs.system_information(system(), _now()))


@router.get("/vehicle_types.json", name="vehicle_types")
def read_vehicle_types() -> JSONResponse:
    """List the vehicle types: docked bikes and dockless e-scooters."""
    return _answer(gbfs.vehicle_types(gbfs.VEHICLE_TYPES, _now()))


@router.get("/station_information.json", name="station_information")
def read_station_information(db: SessionDep) -> JSONResponse:
    """List every registered docking station: names, place, capacity."""
    return _answer(gbfs.station_information(read_stations(db), _now()))


@router.get("/station_status.json", name="station_status")
def read_station_status(db: SessionDep) -> JSONResponse:
    """Give every station's newest status (a stale one neither rents nor takes returns)."""
    return _answer(gbfs.station_status(read_stations(db), _now()))


@router.get("/vehicle_status.json", name="vehicle_status")
def read_vehicle_status(db: SessionDep) -> JSONResponse:
    """Give every dockless e-scooter's last reported place and charge."""
    vehicles = store.dockless_vehicles(db)
    return _answer(gbfs.vehicle_status(vehicles, gbfs.VEHICLE_TYPES, _now()))
