import numpy as np
import pytest

from citysmart.services.air.anisotropy import Geometry, KrigingPlan
from citysmart.services.air.interpolation import (
    Variogram,
    fit_hour,
    fit_kriging,
    fit_tuned_kriging,
)
from citysmart.services.air.kriging_plan import (
    GEOMETRIES,
    NUGGET_SHARES,
    candidate_losses,
    choose_plan,
    network_scale,
    plan_from_losses,
)


def banded_hours(angle_deg: float, hours: int = 120, seed: int = 0):
    """Sensors over a field that changes across ``angle_deg`` and hardly along it."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 30_000, (14, 2))
    angle = np.radians(angle_deg)
    across = -xy[:, 0] * np.sin(angle) + xy[:, 1] * np.cos(angle)
    along = xy[:, 0] * np.cos(angle) + xy[:, 1] * np.sin(angle)
    rows = []
    for _ in range(hours):
        phase = rng.uniform(0, 2 * np.pi)
        level = rng.uniform(30, 120)
        rows.append(
            level
            + 25 * np.sin(across / 6_000 + phase)
            + 3 * np.sin(along / 20_000 + phase)
            + rng.normal(0, 1.0, len(xy))
        )
    return xy, np.array(rows)


def test_geometry_keeps_areas_and_stretches_across_its_axis():
    geometry = Geometry(30.0, 0.5)
    assert np.linalg.det(geometry.matrix()) == pytest.approx(1.0)
    angle = np.radians(30.0)
    along = np.array([[np.cos(angle), np.sin(angle)]]) * 1_000
    across = np.array([[-np.sin(angle), np.cos(angle)]]) * 1_000
    assert np.hypot(*geometry.transform(along)[0]) == pytest.approx(1_000 * np.sqrt(0.5))
    assert np.hypot(*geometry.transform(across)[0]) == pytest.approx(1_000 / np.sqrt(0.5))
    assert geometry.transform(along.astype(np.float32)).dtype == np.float32
    np.testing.assert_array_equal(Geometry().transform(along), along)
    with pytest.raises(ValueError, match="ratio"):
        Geometry(0.0, 0.0)
    with pytest.raises(ValueError, match="nugget"):
        KrigingPlan(Geometry(), ())


def test_candidate_losses_equal_refits_without_each_sensor():
    xy, rows = banded_hours(0.0, hours=2, seed=4)
    scale = network_scale(xy)
    geometry, share = Geometry(45.0, 0.5), 0.12
    losses, used = candidate_losses(xy, rows[:1], scale, geometries=[geometry], shares=[share])
    assert used == 1
    stretched = geometry.transform(xy)
    variogram = Variogram("linear", share * scale, 1.0)
    errors = []
    for i in range(len(xy)):
        keep = np.arange(len(xy)) != i
        model = fit_kriging(stretched[keep], rows[0, keep], variogram)
        errors.append(rows[0, i] - model.predict(stretched[i : i + 1])[0])
    assert losses[0, 0] == pytest.approx(np.sum(np.square(errors)), rel=1e-8)


def test_losses_over_hours_with_gaps_add_up_hour_by_hour():
    xy, rows = banded_hours(20.0, hours=6, seed=2)
    rows[1, 3] = np.nan
    rows[4, [0, 5]] = np.nan
    rows[5, 3:] = np.nan  # three sensors left, too few: skipped
    scale = network_scale(xy)
    total, used = candidate_losses(xy, rows, scale)
    assert used == 5
    by_hour = [candidate_losses(xy, row, scale) for row in rows]
    np.testing.assert_allclose(total, sum(losses for losses, _ in by_hour), rtol=1e-10)
    assert [count for _, count in by_hour] == [1, 1, 1, 1, 1, 0]


@pytest.mark.parametrize("angle", [0.0, 45.0, 112.5])
def test_the_plan_finds_the_direction_along_which_values_stay_alike(angle: float):
    xy, rows = banded_hours(angle, seed=int(angle))
    plan = choose_plan(xy, rows)
    assert plan is not None
    assert plan.geometry.ratio < 1.0
    difference = abs(plan.geometry.angle_deg - angle) % 180
    assert min(difference, 180 - difference) <= 22.5
    assert len(plan.nuggets_m) == 3


def test_plan_keeps_the_best_geometry_and_its_best_nuggets():
    losses = np.full((len(GEOMETRIES), len(NUGGET_SHARES)), 10.0)
    losses[7] = [5.0, 3.0, 1.0, 2.0, 9.0]
    plan = plan_from_losses(losses, 1_000.0, keep=2)
    assert plan.geometry == GEOMETRIES[7]
    assert plan.nuggets_m == pytest.approx((NUGGET_SHARES[2] * 1_000, NUGGET_SHARES[3] * 1_000))
    with pytest.raises(ValueError, match="shape"):
        plan_from_losses(losses[:3], 1_000.0)
    few = np.array([[10.0, 20.0, np.nan, 30.0]] * 5)
    assert choose_plan(np.array([[0, 0], [1e3, 0], [0, 1e3], [1e3, 1e3]]), few) is None
    assert choose_plan(np.array([[0, 0], [1e3, 0]]), np.ones((5, 2))) is None


@pytest.mark.parametrize("count", [50, 30_000])  # the direct path and the chunked float32 path
def test_tuned_kriging_averages_its_nuggets_and_honours_the_sensors(count: int):
    xy, rows = banded_hours(60.0, hours=1, seed=9)
    plan = KrigingPlan(Geometry(60.0, 0.35), (500.0, 2_000.0, 6_000.0))
    model = fit_tuned_kriging(xy, rows[0], plan)
    rng = np.random.default_rng(1)
    targets = rng.uniform(0, 30_000, (count, 2))
    stretched = plan.geometry.transform(xy)
    singles = [
        fit_kriging(stretched, rows[0], Variogram("linear", n, 1.0)).predict(
            plan.geometry.transform(targets[:50])
        )
        for n in plan.nuggets_m
    ]
    predicted = model.predict(targets)
    np.testing.assert_allclose(predicted[:50], np.mean(singles, axis=0), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(model.predict(xy), rows[0], rtol=1e-9)
    refits = []
    for i in range(len(xy)):
        keep = np.arange(len(xy)) != i
        refits.append(fit_tuned_kriging(xy[keep], rows[0, keep], plan).predict(xy[i : i + 1])[0])
    np.testing.assert_allclose(model.loo_residuals(), rows[0] - np.array(refits), atol=1e-8)


def test_an_hour_fitted_with_a_plan_serves_tuned_kriging():
    xy, rows = banded_hours(0.0, hours=1, seed=5)
    plan = KrigingPlan(Geometry(0.0, 0.5), (1_000.0,))
    fitted = fit_hour(xy, rows[0], plan=plan)
    assert fitted.served == "tuned"
    assert set(fitted.loo_rmse) == {"idw", "kriging", "tuned"}
    np.testing.assert_allclose(fitted.predict(xy[:3]), rows[0, :3], rtol=1e-9)
    plain = fit_hour(xy, rows[0])
    assert plain.served in ("idw", "kriging")
    assert plain.tuned is None
    with pytest.raises(ValueError, match="plan"):
        plain.predict(xy[:1], "tuned")
    flat = fit_hour(xy[:2], [5.0, 5.0], plan=plan)
    assert flat.served == "idw"
    assert flat.predict(xy[:1], "tuned")[0] == pytest.approx(5.0)
