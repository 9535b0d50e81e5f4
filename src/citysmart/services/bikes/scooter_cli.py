"""``citysmart bikes scooters``: the e-scooter scenario report and its map."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

from citysmart.core.time import utcnow
from citysmart.services.bikes.scooter_scenario import (
    SEOUL,
    ScenarioError,
    publish_fleet,
    read_population,
    report_lines,
    run_scenario,
)


@click.command("scooters")
@click.option(
    "--count", "counts", multiple=True, type=click.IntRange(min=0), default=(100, 300, 1000),
    show_default=True, help="Fleet size to try (repeat for several).",
)  # fmt: skip
@click.option("--day", type=click.DateTime(["%Y-%m-%d"]), help="Day to simulate [tomorrow].")
@click.option(
    "--population", type=click.Path(dir_okay=False, path_type=Path),
    help="CSV 'code,population' per eup/myeon/dong (KOSTAT codes) to weight coverage.",
)  # fmt: skip
@click.option(
    "--map", "map_path", type=click.Path(dir_okay=False, path_type=Path),
    default=Path("scooter-scenario.svg"), show_default=True, help="Where to write the map.",
)  # fmt: skip
@click.option(
    "--publish", is_flag=True,
    help="Put the largest fleet's simulated scooters in GBFS vehicle_status (pilot or demo).",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def scooters_command(
    counts: tuple[int, ...],
    day: dt.datetime | None,
    population: Path | None,
    map_path: Path,
    publish: bool,
    as_json: bool,
) -> None:
    """Estimate what shared dockless e-scooters would add: lost trips served, coverage."""
    from citysmart.core.config import get_settings
    from citysmart.hub.runtime import HubRuntime

    when = day.date() if day else dt.datetime.now(SEOUL).date() + dt.timedelta(days=1)
    runtime = HubRuntime.create(get_settings())
    try:
        runtime.migrate()
        people = read_population(population) if population else None
        with runtime.sessions.begin() as session:
            report = run_scenario(session, sorted(set(counts)), when, people)
            published = publish_fleet(session, report.lost[-1], utcnow()) if publish else 0
    except (ScenarioError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        runtime.stop()
    map_path.write_text(report.svg, encoding="utf-8")
    if as_json:
        click.echo(json.dumps({
            "day": when.isoformat(), "stations": report.stations, "riders": report.trips,
            "weighted_by": report.coverage[0].weighted_by, "map": str(map_path),
            "published": published,
            "fleets": [
                {"scooters": lost.scooters, "lost_pickups": lost.lost_pickups,
                 "served": lost.served, "far_share": cov.far_share,
                 "far_reached_share": cov.covered_share_of_far,
                 "far_by_area": cov.far_by_area, "reached_by_area": cov.covered_by_area}
                for lost, cov in zip(report.lost, report.coverage, strict=True)
            ],
        }))  # fmt: skip
        return
    for line in report_lines(report):
        click.echo(line)
    click.echo(f"\nMap: {map_path}")
    if publish:
        click.echo(f"{published} simulated scooters published in GBFS vehicle_status")
