"""The scenario map is a well-formed SVG that draws what the figures say."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np

from citysmart.core.admin_areas import load_admin_areas
from citysmart.services.bikes.scooter_map import scenario_svg
from citysmart.services.bikes.scooters import city_cells, coverage
from citysmart.services.bikes.simulation import SimStation

NS = "{http://www.w3.org/2000/svg}"


def test_the_map_draws_areas_stations_and_far_cells() -> None:
    areas = load_admin_areas()
    stations = [SimStation("a", 127.26, 36.48, 10, 5), SimStation("b", 127.29, 36.60, 10, 5)]
    cells = city_cells(areas)
    result = coverage(cells, stations, 500)
    root = ET.fromstring(scenario_svg(areas, stations, cells, result, "Sejong & 500 scooters"))
    assert root.find(f"{NS}title").text == "Sejong & 500 scooters"  # type: ignore[union-attr]
    assert len(root.findall(f"{NS}circle")) == len(stations) + 1  # and the legend's dot
    assert len(root.findall(f"{NS}polygon")) == len(areas)
    shaded = [r for r in root.findall(f"{NS}rect") if r.get("fill-opacity")]
    assert len(shaded) == int(np.sum(result.far_cells))
    text = " ".join(t.text or "" for t in root.iter(f"{NS}text"))
    assert "scooter" in text
    assert "킥보드" in text
