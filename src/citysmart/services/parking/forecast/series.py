"""Occupancy readings to a regular 15-minute series per car park (means of each quarter hour)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

STEP = pd.Timedelta(minutes=15)
STEPS_PER_WEEK = 7 * 24 * 4
COLUMNS = ("lot", "time", "occupancy", "capacity")


class SeriesError(ValueError):
    """Readings that cannot make a series, saying why."""


def quarter_hours(readings: pd.DataFrame) -> pd.DataFrame:
    """Average readings (lot, time, occupancy, capacity) into 15-minute bins on a full grid.

    Times must be timezone-aware. Every lot gets every quarter hour from the first to the
    last reading of all lots; quarters without a reading hold NaN (gaps are kept, not filled).
    """
    missing = [c for c in COLUMNS if c not in readings.columns]
    if missing:
        raise SeriesError(f"readings lack the column(s) {', '.join(missing)}")
    if readings.empty:
        raise SeriesError("no readings")
    times = pd.to_datetime(readings["time"])
    if times.dt.tz is None:
        raise SeriesError("reading times must carry a time zone")
    frame = readings.assign(time=times.dt.tz_convert("UTC").dt.floor(STEP))
    means = (
        frame.groupby(["lot", "time"], observed=True)[["occupancy", "capacity"]]
        .mean()
        .reset_index()
    )
    grid = pd.date_range(means["time"].min(), means["time"].max(), freq=STEP)
    lots = sorted(means["lot"].unique())
    index = pd.MultiIndex.from_product([lots, grid], names=["lot", "time"])
    full = means.set_index(["lot", "time"]).reindex(index).reset_index()
    # Capacity changes rarely: carry the last known one over gaps so that features stay defined.
    full["capacity"] = full.groupby("lot")["capacity"].transform(lambda s: s.ffill().bfill())
    return full


def read_bath(path: Path) -> pd.DataFrame:
    """Read Bath's car-park file (CSV, optionally gzipped) as readings (lot, time, ...).

    The file's times are labelled UTC (see its SOURCE.md); they are kept as UTC.
    """
    try:
        raw = pd.read_csv(path, usecols=["Name", "LastUpdate", "Occupancy", "Capacity"])
    except (OSError, ValueError) as exc:
        raise SeriesError(f"cannot read {path}: {exc}") from exc
    times = pd.to_datetime(raw["LastUpdate"], format="%Y-%m-%d %H:%M:%S", errors="coerce")
    bad = times.isna() | raw["Occupancy"].isna() | raw["Capacity"].isna()
    if bad.any():
        first = int(bad.to_numpy().nonzero()[0][0]) + 2  # header + 1-based
        raise SeriesError(f"{path}: {int(bad.sum())} unreadable row(s), the first on line {first}")
    return pd.DataFrame(
        {
            "lot": raw["Name"].astype(str),
            "time": times.dt.tz_localize("UTC"),
            "occupancy": raw["Occupancy"].astype(float),
            "capacity": raw["Capacity"].astype(float),
        }
    )


def find_bath_file(path: Path) -> Path:
    """Accept Bath's folder or file; return the file."""
    if path.is_dir():
        found = sorted(path.glob("bath_parking_*.csv*"))
        if not found:
            raise SeriesError(f"{path} holds no bath_parking_*.csv(.gz) file")
        return found[0]
    if not path.exists():
        raise SeriesError(f"{path} does not exist")
    return path
