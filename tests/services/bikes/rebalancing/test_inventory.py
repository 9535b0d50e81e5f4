"""Target inventories from the birth-death station model."""

from __future__ import annotations

import math

import numpy as np
import pytest

from citysmart.services.bikes.rebalancing.inventory import (
    StationOutlook,
    expected_losses,
    target_inventories,
    target_inventory,
)


def poisson_excess(mean: float, threshold: int) -> float:
    """E[max(N - threshold, 0)] for N ~ Poisson(mean)."""
    return sum(
        (k - threshold) * math.exp(-mean) * mean**k / math.factorial(k)
        for k in range(threshold, 120)
    )


def test_pickups_only_lose_what_poisson_says() -> None:
    # With no returns, the pickups lost from x bikes are the pickups beyond x.
    losses = expected_losses(10, [1.5, 2.0, 0.5], [0.0, 0.0, 0.0])
    expected = [poisson_excess(4.0, x) for x in range(11)]
    np.testing.assert_allclose(losses.pickups, expected, atol=1e-9)
    assert np.all(losses.returns == 0)


def test_returns_only_lose_what_does_not_fit() -> None:
    losses = expected_losses(8, [0.0, 0.0], [3.0, 1.0])
    expected = [poisson_excess(4.0, 8 - x) for x in range(9)]
    np.testing.assert_allclose(losses.returns, expected, atol=1e-9)


def test_losses_fall_with_bikes_for_pickups_and_rise_for_returns() -> None:
    losses = expected_losses(20, [2.0] * 6, [1.0] * 6)
    assert np.all(np.diff(losses.pickups) < 0)
    assert np.all(np.diff(losses.returns) > 0)


def test_a_morning_source_station_wants_bikes_and_a_sink_wants_room() -> None:
    source = StationOutlook("flat", 20, 3, pickups=[5.0] * 3, returns=[0.5] * 3)
    sink = StationOutlook("office", 20, 17, pickups=[0.5] * 3, returns=[5.0] * 3)
    to_source, to_sink = target_inventories([source, sink])
    assert to_source.target > 12
    assert to_source.signed_demand < 0
    assert to_sink.target < 8
    assert to_sink.signed_demand > 0
    assert to_source.signed_demand == to_source.bikes - to_source.target
    assert to_source.saving > 1
    assert to_sink.saving > 1


def test_a_station_inside_its_range_needs_no_truck() -> None:
    quiet = target_inventory(StationOutlook("quiet", 15, 7, [0.3] * 4, [0.3] * 4))
    assert quiet.low <= 7 <= quiet.high
    assert quiet.signed_demand == 0
    assert quiet.target == 7  # ties go to what it holds: no bikes moved for nothing


def test_a_looser_tolerance_widens_the_range() -> None:
    outlook = StationOutlook("s", 20, 10, [2.0] * 5, [1.5] * 5)
    tight = target_inventory(outlook, tolerance=0.0)
    loose = target_inventory(outlook, tolerance=1.0)
    assert loose.low <= tight.low <= tight.high <= loose.high
    assert loose.high - loose.low > tight.high - tight.low


def test_weighting_lost_returns_moves_the_target_down() -> None:
    outlook = StationOutlook("s", 20, 10, [2.0] * 5, [2.0] * 5)
    assert target_inventory(outlook, return_weight=3.0).target < target_inventory(outlook).target


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"capacity": 0}, "capacity"),
        ({"bikes": 21}, "do not fit"),
        ({"bikes": -1}, "do not fit"),
        ({"pickups": [1.0]}, "hours of pickups"),
        ({"returns": [1.0, float("nan")]}, "finite"),
        ({"pickups": [-1.0, 0.0]}, ">= 0"),
    ],
)
def test_impossible_outlooks_are_refused(kwargs: dict[str, object], words: str) -> None:
    fields: dict[str, object] = {
        "station_id": "s", "capacity": 20, "bikes": 5, "pickups": [1.0, 1.0], "returns": [1.0, 1.0]
    }  # fmt: skip
    fields.update(kwargs)
    with pytest.raises(ValueError, match=words):
        StationOutlook(**fields)  # type: ignore[arg-type]
