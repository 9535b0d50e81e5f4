"""``citysmart parking ...``: the parking service's commands."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pandas as pd

from citysmart.core.paths import data_dir
from citysmart.services.parking.forecast.evaluation import Evaluation, evaluate
from citysmart.services.parking.forecast.model import ForecastError
from citysmart.services.parking.forecast.series import (
    SeriesError,
    find_bath_file,
    quarter_hours,
    read_bath,
)

BATH = Path("bath-parking-occupancy")
BATH_NOTE = (
    "Bath (UK) car parks, Jan-Mar 2016 (BANES council via Bath: Hacked): another city's data, "
    "not Sejong's. Times are the feed's wall-clock times (labelled UTC; probably UK local "
    "time), kept as recorded. No weather in the data: the model uses none."
)


@click.group()
def parking() -> None:
    """Smart parking: forecasts of free spaces."""


@parking.command("evaluate")
@click.option(
    "--data",
    "path",
    type=click.Path(path_type=Path),
    default=None,
    help="Bath's folder or CSV (.gz) file [default: the shipped copy].",
)
@click.option(
    "--test-from",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default="2016-03-01",
    show_default=True,
    help="First test day: train on pairs whose target is before it, test on the rest.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="LightGBM's seed.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
def evaluate_command(path: Path | None, test_from: object, seed: int, as_json: bool) -> None:
    """Time-ordered evaluation of the free-space forecast on Bath's car parks.

    15-minute means per car park; MAE in spaces at +15 min, +1 h and +3 h for the model,
    persistence and the hour-of-week mean, and the coverage of the model's 80% interval.
    """
    try:
        grid = quarter_hours(read_bath(find_bath_file(path or data_dir() / BATH)))
        result = evaluate(grid, pd.Timestamp(test_from, tz="UTC"), zone="UTC", country="GB")
    except (SeriesError, ForecastError) as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps({"data": BATH_NOTE, **result.as_dict()}))
        return
    click.echo(_table(result))


def _table(result: Evaluation) -> str:
    lines = [
        BATH_NOTE,
        f"{len(result.lots)} car parks; train {result.train[0]} to {result.train[1]}, "
        f"test {result.test[0]} to {result.test[1]}",
        "",
        "horizon  pairs   model  persistence  hour-of-week  80% interval (coverage, width)",
    ]
    for s in result.scores:
        lines.append(
            f"{s.horizon:>7} {s.pairs:>6} {s.model_mae:>7.2f} {s.persistence_mae:>12.2f} "
            f"{s.weekly_mean_mae:>13.2f}  {s.interval_coverage:.1%}, {s.interval_width:.1f}"
        )
    lines.append("MAE in spaces (free spaces = capacity - occupancy: the same error).")
    return "\n".join(lines)
