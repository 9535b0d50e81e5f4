"""Trip history from CSV: what is stored, and bad files refused whole with the line named."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from citysmart.core.config import get_settings
from citysmart.hub.runtime import HubRuntime
from citysmart.services.bikes.models import Trip, TripImport
from citysmart.services.bikes.trip_import import (
    TripImportError,
    import_trips,
    import_trips_command,
    parse_trips,
)
from tests.services.bikes.factories import add_stations

HEADER = "bike_id,start_station,start_time,end_station,end_time\n"
GOOD = (
    HEADER
    + "B-0001,SJ001,2026-11-20T08:00:00+09:00,SJ002,2026-11-20T08:17:30+09:00\n"
    + "B-0002,SJ002,2026-11-20T08:05:00+09:00,SJ003,2026-11-20T08:40:00+09:00\n"
    + "B-0001,SJ002,2026-11-19T23:30:00Z,SJ001,2026-11-19T23:45:00Z\n"
)
STATIONS = {"SJ001", "SJ002", "SJ003"}


def _write(tmp_path: Path, text: str, name: str = "trips.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _counts(runtime: HubRuntime) -> tuple[int, int]:
    with runtime.sessions() as session:
        trips = session.scalar(select(func.count()).select_from(Trip))
        imports = session.scalar(select(func.count()).select_from(TripImport))
    return int(trips or 0), int(imports or 0)


@pytest.fixture
def stations(bikes_runtime: HubRuntime) -> HubRuntime:
    """The runtime with three registered stations."""
    add_stations(bikes_runtime)
    return bikes_runtime


# --- checking rows (no database) -----------------------------------------------------------


def _error(text: str) -> TripImportError:
    with pytest.raises(TripImportError) as caught:
        parse_trips(text.splitlines(keepends=True), STATIONS)
    return caught.value


def test_rows_are_read_with_their_times_in_utc() -> None:
    rows = parse_trips(GOOD.splitlines(keepends=True), STATIONS)
    assert [r.line for r in rows] == [2, 3, 4]
    assert rows[0].start_time == dt.datetime(2026, 11, 19, 23, 0, tzinfo=dt.UTC)
    assert rows[0].end_time - rows[0].start_time == dt.timedelta(minutes=17, seconds=30)
    assert rows[2].start_station == "SJ002"


@pytest.mark.parametrize(
    ("row", "words"),
    [
        (
            "B-1,SJ999,2026-11-20T08:00:00+09:00,SJ001,2026-11-20T08:10:00+09:00",
            ["start_station", "SJ999"],
        ),
        (
            "B-1,SJ001,2026-11-20T08:00:00+09:00,XX,2026-11-20T08:10:00+09:00",
            ["end_station", "'XX'"],
        ),
        ("B-1,SJ001,2026-11-20T08:10:00+09:00,SJ002,2026-11-20T08:00:00+09:00", ["before"]),
        ("B-1,SJ001,yesterday,SJ002,2026-11-20T08:00:00+09:00", ["start_time", "ISO 8601"]),
        ("B-1,SJ001,2026-11-20T08:00:00,SJ002,2026-11-20T08:10:00+09:00", ["UTC offset"]),
        ("B-1,SJ001,2026-11-20T08:00:00+09:00,SJ002", ["has 4 fields"]),
        (",SJ001,2026-11-20T08:00:00+09:00,SJ002,2026-11-20T08:10:00+09:00", ["bike_id"]),
    ],
)
def test_a_bad_row_is_named_by_its_line_and_problem(row: str, words: list[str]) -> None:
    message = str(_error(GOOD + row + "\n"))
    assert "line 5:" in message
    assert "nothing was imported" in message
    for word in words:
        assert word in message


def test_every_bad_line_is_listed_not_only_the_first() -> None:
    bad = "B-9,SJ999,2026-11-20T08:00:00+09:00,SJ001,2026-11-20T08:10:00+09:00\n"
    error = _error(HEADER + bad + GOOD.removeprefix(HEADER) + bad.replace("B-9", "B-8"))
    assert [line for line, _ in error.errors] == [2, 6]


def test_the_same_trip_twice_in_a_file_is_refused() -> None:
    first = GOOD.splitlines()[1]
    error = _error(GOOD + first.replace("SJ002,2026-11-20T08:17", "SJ003,2026-11-20T08:19") + "\n")
    assert error.errors[0][0] == 5
    assert "line 2" in error.errors[0][1]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", ["empty", "bike_id,start_station"]),
        ("bike_id,start_station,start_time,end_time\n", ["missing", "end_station"]),
        (HEADER.replace("\n", ",price\n"), ["unknown", "'price'"]),
    ],
)
def test_a_bad_header_is_refused_saying_what_is_wrong(text: str, words: list[str]) -> None:
    message = str(_error(text))
    for word in words:
        assert word in message


# --- importing (SQLite and PostgreSQL) ------------------------------------------------------


def test_a_good_file_is_stored_and_importing_it_again_stores_nothing_more(
    stations: HubRuntime, tmp_path: Path
) -> None:
    path = _write(tmp_path, GOOD)
    report = import_trips(stations.sessions, path)
    assert (report.rows, report.stored, report.duplicates) == (3, 3, 0)
    again = import_trips(stations.sessions, path)
    assert (again.stored, again.duplicates) == (0, 3)
    assert _counts(stations) == (3, 2)
    with stations.sessions() as session:
        trip = session.get(Trip, ("B-0002", dt.datetime(2026, 11, 19, 23, 5, tzinfo=dt.UTC)))
    assert trip is not None
    assert (trip.start_station, trip.end_station) == ("SJ002", "SJ003")
    assert trip.end_time == dt.datetime(2026, 11, 19, 23, 40, tzinfo=dt.UTC)
    assert trip.import_id == report.import_id


def test_a_bad_row_stores_nothing_of_the_file(stations: HubRuntime, tmp_path: Path) -> None:
    bad = GOOD + "B-7,SJ001,2026-11-20T09:00:00+09:00,SJ404,2026-11-20T09:30:00+09:00\n"
    with pytest.raises(TripImportError, match="line 5: unknown end_station 'SJ404'"):
        import_trips(stations.sessions, _write(tmp_path, bad))
    assert _counts(stations) == (0, 0)


def test_a_row_clashing_with_a_stored_trip_stores_nothing_of_the_file(
    stations: HubRuntime, tmp_path: Path
) -> None:
    import_trips(stations.sessions, _write(tmp_path, GOOD, "first.csv"))
    changed = (
        HEADER
        + "B-5,SJ001,2026-11-21T08:00:00+09:00,SJ002,2026-11-21T08:10:00+09:00\n"
        + "B-0001,SJ001,2026-11-20T08:00:00+09:00,SJ003,2026-11-20T08:17:30+09:00\n"
    )
    with pytest.raises(TripImportError, match="line 3: bike B-0001 already has a stored trip"):
        import_trips(stations.sessions, _write(tmp_path, changed, "second.csv"))
    assert _counts(stations) == (3, 1)  # the first import only; B-5 was not stored


def test_a_file_that_is_not_utf8_is_refused_with_its_line(
    stations: HubRuntime, tmp_path: Path
) -> None:
    path = tmp_path / "trips.csv"
    path.write_bytes(GOOD.encode() + "B-9,세종,x,y,z\n".encode("euc-kr"))
    with pytest.raises(TripImportError, match="line 5: the file is not UTF-8"):
        import_trips(stations.sessions, path)
    assert _counts(stations) == (0, 0)


@pytest.fixture
def cli_env(
    stations: HubRuntime, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[HubRuntime]:
    """The environment a ``citysmart bikes import-trips`` run reads its settings from."""
    monkeypatch.setenv("CITYSMART_DATABASE_URL", database_url)
    monkeypatch.setenv("CITYSMART_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield stations
    get_settings.cache_clear()


def test_the_command_imports_with_a_progress_bar_and_names_bad_lines(
    cli_env: HubRuntime, tmp_path: Path
) -> None:
    runner = CliRunner()
    good = runner.invoke(import_trips_command, [str(_write(tmp_path, GOOD)), "--progress"])
    assert good.exit_code == 0, good.output
    assert "3 trips stored, 0 already there" in good.stdout
    assert "storing" in good.stderr  # the tqdm bar
    bad = GOOD.replace("2026-11-20T08:40:00+09:00", "soon")
    failed = runner.invoke(import_trips_command, [str(_write(tmp_path, bad, "bad.csv"))])
    assert failed.exit_code == 1
    assert "line 3: end_time: 'soon' is not an ISO 8601 time" in failed.stderr
    assert _counts(cli_env) == (3, 1)
