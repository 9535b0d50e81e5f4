import math

import numpy as np
import pytest

from citysmart.core.geo import haversine_m
from citysmart.services.air.interpolation import (
    LINEAR_VARIOGRAM,
    LocalProjection,
    Variogram,
    fill_gap,
    fit_hour,
    fit_idw,
    fit_kriging,
    fit_variogram,
)


def random_sensors(seed: int, n: int = 15) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 20_000, (n, 2)), rng.gamma(3.0, 15.0, n)


def test_projection_distances_match_great_circle_at_city_scale():
    lon = np.array([127.13, 127.41, 127.25, 127.30])
    lat = np.array([36.41, 36.73, 36.50, 36.60])
    projection = LocalProjection.around(lon, lat)
    xy = projection.forward(lon, lat)
    for i in range(4):
        for j in range(i + 1, 4):
            planar = float(np.hypot(*(xy[i] - xy[j])))
            sphere = haversine_m(lon[i], lat[i], lon[j], lat[j])
            assert planar == pytest.approx(sphere, rel=0.005)
    back_lon, back_lat = projection.inverse(xy[:, 0], xy[:, 1])
    np.testing.assert_allclose(back_lon, lon, atol=1e-9)
    np.testing.assert_allclose(back_lat, lat, atol=1e-9)


@pytest.mark.parametrize("count", [5, 30_000])  # the direct path and the chunked float32 path
def test_idw_at_a_sensor_returns_its_value(count: int):
    xy, values = random_sensors(1)
    rng = np.random.default_rng(2)
    targets = rng.uniform(0, 20_000, (count, 2))
    targets[:3] = xy[[0, 4, 9]]
    predicted = fit_idw(xy, values).predict(targets)
    np.testing.assert_allclose(predicted[:3], values[[0, 4, 9]], rtol=1e-6)
    assert np.all(predicted >= values.min() - 1e-3)
    assert np.all(predicted <= values.max() + 1e-3)


def test_kriging_without_nugget_honours_the_data_and_nearby_points_are_close():
    xy, values = random_sensors(3)
    model = fit_kriging(xy, values, Variogram("exponential", 0.0, 400.0, 6_000.0))
    np.testing.assert_allclose(model.predict(xy), values, rtol=1e-9)
    # continuous without a nugget: a metre away gives almost the same value
    near = model.predict(xy + 1.0)
    np.testing.assert_allclose(near, values, atol=0.05 * np.ptp(values))


def test_large_grid_path_matches_the_direct_path():
    xy, values = random_sensors(4, n=100)
    fitted = fit_hour(xy, values)
    rng = np.random.default_rng(5)
    targets = rng.uniform(-2_000, 22_000, (25_000, 2))
    for method in ("idw", "kriging"):
        chunked = fitted.predict(targets, method)
        direct = np.array(
            [fitted.predict(targets[k : k + 1], method)[0] for k in range(0, 25_000, 997)]
        )
        assert chunked.dtype == np.float32
        np.testing.assert_allclose(chunked[::997], direct, rtol=1e-4, atol=1e-3)


def test_a_linear_field_is_recovered_inside_the_network():
    # sensors on a 9 x 9 lattice over 16 km, values of a plane
    ticks = np.linspace(0, 16_000, 9)
    xy = np.array([(x, y) for x in ticks for y in ticks])

    def plane(p: np.ndarray) -> np.ndarray:
        return 20.0 + 0.002 * p[:, 0] - 0.001 * p[:, 1]

    rng = np.random.default_rng(6)
    inside = rng.uniform(2_000, 14_000, (200, 2))
    fitted = fit_hour(xy, plane(xy))
    spread = np.ptp(plane(xy))
    kriged = fitted.predict(inside, "kriging")
    assert np.max(np.abs(kriged - plane(inside))) < 0.01 * spread
    idw = fitted.predict(inside, "idw")
    assert np.max(np.abs(idw - plane(inside))) < 0.1 * spread  # IDW flattens near sensors


@pytest.mark.parametrize(
    "variogram", [LINEAR_VARIOGRAM, Variogram("spherical", 30.0, 300.0, 9_000.0)]
)
def test_leave_one_out_residuals_equal_refits_without_the_sensor(variogram: Variogram):
    xy, values = random_sensors(7, n=12)
    kriging = fit_kriging(xy, values, variogram)
    idw = fit_idw(xy, values)
    for i in range(12):
        rest_xy, rest = np.delete(xy, i, axis=0), np.delete(values, i)
        refit_k = fit_kriging(rest_xy, rest, variogram).predict(xy[i : i + 1])[0]
        refit_i = fit_idw(rest_xy, rest).predict(xy[i : i + 1])[0]
        assert kriging.loo_residuals()[i] == pytest.approx(values[i] - refit_k, rel=1e-7)
        assert idw.loo_residuals()[i] == pytest.approx(values[i] - refit_i, rel=1e-7)


def test_served_method_is_the_one_with_the_lower_leave_one_out_error():
    seen = set()
    for seed in range(30):
        xy, values = random_sensors(seed, n=10)
        fitted = fit_hour(xy, values)
        best = min(fitted.loo_rmse, key=lambda m: fitted.loo_rmse[m])
        assert fitted.served == best
        target = np.array([[10_000.0, 10_000.0]])
        assert fitted.predict(target)[0] == fitted.predict(target, best)[0]
        seen.add(fitted.served)
    assert seen == {"idw", "kriging"}  # both are served on some hours


def test_a_smooth_field_serves_kriging():
    ticks = np.linspace(0, 20_000, 6)
    xy = np.array([(x, y) for x in ticks for y in ticks])
    values = 50 + 20 * np.sin(xy[:, 0] / 9_000) + 10 * np.cos(xy[:, 1] / 7_000)
    assert fit_hour(xy, values).served == "kriging"


def test_variogram_fit_finds_the_slope_of_a_linear_variogram():
    # a random walk along a line has semivariance proportional to the lag
    rng = np.random.default_rng(8)
    steps = rng.normal(0.0, 1.0, (400, 60))
    values_by_hour = np.cumsum(steps, axis=1) + 100.0
    xy = np.column_stack([np.arange(60) * 100.0, np.zeros(60)])
    variogram = fit_variogram(xy, values_by_hour[-1], history=values_by_hour[:-1])
    assert variogram is not None
    # 0.5 * var(step) per 100 m
    assert variogram.sill == pytest.approx(0.5 / 100.0, rel=0.25)


def test_degenerate_hours_fall_back_without_nan():
    targets = np.random.default_rng(9).uniform(0, 20_000, (50, 2))
    with pytest.raises(ValueError, match="no sensor"):
        fit_hour(np.zeros((0, 2)), np.zeros(0))
    with pytest.raises(ValueError, match="no sensor"):
        fit_hour(np.zeros((2, 2)), np.array([np.nan, np.nan]))

    one = fit_hour(np.array([[5_000.0, 5_000.0]]), np.array([42.0]))
    for method in ("idw", "kriging", "served"):
        np.testing.assert_allclose(one.predict(targets, method), 42.0)
    assert one.served == "idw"

    two = fit_hour(np.array([[0.0, 0.0], [10_000.0, 0.0]]), np.array([10.0, 30.0]))
    assert two.served == "idw"
    assert "two sensors" in two.note
    for method in ("idw", "kriging"):
        predicted = two.predict(targets, method)
        assert np.all(np.isfinite(predicted))

    xy, _ = random_sensors(10)
    flat = fit_hour(xy, np.full(len(xy), 17.0))
    assert "equal" in flat.note
    for method in ("idw", "kriging"):
        np.testing.assert_allclose(flat.predict(targets, method), 17.0)


def test_failed_variogram_fit_uses_the_linear_variogram():
    # three collinear equidistant sensors, values without spread in pooled history
    xy = np.array([[0.0, 0.0], [1_000.0, 0.0], [2_000.0, 0.0]])
    assert fit_variogram(xy, np.array([5.0, 5.0, 5.0])) is None
    model = fit_kriging(xy, np.array([1.0, 2.0, 4.0]), None)
    assert model.variogram == LINEAR_VARIOGRAM
    assert np.all(np.isfinite(model.predict(np.array([[500.0, 300.0], [9_000.0, 0.0]]))))


def test_sensors_at_one_place_are_merged_and_missing_values_dropped():
    xy = np.array([[0.0, 0.0], [0.0, 0.0], [5_000.0, 0.0], [0.0, 5_000.0], [3_000.0, 3_000.0]])
    values = np.array([10.0, 20.0, 40.0, 60.0, np.nan])
    fitted = fit_hour(xy, values)
    assert len(fitted.idw.values) == 3
    for method in ("idw", "kriging"):
        assert fitted.predict(np.array([[0.0, 0.0]]), method)[0] == pytest.approx(15.0)


def test_history_with_gaps_and_dropped_sensors_still_fits():
    xy, _ = random_sensors(11, n=8)
    rng = np.random.default_rng(12)
    level = rng.uniform(20, 80, (25, 1))
    rows = level * (1 + xy[:, 0] / 20_000) + rng.normal(0, 2.0, (25, 8))  # a west-east gradient
    history, values = rows[:-1], rows[-1].copy()
    history[3] = np.nan
    history[5, 2] = np.nan
    fitted = fit_hour(xy, values, history=history, variogram_model="exponential")
    assert fitted.kriging.variogram.model == "exponential"
    values[0] = np.nan  # history no longer lines up: this hour fits alone
    alone = fit_hour(xy, values, history=history)
    assert np.all(np.isfinite(alone.predict(xy)))


def synthetic_gap_case(hours: int = 200):
    rng = np.random.default_rng(13)
    xy_others = rng.uniform(0, 20_000, (8, 2))
    regional = 60 + 30 * np.sin(np.arange(hours + 1) / 9.0)
    others = regional[:, None] + rng.normal(0, 2.0, (hours + 1, 8))
    own = 0.8 * regional + 5 + rng.normal(0, 1.0, hours + 1)
    return np.array([10_000.0, 10_000.0]), own, xy_others, others


def test_gap_fill_learns_the_sensors_relation_to_its_neighbours():
    xy_self, own, xy_others, others = synthetic_gap_case()
    filled = fill_gap(xy_self, own[:-1], xy_others, others)
    assert filled.method == "regression"
    idw = fit_idw(xy_others, others[-1]).predict(xy_self[None, :])[0]
    assert abs(filled.value - own[-1]) < 4.0
    assert abs(filled.value - own[-1]) < abs(idw - own[-1])


def test_gap_fill_uses_the_sensors_own_momentum_over_two_hours():
    # A local source that keeps rising or falling for hours: the last change carries on.
    rng = np.random.default_rng(21)
    hours = 400
    xy_others = rng.uniform(0, 20_000, (6, 2))
    others = 40 + rng.normal(0, 1.0, (hours + 1, 6))
    local = np.zeros(hours + 1)
    for t in range(2, hours + 1):
        local[t] = 1.6 * local[t - 1] - 0.8 * local[t - 2] + rng.normal(0, 3.0)
    own = 40 + local
    errors, one_lag_errors = [], []
    for end in range(300, hours + 1):
        filled = fill_gap(np.array([10_000.0, 10_000.0]), own[:end], xy_others, others[: end + 1])
        assert filled.method == "regression"
        errors.append(filled.value - own[end])
        # the one-lag regression: own[t] on own[t-1] and the field now and an hour before
        no_second_lag = own[:end].copy()
        no_second_lag[-2] = np.nan
        single = fill_gap(
            np.array([10_000.0, 10_000.0]), no_second_lag, xy_others, others[: end + 1]
        )
        one_lag_errors.append(single.value - own[end])
    assert np.sqrt(np.mean(np.square(errors))) < 0.8 * np.sqrt(np.mean(np.square(one_lag_errors)))


def test_gap_fill_with_short_or_no_history():
    xy_self, own, xy_others, others = synthetic_gap_case(hours=10)
    change = fill_gap(xy_self, own[:-1], xy_others, others)
    assert change.method == "change"
    field_now = fit_idw(xy_others, others[-1]).predict(xy_self[None, :])[0]
    field_before = fit_idw(xy_others, others[-2]).predict(xy_self[None, :])[0]
    assert change.value == pytest.approx(own[-2] + field_now - field_before)

    unknown = np.full(10, np.nan)
    spatial = fill_gap(xy_self, unknown, xy_others, others)
    assert spatial.method == "spatial"
    assert spatial.value == pytest.approx(field_now)
    assert math.isfinite(spatial.value)

    with pytest.raises(ValueError, match="hours"):
        fill_gap(xy_self, own[:-1], xy_others, others[:-1])
    silent = others.copy()
    silent[-1] = np.nan
    with pytest.raises(ValueError, match="no other sensor"):
        fill_gap(xy_self, own[:-1], xy_others, silent)
