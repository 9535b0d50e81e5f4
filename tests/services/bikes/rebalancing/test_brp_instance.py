"""Reading the BRP benchmark instances."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from citysmart.core.paths import data_dir
from citysmart.services.bikes.rebalancing.instance import (
    InstanceError,
    parse_dellamico,
    parse_parada_slr,
)

BARI = data_dir() / "brp" / "dellamico2014" / "01-Bari30_RBRP.txt"


def test_parses_bari30() -> None:
    inst = parse_dellamico(BARI)
    assert inst.name == "01-Bari30_RBRP"
    assert inst.n == 13
    assert inst.capacity == 30
    assert inst.demand[:4] == (0, -1, -3, -1)
    assert sum(inst.demand) == -20  # SOURCE.md: net demand of Bari
    assert inst.cost.shape == (13, 13)
    assert inst.cost[0, 1] == 2800
    assert inst.cost[1, 0] == 3000  # asymmetric
    assert np.all(np.diag(inst.cost) == 0)


def test_rejects_a_file_without_distances(tmp_path: Path) -> None:
    text = BARI.read_text(encoding="utf-8")
    broken = tmp_path / "broken.txt"
    broken.write_text(text.split("#distances")[0], encoding="utf-8")
    with pytest.raises(InstanceError, match="#distances"):
        parse_dellamico(broken)


def test_rejects_a_short_distance_row(tmp_path: Path) -> None:
    lines = BARI.read_text(encoding="utf-8").splitlines()
    lines[-1] = " ".join(lines[-1].split()[:-1])
    broken = tmp_path / "short.txt"
    broken.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(InstanceError, match="#distances"):
        parse_dellamico(broken)


def test_large_instance_demand_is_bikes_minus_target() -> None:
    inst = parse_parada_slr(data_dir() / "brp" / "parada2025_slr" / "boston424.txt")
    assert inst.capacity == 40
    assert 1 < inst.n <= 424
    demand = np.array(inst.demand[1:])
    assert np.all(demand != 0)  # balanced stations are left out
    assert np.all(np.abs(demand) <= 40)
    assert inst.cost[0, 0] == 0
    assert np.allclose(inst.cost, inst.cost.T)
    assert 0 < inst.cost.max() < 100  # km within one city
