"""Plain functions that put test data in place."""

from __future__ import annotations

import time
from typing import Any

from citysmart.core.accounts import create_user, issue_token
from citysmart.hub.registry import register_device
from citysmart.hub.runtime import HubRuntime

TABLES = (
    "notification",
    "subscription",
    "observation",
    "attribute",
    "entity_type",
    "dead_letter",
    "device",
    "entity",
    "oidc_token",
    "oidc_code",
    "oidc_consent",
    "oidc_subject",
    "oidc_client",
    "oidc_key",
    "api_token",
    "audit_event",
    "password_reset_token",
    "verification_code",
    "census_record",
    "app_user",
)


def create_user_with_token(
    runtime: HubRuntime, username: str, role: str, password: str | None = None
) -> str:
    """Create a user and return a new API token for them."""
    with runtime.sessions.begin() as session:
        create_user(session, username, role, password)
        secret, _ = issue_token(session, username, 30)
    return secret


def create_device(
    runtime: HubRuntime,
    device_id: str = "aq-0001",
    entity_id: str = "urn:ngsi-ld:AirQualityObserved:aq-0001",
    entity_type: str = "AirQualityObserved",
) -> str:
    """Register a device and return its key."""
    with runtime.sessions.begin() as session:
        return register_device(
            session,
            device_id,
            entity_id,
            entity_type,
            location={"type": "Point", "coordinates": [127.25, 36.5]},
        ).key


def pm_pack(count: int = 3, start: float | None = None, step: float = 60.0) -> list[dict[str, Any]]:
    """Return a SenML pack of PM10 readings, one per ``step`` seconds."""
    start = time.time() - count * step if start is None else start
    pack: list[dict[str, Any]] = [
        {"bn": "urn:dev:aq-0001:", "bt": start, "bu": "ug/m3", "n": "pm10", "v": 20.0}
    ]
    pack += [{"n": "pm10", "t": i * step, "v": 20.0 + i} for i in range(1, count)]
    return pack
