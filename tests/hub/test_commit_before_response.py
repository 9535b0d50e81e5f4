"""A write is committed before its response starts: a client never acts on an unstored write."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sqlalchemy import select

from citysmart.core.config import Settings
from citysmart.hub.models import Device
from citysmart.hub.runtime import HubRuntime
from citysmart.portal.app import create_app
from tests.factories import create_user_with_token


def test_a_registered_device_is_stored_when_its_201_starts(
    settings: Settings, runtime: HubRuntime
) -> None:
    app = create_app(settings, services=[], runtime=runtime, start_mqtt=False, migrate=False)
    token = create_user_with_token(runtime, "root", "admin")
    body = json.dumps(
        {
            "id": "pm-0001",
            "entity_id": "urn:ngsi-ld:AirQualityObserved:a1",
            "entity_type": "AirQualityObserved",
        }
    ).encode()
    seen: dict[str, Any] = {}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            seen["status"] = message["status"]
            with runtime.sessions() as other:  # another connection: only committed rows
                seen["stored"] = other.scalar(select(Device.id).where(Device.id == "pm-0001"))

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/devices",
        "raw_path": b"/api/v1/devices",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"authorization", f"Bearer {token}".encode()),
        ],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
        "state": {},
    }
    asyncio.run(app(scope, receive, send))
    assert seen["status"] == 201
    assert seen["stored"] == "pm-0001"
