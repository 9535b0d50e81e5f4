import numpy as np
import pytest

from citysmart.core.paths import data_dir
from citysmart.services.air.beijing import load_beijing
from citysmart.services.air.evaluation import (
    PlanCache,
    Settings,
    evaluate,
    predict_held_out,
    sample_hours,
    score,
)
from citysmart.services.air.interpolation import LocalProjection


@pytest.fixture(scope="module")
def beijing():
    data = load_beijing(data_dir() / "beijing-multisite-air-quality")
    xy = LocalProjection.around(data.lon, data.lat).forward(data.lon, data.lat)
    return data, xy


def test_score_rmse_mae_and_r2():
    scores = score([1.0, 2.0, 5.0], [1.0, 3.0, 3.0])
    assert scores.rmse == pytest.approx(np.sqrt(5 / 3))
    assert scores.mae == pytest.approx(1.0)
    # truth mean 7/3: total sum of squares 16/9 + 4/9 + 4/9 = 8/3, residual 0 + 1 + 4
    assert scores.r2 == pytest.approx(1 - 5 / (8 / 3))
    assert score([2.0, 2.0], [2.0, 2.0]).count == 2
    assert np.isnan(score([], []).rmse)


def test_sample_hours_is_reproducible_and_covers_all_without_a_count():
    first = sample_hours(8760, 400, seed=7)
    assert first == sample_hours(8760, 400, seed=7)
    assert first != sample_hours(8760, 400, seed=8)
    assert len(set(first)) == 400
    assert first == sorted(first)
    assert sample_hours(10, None, seed=1) == list(range(10))
    with pytest.raises(ValueError, match="positive"):
        sample_hours(10, 0, seed=1)


def test_the_held_out_stations_data_takes_no_part_in_its_prediction(beijing):
    data, xy = beijing
    table = data.pm25.copy()
    rng = np.random.default_rng(3)
    settings = Settings(plan_days=5)  # a short plan window keeps the test fast
    for hour in (2000, 5000, 8000):
        for held_out in (0, 6, 8):
            before = predict_held_out(xy, table, hour, held_out, settings)
            assert before is not None
            assert before.gap_fill is not None
            assert before.served == "tuned"  # the plan, chosen from the others' past, is used
            changed = table.copy()
            changed[:, held_out] = changed[:, held_out] * 3 + rng.uniform(0, 50, len(changed))
            after = predict_held_out(xy, changed, hour, held_out, settings, gap_fill=False)
            assert after is not None
            assert after.spatial == before.spatial
            assert after.served == before.served
            # the gap fill may use the station's earlier hours, never the current one
            now_changed = table.copy()
            now_changed[hour, held_out] = 999.0
            gap = predict_held_out(xy, now_changed, hour, held_out, settings)
            assert gap is not None
            assert gap.gap_fill == before.gap_fill
            past_changed = table.copy()
            past_changed[hour - 1, held_out] += 40.0
            moved = predict_held_out(xy, past_changed, hour, held_out, settings)
            assert moved is not None
            assert moved.gap_fill is not None
            assert moved.gap_fill.value != before.gap_fill.value


def test_the_plan_reads_the_other_stations_past_days_only(beijing):
    data, xy = beijing
    settings = Settings(plan_days=5)
    hour, held_out = 5000, 3
    plan = PlanCache(xy, data.pm25, settings).plan(held_out, hour)
    assert plan is not None
    day_start = hour - hour % 24
    rng = np.random.default_rng(8)
    changed = data.pm25.copy()
    changed[day_start:] = rng.uniform(0, 500, changed[day_start:].shape)
    changed[:, held_out] = rng.uniform(0, 500, len(changed))
    assert PlanCache(xy, changed, settings).plan(held_out, hour) == plan
    # the other stations' past days do decide it: shuffled in space, they choose differently
    shuffled = data.pm25.copy()
    window = slice(day_start - 5 * 24, day_start)
    shuffled[window] = shuffled[window][:, rng.permutation(12)]
    plans = {PlanCache(xy, shuffled, settings).plan(held_out, hour), plan}
    assert len(plans) == 2
    # too little past: no plan, and the hour falls back to the per-hour choice
    assert PlanCache(xy, data.pm25, settings).plan(held_out, 30) is None
    early = predict_held_out(xy, data.pm25, 30, held_out, settings, gap_fill=False)
    assert early is not None
    assert early.served in ("idw", "kriging")
    assert early.spatial["served"] == early.spatial["idw_or_kriging"]


def test_nearest_and_city_mean_figures_match_a_hand_computation(beijing):
    data, xy = beijing
    hour = 4321
    row = data.pm25[hour]
    errors_nearest, errors_mean = [], []
    for held_out in np.flatnonzero(np.isfinite(row)):
        others = [i for i in np.flatnonzero(np.isfinite(row)) if i != held_out]
        distance = np.hypot(*(xy[others] - xy[held_out]).T)
        errors_nearest.append(row[others][np.argmin(distance)] - row[held_out])
        errors_mean.append(row[others].mean() - row[held_out])
    result = evaluate(xy, data.pm25, [hour], gap_fill=False)
    assert result.spatial["nearest"].rmse == pytest.approx(
        np.sqrt(np.mean(np.square(errors_nearest)))
    )
    assert result.spatial["city_mean"].mae == pytest.approx(np.mean(np.abs(errors_mean)))
    assert result.gap_fill == {}


def test_evaluation_over_a_sample_scores_every_method_on_the_same_pairs(beijing):
    data, xy = beijing
    hours = sample_hours(len(data.times), 25, seed=5)
    result = evaluate(xy, data.pm25, hours, Settings(variogram_hours=24, plan_days=10))
    counts = {s.count for s in result.spatial.values()}
    assert len(counts) == 1
    assert counts.pop() > 250
    assert sum(result.served_share.values()) == pytest.approx(1.0)
    assert result.served_share["tuned"] > 0.9  # hours in the first days have no plan yet
    assert result.previous_served.count == result.spatial["served"].count
    gap_counts = {s.count for s in result.gap_fill.values()}
    assert len(gap_counts) == 1
    assert sum(result.gap_fill_paths.values()) == gap_counts.pop()
    for scores in result.spatial.values():
        assert scores.r2 <= 1.0
        assert scores.rmse >= scores.mae > 0
    as_dict = result.to_dict()
    assert set(as_dict["spatial"]) == {"nearest", "idw", "kriging", "served", "city_mean"}
    assert as_dict["idw_or_kriging"]["count"] == result.spatial["idw"].count
    assert as_dict["served_rmse_relative_to_kriging"] == pytest.approx(
        result.spatial["served"].rmse / result.spatial["kriging"].rmse, abs=1e-4
    )


def test_hours_with_too_few_other_stations_are_skipped():
    xy = np.array([[0.0, 0.0], [1_000.0, 0.0], [0.0, 1_000.0], [1_000.0, 1_000.0]])
    values = np.array([[10.0, 20.0, 30.0, np.nan], [10.0, 20.0, 30.0, 40.0]])
    assert predict_held_out(xy, values, 0, 0) is None
    result = evaluate(xy, values, [0, 1])
    assert result.spatial["idw"].count == 4  # hour 1 only, each station held out once
