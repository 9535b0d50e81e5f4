"""Time-ordered evaluation of the 1..6 h forecast on Beijing's real multi-site data.

The 12 Beijing stations stand in for Sejong's dong areas: it is Beijing's data, not Sejong's.
The model and the climatology learn only from hours before the split (targets included);
every forecast issued from the split onwards is scored against what was then measured.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import numpy as np
from numpy.typing import NDArray

from citysmart.core.paths import data_dir
from citysmart.services.air.forecast import (
    POLLUTANTS,
    climatology_forecast,
    fit_climatology,
    fit_forecast_model,
    persistence_forecast,
    predict,
)
from citysmart.services.air.forecast_features import HOUR, AreaSeries, FloatArray

DATA_LABEL = "Beijing Multi-Site Air-Quality (UCI), real data from Beijing, not Sejong"
BEIJING_UTC_OFFSET_HOURS = 8  # the files give Beijing local time; China keeps no summer time
DEFAULT_SPLIT = dt.date(2016, 12, 1)  # train March-November 2016, test December-February

_COMPASS = [
    "N",
    "NNE",
    "NE",
    "ENE",
    "E",
    "ESE",
    "SE",
    "SSE",
    "S",
    "SSW",
    "SW",
    "WSW",
    "W",
    "WNW",
    "NW",
    "NNW",
]
_WEATHER_COLUMNS = {
    "TEMP": "temperature",
    "PRES": "pressure",
    "DEWP": "dew_point",
    "RAIN": "rain",
    "WSPM": "wind_speed",
}


def _number(text: str) -> float:
    return math.nan if text in ("", "NA") else float(text)


@dataclass(frozen=True)
class _StationRows:
    times: NDArray[np.datetime64]
    columns: dict[str, FloatArray]


def _read_station(path: Path) -> _StationRows:
    times: list[np.datetime64] = []
    columns: dict[str, list[float]] = {
        name: [] for name in ("pm25", "pm10", *_WEATHER_COLUMNS.values(), "wind_u", "wind_v")
    }
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            local = np.datetime64(
                f"{int(row['year']):04d}-{int(row['month']):02d}-{int(row['day']):02d}"
                f"T{int(row['hour']):02d}",
                "h",
            )
            times.append(local - np.timedelta64(BEIJING_UTC_OFFSET_HOURS, "h"))
            columns["pm25"].append(_number(row["PM2.5"]))
            columns["pm10"].append(_number(row["PM10"]))
            for source, name in _WEATHER_COLUMNS.items():
                columns[name].append(_number(row[source]))
            # the wind's direction is where it blows from; u and v point where it goes
            speed = _number(row["WSPM"])
            if row["wd"] in _COMPASS:
                angle = math.radians(22.5 * _COMPASS.index(row["wd"]))
                columns["wind_u"].append(-speed * math.sin(angle))
                columns["wind_v"].append(-speed * math.cos(angle))
            else:
                columns["wind_u"].append(math.nan)
                columns["wind_v"].append(math.nan)
    return _StationRows(
        times=np.array(times, dtype="datetime64[h]"),
        columns={name: np.array(values, dtype=np.float64) for name, values in columns.items()},
    )


def load_beijing_series(
    data_dir: Path,
    *,
    stations: tuple[str, ...] | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> AreaSeries:
    """Read the Beijing station files as one hourly series (UTC), local dates start..end."""
    files = sorted(data_dir.glob("PRSA_Data_*.csv"))
    if not files:
        raise FileNotFoundError(f"no PRSA_Data_*.csv files in {data_dir}")
    by_station = {path.name.split("_")[2]: path for path in files}
    names = tuple(sorted(by_station)) if stations is None else stations
    unknown = [name for name in names if name not in by_station]
    if unknown:
        raise ValueError(f"no file for station(s) {unknown} in {data_dir}")
    rows = {name: _read_station(by_station[name]) for name in names}
    first = min(r.times.min() for r in rows.values())
    last = max(r.times.max() for r in rows.values())
    offset = np.timedelta64(BEIJING_UTC_OFFSET_HOURS, "h")
    if start is not None:
        first = max(first, np.datetime64(start, "h") - offset)
    if end is not None:
        last = min(last, np.datetime64(end, "h") + np.timedelta64(24, "h") - offset - HOUR)
    if last < first:
        raise ValueError("the chosen period holds no hour of data")
    times = np.arange(first, last + HOUR, HOUR)
    grids = {
        name: np.full((times.size, len(names)), np.nan)
        for name in next(iter(rows.values())).columns
    }
    for a, name in enumerate(names):
        station = rows[name]
        inside = (station.times >= first) & (station.times <= last)
        where = ((station.times[inside] - first) // HOUR).astype(np.intp)
        for column, values in station.columns.items():
            grids[column][where, a] = values[inside]
    weather = {name: grids[name] for name in (*_WEATHER_COLUMNS.values(), "wind_u", "wind_v")}
    return AreaSeries(
        times=times, areas=names, pm25=grids["pm25"], pm10=grids["pm10"], weather=weather
    )


def _scores(truth: FloatArray, guess: FloatArray) -> dict[str, float]:
    error = guess - truth
    return {
        "rmse": round(float(np.sqrt(np.mean(error**2))), 3),
        "mae": round(float(np.mean(np.abs(error))), 3),
    }


def evaluate_series(
    series: AreaSeries,
    split: np.datetime64,
    *,
    horizons: int = 6,
    interval: float = 0.8,
    tz_offset_hours: int = BEIJING_UTC_OFFSET_HOURS,
    max_iter: int = 150,
) -> dict[str, Any]:
    """Fit before split, forecast from every hour after it, and score model and baselines."""
    model = fit_forecast_model(
        series,
        horizons=horizons,
        interval=interval,
        train_end=split,
        tz_offset_hours=tz_offset_hours,
        max_iter=max_iter,
    )
    climatology = fit_climatology(series, train_end=split, tz_offset_hours=tz_offset_hours)
    first = int((split - series.times[0]) // HOUR)
    if not 0 < first < series.hours - 1:
        raise ValueError("the split must leave hours on both sides")
    origins = np.arange(first, series.hours - 1)
    forecasts = predict(model, series, origins)
    baselines = {
        "persistence": persistence_forecast(series, origins, horizons, model.max_age_hours),
        "climatology": climatology_forecast(climatology, series, origins, horizons),
    }
    pollutants: dict[str, Any] = {}
    for pollutant in POLLUTANTS:
        values = series.values(pollutant)
        targets = origins[:, None] + np.arange(1, horizons + 1)[None, :]
        inside = targets < series.hours
        truth = np.where(
            inside[:, None, :],
            values[np.minimum(targets, series.hours - 1)].transpose(0, 2, 1),
            np.nan,
        )
        result = forecasts[pollutant]
        rows = []
        for h in range(horizons):
            guesses = {
                "model": result.point[:, :, h],
                **{name: base[pollutant][:, :, h] for name, base in baselines.items()},
            }
            # score every method on the same forecasts: those all of them could make
            mask = np.isfinite(truth[:, :, h])
            for guess in guesses.values():
                mask &= np.isfinite(guess)
            observed = truth[:, :, h][mask]
            row: dict[str, Any] = {"horizon_hours": h + 1, "n": int(mask.sum())}
            for name, guess in guesses.items():
                row[name] = _scores(observed, guess[mask])
            low, high = result.lower[:, :, h][mask], result.upper[:, :, h][mask]
            row["interval_coverage"] = round(
                float(np.mean((observed >= low) & (observed <= high))), 3
            )
            row["interval_mean_width"] = round(float(np.mean(high - low)), 2)
            row["rmse_skill_vs_persistence"] = round(
                1.0 - row["model"]["rmse"] / row["persistence"]["rmse"], 3
            )
            row["beats_persistence"] = bool(
                row["model"]["rmse"] < row["persistence"]["rmse"]
                and row["model"]["mae"] < row["persistence"]["mae"]
            )
            rows.append(row)
        pollutants[pollutant] = rows
    return {
        "interval": interval,
        "horizons": horizons,
        "areas": list(series.areas),
        "train_hours_utc": [str(series.times[0]), str(split - HOUR)],
        "test_hours_utc": [str(split), str(series.times[-1])],
        "features": list(model.feature_names),
        "pollutants": pollutants,
        "beats_persistence_at_every_horizon": all(
            row["beats_persistence"] for rows in pollutants.values() for row in rows
        ),
    }


def evaluate_forecast(
    data_dir: Path,
    *,
    split: dt.date = DEFAULT_SPLIT,
    stations: tuple[str, ...] | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    horizons: int = 6,
    interval: float = 0.8,
    max_iter: int = 150,
) -> dict[str, Any]:
    """Evaluate the forecast on the Beijing files in data_dir; dates are local (UTC+8) days."""
    series = load_beijing_series(data_dir, stations=stations, start=start, end=end)
    split_hour = np.datetime64(split, "h") - np.timedelta64(BEIJING_UTC_OFFSET_HOURS, "h")
    result = evaluate_series(
        series, split_hour, horizons=horizons, interval=interval, max_iter=max_iter
    )
    return {
        "data": DATA_LABEL,
        "data_dir": str(data_dir),
        "split_local_date": split.isoformat(),
        "method": (
            "direct multi-horizon gradient boosting (one model per pollutant and horizon) of the "
            "change from the latest reading; quantile models give the interval; trained on the "
            "hours before the split, scored on every hour after it"
        ),
        "boosting_rounds": max_iter,
        **result,
    }


_NAMES = {"pm25": "PM2.5", "pm10": "PM10"}


def format_report(result: dict[str, Any]) -> str:
    """Render an evaluation result as a plain-text table for people."""
    pct = round(100 * result["interval"])
    lines = [
        f"Forecast of the next {result['horizons']} hours per area: {result['data']}",
        f"Areas: {len(result['areas'])} Beijing stations ({', '.join(result['areas'])})",
        f"Train (UTC): {result['train_hours_utc'][0]} .. {result['train_hours_utc'][1]};"
        f" test (UTC): {result['test_hours_utc'][0]} .. {result['test_hours_utc'][1]}",
        "Model: gradient boosting per horizon on the change from the latest reading;"
        f" {pct}% interval from quantile models, conformally widened.",
        "Persistence: the latest reading repeated. Climatology: each station's mean for the"
        " hour of day over the training period only.",
        "Skill: 1 - model RMSE / persistence RMSE. All methods are scored on the same forecasts.",
        "",
    ]
    for pollutant, rows in result["pollutants"].items():
        lines.append(f"{_NAMES.get(pollutant, pollutant)} (µg/m³), RMSE / MAE")
        lines.append(
            f"{'h':>3} {'n':>6}  {'model':>13}  {'persistence':>13}  {'climatology':>13}"
            f"  {'skill':>6}  {f'{pct}% cover':>9}  {'width':>6}"
        )
        for row in rows:
            cells = [
                f"{row[name]['rmse']:6.1f}/{row[name]['mae']:6.1f}"
                for name in ("model", "persistence", "climatology")
            ]
            lines.append(
                f"{row['horizon_hours']:>3} {row['n']:>6}  {cells[0]:>13}  {cells[1]:>13}"
                f"  {cells[2]:>13}  {row['rmse_skill_vs_persistence']:>6.1%}"
                f"  {row['interval_coverage']:>9.1%}  {row['interval_mean_width']:>6.1f}"
            )
        lines.append("")
    verdict = (
        "The model beats persistence (RMSE and MAE) at every horizon."
        if result["beats_persistence_at_every_horizon"]
        else "The model does NOT beat persistence at every horizon (see the rows above)."
    )
    lines.append(verdict)
    return "\n".join(lines)


@click.command("evaluate-forecast")
@click.option(
    "--data",
    "folder",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Folder of the Beijing multi-site CSV files [default: the shipped copy].",
)
@click.option(
    "--split",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=DEFAULT_SPLIT.isoformat(),
    show_default=True,
    help="First local day of the test period; training uses only the hours before it.",
)
@click.option(
    "--stations",
    default=None,
    help="Comma-separated station names (default: every station file in the folder).",
)
@click.option(
    "--start", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="First local day."
)
@click.option(
    "--end", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="Last local day."
)
@click.option(
    "--boosting-rounds",
    type=click.IntRange(min=10),
    default=150,
    show_default=True,
    help="Boosting rounds per model: fewer run faster and forecast a little worse.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def evaluate_forecast_command(
    folder: Path | None,
    split: dt.datetime,
    stations: str | None,
    start: dt.datetime | None,
    end: dt.datetime | None,
    boosting_rounds: int,
    as_json: bool,
) -> None:
    """Evaluate the 1..6 h forecast against persistence and climatology on Beijing's data."""
    chosen = None if stations is None else tuple(s.strip() for s in stations.split(",") if s)
    try:
        result = evaluate_forecast(
            folder or data_dir() / "beijing-multisite-air-quality",
            split=split.date(),
            stations=chosen,
            start=None if start is None else start.date(),
            end=None if end is None else end.date(),
            max_iter=boosting_rounds,
        )
    except (FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(result, ensure_ascii=False) if as_json else format_report(result))


if __name__ == "__main__":
    evaluate_forecast_command()
