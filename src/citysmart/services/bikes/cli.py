"""``citysmart bikes ...``: the public-bike service's commands."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from citysmart.core.paths import data_dir
from citysmart.services.bikes.scooter_cli import scooters_command
from citysmart.services.bikes.trip_import import import_trips_command


@click.group()
def bikes() -> None:
    """Public bikes: demand forecasts, trip imports, rebalancing."""


def _period(first: datetime, last: datetime) -> str:
    """Format an inclusive hour range."""
    return f"{first:%Y-%m-%d %H:00} to {last:%Y-%m-%d %H:00}"


@bikes.command()
@click.option(
    "--data",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Seoul's SeoulBikeData.csv (UCI) [default: the shipped copy].",
)
@click.option(
    "--test-from",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default="2018-09-01",
    show_default=True,
    help="First test day (Seoul time): train before it, test from it.",
)
@click.option(
    "--validation-days",
    type=click.IntRange(min=1),
    default=31,
    show_default=True,
    help="Days before --test-from on which the target transform is chosen.",
)
@click.option(
    "--seeds",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="LightGBM seeds averaged in the final models.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
def evaluate(
    path: Path | None, test_from: datetime, validation_days: int, seeds: int, as_json: bool
) -> None:
    """Time-ordered evaluation of the demand forecasts on Seoul's hourly rentals.

    Trains on the hours before --test-from (December–August on the UCI file) and prints
    RMSE, MAE and R² on the hours after it (September–November) for the gradient-boosted
    model day-ahead (issued at 00:00) and hour-ahead, the hour-of-week mean of the training
    hours and the mean of the same hour of the week in the last 4 weeks. Hours with the
    system off are excluded. The data are Seoul's city-wide counts, not Sejong's.
    """
    from citysmart.services.bikes.demand.evaluation import (
        ISSUE_TIME,
        OFF_HOURS_NOTE,
        WEATHER_NOTE,
        EvaluationError,
    )
    from citysmart.services.bikes.demand.evaluation import evaluate as run_evaluation
    from citysmart.services.bikes.demand.seoul import SEOUL_TZ, SeoulDataError, load_seoul

    path = path or data_dir() / "seoul-bike-sharing-demand" / "SeoulBikeData.csv"
    try:
        data = load_seoul(path)
        report = run_evaluation(
            data,
            test_from.replace(tzinfo=SEOUL_TZ),
            validation_days=validation_days,
            seeds=tuple(range(seeds)),
        )
    except (SeoulDataError, EvaluationError) as exc:
        raise click.ClickException(str(exc)) from exc
    names = {
        "day_ahead": "gradient boosting, day-ahead",
        "hour_ahead": "gradient boosting, hour-ahead",
        "hour_of_week_mean": "hour-of-week mean (training hours)",
        "last_4_weeks_mean": "same hour of week, mean of last 4 weeks",
    }
    if as_json:
        payload: dict[str, Any] = {
            "data": report.label,
            "train": _period(*report.train_period),
            "validation": _period(*report.validation_period),
            "test": _period(*report.test_period),
            "train_hours": report.train_hours,
            "test_hours": report.test_hours,
            "off_hours_excluded": report.off_hours_excluded,
            "issue_time": ISSUE_TIME,
            "weather": WEATHER_NOTE,
            "off_hours": OFF_HOURS_NOTE,
            **{key: {"rmse": s.rmse, "mae": s.mae, "r2": s.r2} for key, s in report.scores.items()},
            "selection": {
                key: {
                    "target": sel.chosen.value,
                    "validation_rmse": sel.validation_rmse,
                    "trees": sel.trees,
                }
                for key, sel in report.selection.items()
            },
        }
        click.echo(json.dumps(payload))
        return
    click.echo(report.label)
    click.echo(f"train {_period(*report.train_period)} ({report.train_hours} hours)")
    click.echo(f"  target transform chosen on {_period(*report.validation_period)}")
    click.echo(f"test  {_period(*report.test_period)} ({report.test_hours} hours)")
    click.echo(
        f"system off, excluded: {report.off_hours_excluded['train']} training hours, "
        f"{report.off_hours_excluded['test']} test hours"
    )
    click.echo(f"{ISSUE_TIME}; hour-ahead sees counts up to the hour before")
    click.echo(f"note: {WEATHER_NOTE}")
    click.echo("")
    click.echo(f"{'method':<42} {'RMSE':>8} {'MAE':>8} {'R²':>7}")
    for key, name in names.items():
        s = report.scores[key]
        click.echo(f"{name:<42} {s.rmse:8.1f} {s.mae:8.1f} {s.r2:7.3f}")
    for key, sel in report.selection.items():
        tried = ", ".join(f"{t} {v:.1f}" for t, v in sel.validation_rmse.items())
        click.echo(f"{key}: target {sel.chosen.value} (validation RMSE: {tried})")


bikes.add_command(import_trips_command)
bikes.add_command(scooters_command)
