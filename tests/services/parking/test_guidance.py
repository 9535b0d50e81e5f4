"""Guidance ranks lots by the walk and the chance of a free space at arrival."""

from __future__ import annotations

import pytest

from citysmart.services.parking.guidance import LotForecast, chance_of_space, rank_lots

DEST = (127.2890, 36.6010)  # near Jochiwon station


def lot(
    lot_id: str, dlon: float, free: float, low: float, high: float, status: str = "free"
) -> LotForecast:
    """Return a lot ``dlon`` degrees east of the destination (0.001 deg: about 90 m)."""
    return LotForecast(lot_id, lot_id, DEST[0] + dlon, DEST[1], 100, free, low, high, status)


def test_the_chance_of_a_space_follows_the_forecast() -> None:
    assert chance_of_space(30, 20, 40) > 0.999
    assert chance_of_space(0, 0, 0) == 0.0  # an exact count of a full lot
    assert chance_of_space(3, 3, 3) == 1.0
    # sd = 6 / 2.5632 = 2.341; P(X > 0.5) = Phi(1.5 / 2.341) = Phi(0.641) = 0.739
    assert chance_of_space(2, 0, 6) == pytest.approx(0.739, abs=0.002)
    assert chance_of_space(5, 0, 10) > chance_of_space(2, 0, 10)


def test_a_near_lot_likely_full_ranks_below_a_farther_lot_with_room() -> None:
    ranked = rank_lots(
        [lot("near-full", 0.001, 0.2, 0, 2), lot("far-room", 0.004, 40, 30, 50)], *DEST
    )
    assert [s.lot.lot_id for s in ranked] == ["far-room", "near-full"]
    assert ranked[0].chance_free > 0.99
    assert 4 < ranked[0].walk_min < 6  # about 360 m x 1.3 at 80 m/min


def test_closed_and_too_far_lots_are_left_out() -> None:
    ranked = rank_lots(
        [
            lot("closed", 0.001, 50, 40, 60, status="closed"),
            lot("far", 0.05, 50, 40, 60),
            lot("ok", 0.002, 50, 40, 60),
        ],
        *DEST,
    )
    assert [s.lot.lot_id for s in ranked] == ["ok"]


def test_equal_lots_rank_by_walk() -> None:
    ranked = rank_lots([lot("b", 0.003, 50, 40, 60), lot("a", 0.001, 50, 40, 60)], *DEST)
    assert [s.lot.lot_id for s in ranked] == ["a", "b"]
