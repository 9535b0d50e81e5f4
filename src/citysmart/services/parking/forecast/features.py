"""Features for the free-space forecast: the recent trend, the weekly profile, the calendar.

A forecast is made at an origin (the last complete quarter hour) for a target ``h`` quarter
hours later. The model predicts the change in occupancy from the origin to the target; the
features are what is known at the origin: occupancy and its changes over the last minutes
to a week, the lot's typical change between the two times of the week (its hour-of-week
profile, learnt from training data only), what happened between the same two times a day
and a week earlier, the target's time of day, weekday and whether it is a public holiday.
"""

from __future__ import annotations

from functools import lru_cache

import holidays as holidays_lib
import numpy as np
import pandas as pd

from citysmart.services.parking.forecast.series import STEP, STEPS_PER_WEEK

STEPS_PER_DAY = 96
# Changes over these many quarter hours (15 min to one week) describe the recent trend.
TREND_LAGS = (1, 2, 3, 4, 8, 12, 24, STEPS_PER_DAY, STEPS_PER_WEEK)


def week_slot(times: pd.Series) -> pd.Series:
    """Return each time's quarter hour of the week (0 = Monday 00:00), in the given zone."""
    return times.dt.day_of_week * STEPS_PER_DAY + times.dt.hour * 4 + times.dt.minute // 15


def weekly_profile(grid: pd.DataFrame, until: pd.Timestamp, zone: str) -> pd.Series:
    """Return each lot's mean occupancy per quarter hour of the week, before ``until``."""
    past = grid[(grid["time"] < until) & grid["occupancy"].notna()]
    slots = week_slot(past["time"].dt.tz_convert(zone))
    return past.groupby([past["lot"], slots])["occupancy"].mean()


@lru_cache(maxsize=32)
def _holidays(country: str, year: int) -> frozenset[object]:
    return frozenset(holidays_lib.country_holidays(country, years=year))


def is_holiday(days: pd.Series, country: str) -> np.ndarray:
    """Flag the days that are public holidays in ``country`` (ISO code, e.g. KR or GB)."""
    flags = np.zeros(len(days), dtype=bool)
    for year in days.dt.year.unique():
        calendar = _holidays(country, int(year))
        in_year = (days.dt.year == year).to_numpy()
        flags[in_year] = days[in_year].dt.date.isin(calendar).to_numpy()
    return flags


def horizon_features(
    grid: pd.DataFrame, steps: int, profile: pd.Series, zone: str, country: str
) -> pd.DataFrame:
    """Build the features of every origin in ``grid`` for a target ``steps`` quarter hours on.

    ``grid`` is the regular series of :func:`series.quarter_hours` (sorted by lot and time).
    Rows keep ``grid``'s index; ``lot`` is categorical.
    """
    by_lot = grid.groupby("lot", observed=True)["occupancy"]
    occupancy = grid["occupancy"]
    local_now = grid["time"].dt.tz_convert(zone)
    local_target = (grid["time"] + steps * STEP).dt.tz_convert(zone)
    features = pd.DataFrame(index=grid.index)
    features["lot"] = grid["lot"].astype("category")
    features["capacity"] = grid["capacity"]
    features["occupancy"] = occupancy
    features["share"] = occupancy / grid["capacity"]
    for lag in TREND_LAGS:
        features[f"change_{lag}"] = occupancy - by_lot.shift(lag)
    profile_now = _profile_at(profile, grid["lot"], week_slot(local_now))
    profile_target = _profile_at(profile, grid["lot"], week_slot(local_target))
    features["profile_target"] = profile_target
    features["profile_change"] = profile_target - profile_now
    features["profile_gap"] = occupancy - profile_now
    # The same stretch of time one day and one week before: how occupancy moved then.
    features["change_day_before"] = by_lot.shift(STEPS_PER_DAY - steps) - by_lot.shift(
        STEPS_PER_DAY
    )
    features["week_before_target"] = by_lot.shift(STEPS_PER_WEEK - steps)
    features["change_week_before"] = by_lot.shift(STEPS_PER_WEEK - steps) - by_lot.shift(
        STEPS_PER_WEEK
    )
    features["minute_of_day"] = local_target.dt.hour * 60 + local_target.dt.minute
    features["weekday"] = local_target.dt.day_of_week
    features["holiday"] = is_holiday(local_target, country)
    return features


def _profile_at(profile: pd.Series, lots: pd.Series, slots: pd.Series) -> np.ndarray:
    keys = pd.MultiIndex.from_arrays([lots.to_numpy(), slots.to_numpy()])
    values: np.ndarray = profile.reindex(keys).to_numpy(dtype=float)
    return values


def change_target(grid: pd.DataFrame, steps: int) -> pd.Series:
    """Return the change in occupancy from each origin to ``steps`` quarter hours later."""
    ahead = grid.groupby("lot", observed=True)["occupancy"].shift(-steps)
    return ahead - grid["occupancy"]
