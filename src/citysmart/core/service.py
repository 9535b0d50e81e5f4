"""The service contract: each service package exports one ``SERVICE`` manifest."""

from __future__ import annotations

import importlib
import importlib.util
import logging
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import click
from fastapi import APIRouter
from sqlalchemy.orm import Session

from citysmart.core.auth import Principal

logger = logging.getLogger(__name__)
SERVICES_PACKAGE = "citysmart.services"


@dataclass(frozen=True, slots=True)
class Job:
    """A scheduled piece of work a worker runs (one instance at a time across workers)."""

    name: str
    run: Callable[[Any], None]
    every_s: float


@dataclass(frozen=True, slots=True)
class Page:
    """A page a service adds to the portal's navigation (and the home page or the console)."""

    path: str
    title: str
    title_ko: str | None = None
    # The role a user needs to use the page (checked by roles.grants); None: anyone. Pages
    # with a role are listed in the operator console and hidden from those not granted it.
    role: str | None = None


@dataclass(frozen=True, slots=True)
class DashboardEntry:
    """One line on a citizen's dashboard: an item they follow, a sign-up, a request."""

    section: str  # "following", "signups", "requests"...
    title: str
    link: str  # a local path
    status: str = ""
    title_ko: str | None = None
    status_ko: str | None = None


# A service's contribution to a signed-in user's dashboard.
DashboardProvider = Callable[[Session, Principal], list[DashboardEntry]]


@dataclass(frozen=True, slots=True)
class ServiceManifest:
    """What a service brings: its name, routes, jobs, entity types, pages and roles."""

    name: str
    title: str
    router: APIRouter | None = None
    jobs: tuple[Job, ...] = ()
    entity_types: tuple[str, ...] = ()
    private_types: tuple[str, ...] = ()  # entity types the NGSI-LD API never serves
    pages: tuple[Page, ...] = ()
    roles: dict[str, set[str]] = field(default_factory=dict)
    description: str = ""
    commands: click.Group | None = None  # mounted as ``citysmart <name> ...``
    dashboard: tuple[DashboardProvider, ...] = ()


def load_service_models() -> list[str]:
    """Import every service's ``models`` module (its tables join ``Base.metadata``).

    Migrations and the schema check need every table the models describe, whether or not
    a service is enabled. Returns the modules imported.
    """
    package = importlib.import_module(SERVICES_PACKAGE)
    loaded = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        name = f"{SERVICES_PACKAGE}.{info.name}.models"
        if info.ispkg and importlib.util.find_spec(name) is not None:
            importlib.import_module(name)
            loaded.append(name)
    return loaded


def discover_services(enabled: set[str] | None = None) -> list[ServiceManifest]:
    """Import every package under ``citysmart.services`` and collect its ``SERVICE``."""
    package = importlib.import_module(SERVICES_PACKAGE)
    manifests = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if not info.ispkg or (enabled is not None and info.name not in enabled):
            continue
        module = importlib.import_module(f"{SERVICES_PACKAGE}.{info.name}")
        manifest = getattr(module, "SERVICE", None)
        if not isinstance(manifest, ServiceManifest):
            raise TypeError(f"{module.__name__} must export SERVICE = ServiceManifest(...)")
        if manifest.name != info.name:
            raise ValueError(
                f"{module.__name__}.SERVICE is named {manifest.name!r}, not {info.name!r}"
            )
        manifests.append(manifest)
    return manifests
