"""``citysmart air ...``: the fine-dust service's commands."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from citysmart.core.paths import data_dir
from citysmart.services.air.forecast_evaluation import evaluate_forecast_command

DEFAULT_SEED = 2016


@click.group()
def air() -> None:
    """Fine-dust map: evaluate interpolation and forecasts on real data."""


@air.command()
@click.option(
    "--data",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of the Beijing multi-site data set [default: the shipped copy].",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.option(
    "--hours",
    type=click.IntRange(min=1),
    default=None,
    help="Evaluate a random sample of this many hours (e.g. 400) [default: the whole year].",
)
@click.option(
    "--seed", type=int, default=DEFAULT_SEED, show_default=True, help="Seed of the hour sample."
)
@click.option(
    "--gap-fill/--no-gap-fill",
    default=True,
    show_default=True,
    help="Also evaluate gap filling: each held-out station's current hour is missing but "
    "its earlier hours are known; it is filled and scored next to IDW on the same pairs.",
)
@click.option(
    "--power", type=click.FloatRange(min=0.1), default=2.0, show_default=True, help="IDW power."
)
def evaluate(
    folder: Path | None,
    as_json: bool,
    hours: int | None,
    seed: int,
    gap_fill: bool,
    power: float,
) -> None:
    """Leave-one-station-out cross-validation of hourly PM2.5 on Beijing's data.

    Each station in turn is held out at each evaluated hour and predicted from the other
    stations only by nearest station, IDW, ordinary kriging, the served method (the one
    of IDW and kriging with the lower leave-one-out error among the other stations that
    hour) and the city mean; RMSE, MAE and R² are printed for each. The gap-fill section
    (on by default) scores filling a station's missing hour from its own earlier hours and
    the other stations, next to IDW. The data are Beijing's (UCI), not Sejong's.
    """
    from citysmart.services.air.beijing import BeijingDataError, load_beijing
    from citysmart.services.air.evaluation import Settings, sample_hours
    from citysmart.services.air.evaluation import evaluate as run_evaluation
    from citysmart.services.air.interpolation import LocalProjection

    folder = folder or data_dir() / "beijing-multisite-air-quality"
    try:
        data = load_beijing(folder)
    except BeijingDataError as exc:
        raise click.ClickException(str(exc)) from exc
    chosen = sample_hours(len(data.times), hours, seed)
    xy = LocalProjection.around(data.lon, data.lat).forward(data.lon, data.lat)
    started = time.perf_counter()
    step = max(1, len(chosen) // 10)

    def progress(done: int, total: int) -> None:
        if done % step == 0 or done == total:
            click.echo(f"evaluated {done}/{total} hours", err=True)

    result = run_evaluation(
        xy, data.pm25, chosen, Settings(power=power), gap_fill=gap_fill, progress=progress
    )
    report: dict[str, object] = {
        "data": data.label,
        "pollutant": "PM2.5",
        "unit": "µg/m³",
        "stations": list(data.stations),
        "period": [data.times[0].isoformat(), data.times[-1].isoformat()],
        "hours_total": len(data.times),
        "sample": {"hours": hours, "seed": seed if hours is not None else None},
        "seconds": round(time.perf_counter() - started, 1),
        **result.to_dict(),
    }
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False))
        return
    click.echo(_table(report))


def _table(report: dict[str, object]) -> str:
    """Render the evaluation report as plain text."""
    spatial = report["spatial"]
    assert isinstance(spatial, dict)
    sample = report["sample"]
    assert isinstance(sample, dict)
    which = (
        f"{sample['hours']} random hours (seed {sample['seed']})"
        if sample["hours"]
        else f"all {report['hours_total']} hours"
    )
    lines = [
        f"Data: {report['data']}",
        f"Leave-one-station-out, hourly {report['pollutant']} ({report['unit']}), {which}",
        "",
        f"{'method':<14}{'RMSE':>8}{'MAE':>8}{'R²':>8}{'n':>8}",
    ]
    for method, scores in spatial.items():
        lines.append(_row(method, scores))
    share = report["served_share"]
    assert isinstance(share, dict)
    lines.append(
        "served: "
        + ", ".join(f"{m} {100 * v:.0f} %" for m, v in share.items())
        + " of held-out predictions"
    )
    gap = report["gap_fill"]
    assert isinstance(gap, dict)
    if gap:
        lines += ["", "Gap fill: the station's current hour missing, its earlier hours known"]
        lines.append(f"{'method':<14}{'RMSE':>8}{'MAE':>8}{'R²':>8}{'n':>8}")
        for method in ("gap_fill", "idw", "persistence"):
            lines.append(_row(method, gap[method]))
        lines.append(f"gap-fill RMSE / IDW RMSE: {gap['rmse_ratio_to_idw']}")
        lines.append(f"how filled: {gap['paths']}")
    return "\n".join(lines)


def _row(method: str, scores: object) -> str:
    """Render one method's scores."""
    assert isinstance(scores, dict)

    def cell(key: str) -> str:
        value = scores[key]
        return f"{value:>8.2f}" if value is not None else f"{'-':>8}"

    return f"{method:<14}{cell('rmse')}{cell('mae')}{cell('r2')}{scores['count']:>8}"


air.add_command(evaluate_forecast_command)
