"""A lot's live view and guidance's inputs, without a database."""

from __future__ import annotations

import datetime as dt

from citysmart.services.parking.arrival import lot_forecasts, persistence_interval
from citysmart.services.parking.live import live_view
from citysmart.services.parking.lots import COUNTERS, SPOTS, LotFeed
from citysmart.services.parking.models import FreeSpaceForecast, LotSetting

NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)


def feed(detection: str, capacity: int = 100, **extra: object) -> LotFeed:
    """Return a lot's feed at the Jochiwon site."""
    setting = LotSetting(code="L", detection=detection, spots=capacity if detection == SPOTS else 0)
    lot = LotFeed("L", "urn:ngsi-ld:OffStreetParking:L", "L", 127.29, 36.6, capacity, detection,
                  setting, spots=setting.spots)  # fmt: skip
    for name, value in extra.items():
        setattr(lot, name, value)
    return lot


def test_a_counter_lot_applies_its_correction_and_shows_it() -> None:
    lot = feed(COUNTERS, entries=(120.0, NOW), exits=(100.0, NOW))
    assert lot.setting is not None
    lot.setting.correction_offset, lot.setting.correction_at = 5, NOW
    view = live_view(lot, NOW)
    assert (view.raw_count, view.occupied, view.free, view.status) == (20, 25, 75, "free")
    assert view.correction is not None
    assert view.correction.offset == 5


def test_a_correction_cannot_hide_a_negative_count() -> None:
    lot = feed(COUNTERS, entries=(10.0, NOW), exits=(20.0, NOW))
    assert lot.setting is not None
    lot.setting.correction_offset, lot.setting.correction_at = 4, NOW
    view = live_view(lot, NOW)
    assert view.flags == ("negative",)
    assert view.occupied is None


def test_a_counter_lot_is_as_old_as_its_older_counter() -> None:
    old = NOW - dt.timedelta(minutes=20)
    view = live_view(feed(COUNTERS, entries=(50.0, NOW), exits=(10.0, old)), NOW)
    assert view.flags == ("stale",)
    assert view.last_updated == old


def test_a_spot_lot_counts_occupied_spots_and_refuses_odd_statuses() -> None:
    spots = {f"s{i}": ("occupied" if i < 9 else "free", NOW) for i in range(10)}
    view = live_view(feed(SPOTS, capacity=10, spot_status=spots), NOW)
    assert (view.occupied, view.free, view.status) == (9, 1, "almostFull")
    spots["s9"] = ("broken", NOW)
    assert live_view(feed(SPOTS, capacity=10, spot_status=spots), NOW).flags == ("bad_spot_status",)


def test_a_lot_without_readings_is_unknown() -> None:
    view = live_view(feed(COUNTERS), NOW)
    assert (view.status, view.flags) == ("unknown", ("no_reading",))


def test_the_persistence_interval_widens_with_the_horizon() -> None:
    assert persistence_interval(40, 100, 0) == (40, 40)
    low1, high1 = persistence_interval(40, 100, 60)
    low3, high3 = persistence_interval(40, 100, 180)
    assert low3 < low1 < 40 < high1 < high3 <= 100
    assert persistence_interval(0, 100, 180)[0] == 0


def test_guidance_inputs_prefer_a_stored_forecast_and_leave_out_unknown_lots() -> None:
    known = live_view(feed(COUNTERS, entries=(50.0, NOW), exits=(10.0, NOW)), NOW)
    unknown = live_view(feed(COUNTERS), NOW)
    unknown = type(unknown)(**{**unknown.__dict__, "code": "U"})
    stored = {"L": FreeSpaceForecast(lot_code="L", origin=NOW, target=NOW, free_expected=7.0,
                                     free_low=2.0, free_high=11.0)}  # fmt: skip
    inputs, sources = lot_forecasts([known, unknown], 30, stored)
    assert [(i.lot_id, i.free_expected) for i in inputs] == [("L", 7.0)]
    assert sources == {"L": "forecast", "U": "left out: occupancy unknown"}
    inputs, sources = lot_forecasts([known], 0, stored)
    assert (inputs[0].free_expected, sources["L"]) == (60.0, "live")
