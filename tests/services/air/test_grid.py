import json
from pathlib import Path

import numpy as np
import pytest
import shapely
from shapely.geometry import Polygon, box

from citysmart.core.paths import data_dir
from citysmart.services.air.grid import (
    area_stats,
    load_areas,
    load_boundary,
    make_grid,
    surface_values,
    to_raster,
)
from citysmart.services.air.interpolation import LocalProjection, fit_hour, fit_idw

BOUNDARIES = data_dir() / "sejong-admin-boundaries"


@pytest.fixture(scope="module")
def sejong():
    boundary = load_boundary(BOUNDARIES / "sejong_sigungu_2018.geojson")
    areas = load_areas(BOUNDARIES / "sejong_emd_2018.geojson")
    return boundary, areas, make_grid(boundary, (200, 200), areas=areas)


def test_triangle_boundary_masks_cells_outside():
    # a right triangle: the cells above the diagonal are outside
    triangle = Polygon([(127.0, 36.0), (127.1, 36.0), (127.1, 36.1)])
    grid = make_grid(triangle, (50, 47))  # no cell centre on the diagonal
    lon, lat = grid.lonlat()
    lon_grid, lat_grid = np.meshgrid(lon, lat)
    expected = shapely.contains_xy(triangle, lon_grid, lat_grid)
    assert np.array_equal(grid.mask, expected)
    assert 0.45 < grid.mask.mean() < 0.55
    raster = to_raster(grid, np.ones(len(grid.points)))
    assert np.all(np.isnan(raster[~grid.mask]))
    assert np.all(raster[grid.mask] == 1.0)


def test_sejong_grid_is_clipped_to_the_city_and_dongs_tile_it(sejong):
    boundary, areas, grid = sejong
    assert len(areas) == 17
    assert {"한솔동", "아름동", "조치원읍", "부강면"} <= set(areas)
    lon, lat = grid.lonlat()
    assert lon.min() >= boundary.bounds[0]
    assert lon.max() <= boundary.bounds[2]
    # the kept share of the bounding box is the city's share of it
    share = boundary.area / box(*boundary.bounds).area
    assert grid.mask.mean() == pytest.approx(share, abs=0.01)
    labelled = grid.area_of_point >= 0
    assert labelled.mean() > 0.98  # the dong outlines cover the city outline
    assert set(np.unique(grid.area_of_point[labelled])) == set(range(17))


def test_area_stats_are_mean_and_worst_of_each_dongs_cells(sejong):
    _, areas, grid = sejong
    values = grid.points[:, 0].astype(np.float64)  # rises eastwards
    stats = {s.name: s for s in area_stats(grid, values)}
    for index, name in enumerate(grid.area_names):
        cells = values[grid.area_of_point == index]
        assert stats[name].cells == len(cells)
        assert stats[name].mean == pytest.approx(cells.mean())
        assert stats[name].worst == pytest.approx(cells.max())
    # Jochiwon-eup lies north of the new town (Hansol-dong): a northward field ranks it worse
    northward = grid.points[:, 1].astype(np.float64)
    by_name = {s.name: s for s in area_stats(grid, northward)}
    assert by_name["조치원읍"].mean > by_name["한솔동"].mean


def test_a_pollution_hotspot_makes_its_dong_the_worst(sejong):
    _, areas, grid = sejong
    projection = grid.projection
    rng = np.random.default_rng(1)
    sensors = grid.points[rng.choice(len(grid.points), 40, replace=False)].astype(np.float64)
    values = np.full(40, 20.0)
    hansol = areas["한솔동"].representative_point()
    sensors = np.vstack([sensors, projection.forward(np.array([hansol.x]), np.array([hansol.y]))])
    values = np.append(values, 150.0)
    fitted = fit_hour(sensors, values)
    for method in ("idw", "kriging"):
        surface = surface_values(grid, fitted.model(method))
        assert np.all(np.isfinite(surface))
        stats = area_stats(grid, surface)
        worst = max(stats, key=lambda s: s.worst)
        assert worst.name == "한솔동"
        assert worst.worst <= 150.0 + 1e-3


def test_an_area_without_cells_takes_the_models_value_at_a_point_inside():
    boundary = box(127.0, 36.0, 127.1, 36.1)
    tiny = box(127.0501, 36.0501, 127.0502, 36.0502)  # far smaller than a 10 x 10 cell
    grid = make_grid(boundary, (10, 10), areas={"tiny": tiny})
    model = fit_idw(np.array([[0.0, 0.0], [5_000.0, 0.0]]), np.array([10.0, 30.0]))
    values = model.predict(grid.points)
    (stat,) = area_stats(grid, values, model)
    assert stat.cells == 0
    anchor = grid.area_anchor[0:1]
    assert stat.mean == pytest.approx(float(model.predict(anchor)[0]))
    (no_model,) = area_stats(grid, values)
    assert np.isnan(no_model.mean)
    with pytest.raises(ValueError, match="cells"):
        area_stats(grid, values[:-1])


def test_projection_of_the_grid_is_the_one_given():
    projection = LocalProjection(127.3, 36.5)
    grid = make_grid(box(127.2, 36.4, 127.4, 36.6), (20, 30), projection=projection)
    assert grid.shape == (20, 30)
    assert grid.projection == projection
    lon, lat = grid.lonlat()
    assert lon[0] > 127.2
    assert lon[-1] < 127.4
    assert np.all(np.diff(lat) > 0)


def test_unreadable_geojson_is_a_clear_error(tmp_path: Path):
    bad = tmp_path / "bad.geojson"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="GeoJSON"):
        load_areas(bad)
    empty = tmp_path / "empty.geojson"
    empty.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    with pytest.raises(ValueError, match="no features"):
        load_areas(empty)
