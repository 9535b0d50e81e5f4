"""A sensor's 24-hour mean and C24E at a map hour, from its stored hourly means."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import insert

from citysmart.hub.runtime import HubRuntime
from citysmart.services.air.models import AirHourly
from citysmart.services.air.realtime import figures_at

HOUR = dt.datetime(2026, 11, 25, 8, tzinfo=dt.UTC)


def store_hours(runtime: HubRuntime, sensor: str, values: list[float | None]) -> None:
    """Store PM2.5 hourly means ending at HOUR (None: an insufficient hour)."""
    rows = []
    for i, value in enumerate(values):
        hour = HOUR - dt.timedelta(hours=len(values) - 1 - i)
        rows.append(
            {
                "sensor_id": sensor,
                "variable": "pm25",
                "hour": hour,
                "raw": value,
                "value": value,
                "count": 6 if value is not None else 2,
                "readings": 6,
                "expected": 6,
                "capture": 1.0 if value is not None else 0.33,
                "sufficient": value is not None,
            }
        )
    with runtime.sessions.begin() as session:
        session.execute(insert(AirHourly), rows)


def test_the_24_hour_mean_and_c24e_follow_airkorea_rules(air_runtime: HubRuntime) -> None:
    steady = [20.0] * 20 + [40.0, 40.0, 40.0, 40.0]  # 24 hours, the last 4 higher
    store_hours(air_runtime, "s1", steady)
    store_hours(air_runtime, "s2", [None] * 7 + [30.0] * 17)  # 17 valid: no 24-h mean
    with air_runtime.sessions() as session:
        figures = figures_at(session, HOUR)
    s1 = figures["s1"]["pm25"]
    assert s1.mean_24h == pytest.approx((20 * 20 + 4 * 40) / 24, abs=0.05)
    c12 = (8 * 20 + 4 * 40) / 12  # 26.67: 40 >= 30 and 40/26.67 = 1.5 -> damped to 30
    assert s1.c24e == pytest.approx((12 * c12 + 12 * 0.75 * 40) / 24, abs=0.05)
    assert s1.valid_hours_24 == 24
    s2 = figures["s2"]["pm25"]
    assert s2.mean_24h is None
    assert s2.c24e == pytest.approx((12 * 30 + 12 * 0.75 * 30) / 24, abs=0.06)  # 30 >= M
    assert s2.valid_hours_24 == 17
