"""Grades: every breakpoint of both schemes and pollutants, on both sides, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from citysmart.services.air.grades import Scheme, grade, grade_levels, overall_grade, truncate
from citysmart.services.air.types import Pollutant

# (concentration, level, index), written from the published tables, not from the code's table.
KR_PM10: list[tuple[float, int, int]] = [
    (0, 1, 0),
    (30, 1, 50),
    (31, 2, 51),
    (80, 2, 100),
    (81, 3, 101),
    (150, 3, 250),
    (151, 4, 251),
    (600, 4, 500),
]
KR_PM25: list[tuple[float, int, int]] = [
    (0, 1, 0),
    (15, 1, 50),
    (16, 2, 51),
    (35, 2, 100),
    (36, 3, 101),
    (75, 3, 250),
    (76, 4, 251),
    (500, 4, 500),
]
US_PM25: list[tuple[float, int, int]] = [
    (0.0, 1, 0),
    (9.0, 1, 50),
    (9.1, 2, 51),
    (35.4, 2, 100),
    (35.5, 3, 101),
    (55.4, 3, 150),
    (55.5, 4, 151),
    (125.4, 4, 200),
    (125.5, 5, 201),
    (225.4, 5, 300),
    (225.5, 6, 301),
    (325.4, 6, 500),
]
US_PM10: list[tuple[float, int, int]] = [
    (0, 1, 0),
    (54, 1, 50),
    (55, 2, 51),
    (154, 2, 100),
    (155, 3, 101),
    (254, 3, 150),
    (255, 4, 151),
    (354, 4, 200),
    (355, 5, 201),
    (424, 5, 300),
    (425, 6, 301),
    (604, 6, 500),
]
CASES: list[tuple[Scheme, Pollutant, list[tuple[float, int, int]]]] = [
    ("kr", Pollutant.PM10, KR_PM10),
    ("kr", Pollutant.PM25, KR_PM25),
    ("us", Pollutant.PM25, US_PM25),
    ("us", Pollutant.PM10, US_PM10),
]
BREAKPOINTS = [
    pytest.param(scheme, pollutant, c, level, index, id=f"{scheme}-{pollutant}-{c}")
    for scheme, pollutant, rows in CASES
    for c, level, index in rows
]


@pytest.mark.parametrize(("scheme", "pollutant", "concentration", "level", "index"), BREAKPOINTS)
def test_every_breakpoint_gives_the_published_grade_and_index(
    scheme: Scheme, pollutant: Pollutant, concentration: float, level: int, index: int
) -> None:
    result = grade(concentration, pollutant, scheme)
    assert (result.level, result.index) == (level, index)
    assert not result.above_scale


@pytest.mark.parametrize(("scheme", "pollutant", "rows"), CASES)
def test_labels_and_colour_change_with_the_level(
    scheme: Scheme, pollutant: Pollutant, rows: list[tuple[float, int, int]]
) -> None:
    grades = [grade(c, pollutant, scheme) for c, _, _ in rows]
    by_level = {g.level: g for g in grades}
    assert sorted(by_level) == list(range(1, len(by_level) + 1))
    assert len({g.label_ko for g in by_level.values()}) == len(by_level)
    assert len({g.label_en for g in by_level.values()}) == len(by_level)
    assert len({g.colour for g in by_level.values()}) == len(by_level)
    assert all(g.label_ko and g.label_en and g.key for g in grades)


def test_korean_labels_are_the_four_official_grades() -> None:
    labels = [grade(c, "pm10").label_ko for c in (10, 50, 100, 200)]
    assert labels == ["좋음", "보통", "나쁨", "매우나쁨"]
    assert [grade(c, "pm25").label_en for c in (10, 20, 50, 100)] == [
        "Good",
        "Moderate",
        "Unhealthy",
        "Very unhealthy",
    ]


def test_korean_values_between_integer_breakpoints_are_truncated() -> None:
    assert grade(30.99, "pm10").level == 1
    assert grade(30.99, "pm10").concentration == 30
    assert grade(15.5, "pm25").level == 1
    assert grade(35.9, "pm25").level == 2
    assert grade(75.999, "pm25").level == 3


def test_us_truncation_rules_pm25_to_a_tenth_pm10_to_a_whole() -> None:
    assert grade(9.09, "pm25", "us").level == 1
    assert grade(35.49, "pm25", "us").level == 2
    assert truncate(35.49, "pm25", "us") == pytest.approx(35.4)
    assert grade(54.9, "pm10", "us").level == 1
    assert grade(154.99, "pm10", "us").level == 2


def test_interpolated_index_between_breakpoints() -> None:
    # KR PM2.5 25: 49/19 · (25 − 16) + 51 = 74.2 → 74; KR PM10 100: 149/69 · 19 + 101 → 142.
    assert grade(25, "pm25").index == 74
    assert grade(100, "pm10").index == 142
    # US PM2.5 12.0: 49/26.3 · 2.9 + 51 = 56.4 → 56; US PM10 100: 49/99 · 45 + 51 → 73.
    assert grade(12.0, "pm25", "us").index == 56
    assert grade(100, "pm10", "us").index == 73


@pytest.mark.parametrize(
    ("scheme", "pollutant", "top"),
    [("kr", "pm10", 600), ("kr", "pm25", 500), ("us", "pm25", 325.4), ("us", "pm10", 604)],
)
def test_above_the_scale_keeps_the_worst_grade_at_index_500(
    scheme: Scheme, pollutant: str, top: float
) -> None:
    for above in (top + 50, 1e30):
        result = grade(above, pollutant, scheme)
        assert result.above_scale
        assert result.index == 500
        assert result.level == grade(top, pollutant, scheme).level


@pytest.mark.parametrize("bad", [-0.1, -5, math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("scheme", ["kr", "us"])
def test_negative_or_not_finite_concentration_is_a_clear_error(bad: float, scheme: Scheme) -> None:
    with pytest.raises(ValueError, match="concentration"):
        grade(bad, "pm25", scheme)


def test_unknown_scheme_or_pollutant_is_refused() -> None:
    with pytest.raises(ValueError, match="scheme"):
        grade(10, "pm25", "eu")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="pollutant"):
        grade(10, "o3")


def test_pollutant_names_are_read_leniently() -> None:
    assert grade(20, "PM2.5").pollutant is Pollutant.PM25
    assert grade(20, "pm_10").pollutant is Pollutant.PM10


def test_overall_grade_is_the_worse_of_the_two() -> None:
    # PM10 50 is 보통 (2); PM2.5 40 is 나쁨 (3): the overall grade is PM2.5's.
    result = overall_grade(50, 40)
    assert result is not None
    assert (result.pollutant, result.level, result.label_ko) == (Pollutant.PM25, 3, "나쁨")
    result = overall_grade(200, 10)
    assert result is not None
    assert (result.pollutant, result.level) == (Pollutant.PM10, 4)


def test_overall_grade_ties_on_level_go_to_the_higher_index() -> None:
    result = overall_grade(80, 16)  # both 보통: PM10 index 100, PM2.5 index 51
    assert result is not None
    assert (result.pollutant, result.index) == (Pollutant.PM10, 100)


def test_overall_grade_with_one_or_no_value() -> None:
    only = overall_grade(None, 20, "us")
    assert only is not None
    assert only.pollutant is Pollutant.PM25
    assert overall_grade(None, None) is None
    with pytest.raises(ValueError, match="concentration"):
        overall_grade(math.nan, 20)


@pytest.mark.parametrize(("scheme", "pollutant", "rows"), CASES)
def test_array_levels_agree_with_scalar_grades(
    scheme: Scheme, pollutant: Pollutant, rows: list[tuple[float, int, int]]
) -> None:
    rng = np.random.default_rng(7)
    top = rows[-1][0]
    values = np.concatenate(
        [
            [c for c, _, _ in rows],
            [c + d for c, _, _ in rows for d in (-0.05, 0.05, 0.95)],
            rng.uniform(0, top * 1.2, 500),
        ]
    )
    values = values[values >= 0]
    levels = grade_levels(values, pollutant, scheme)
    expected = [grade(v, pollutant, scheme).level for v in values]
    assert levels.tolist() == expected


def test_array_levels_mark_missing_as_zero_and_refuse_negatives() -> None:
    assert grade_levels([np.nan, 10.0, 200.0], "pm10").tolist() == [0, 1, 4]
    with pytest.raises(ValueError, match="negative"):
        grade_levels([5.0, -1.0], "pm10")
