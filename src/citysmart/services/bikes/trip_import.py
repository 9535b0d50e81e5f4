"""Import trip history from CSV: ``citysmart bikes import-trips FILE``.

The file is UTF-8 (a BOM is fine), comma-separated, with this header (any order, every
column required, no others)::

    bike_id,start_station,start_time,end_station,end_time

- ``bike_id``: the bike's id (letters, digits, ``_.-``, at most 64); bikes need not be
  registered in the fleet table.
- ``start_station``, ``end_station``: station codes (the GBFS ``station_id``, the last
  part of the hub entity's URN); the station must be registered in the hub.
- ``start_time``, ``end_time``: ISO 8601 with a UTC offset, e.g.
  ``2026-11-25T08:03:00+09:00`` or ``2026-11-24T23:03:00Z``; a time without an offset
  is refused, not guessed. ``end_time`` may equal ``start_time`` but not precede it.

The rule is all or nothing: every row is checked first, and if any is bad nothing is
stored and the error lists the bad lines (the first 20, each with its line number and
what is wrong). A trip is identified by its bike and start time: a row identical to a
trip already stored is skipped and counted as already there (so importing the same file
twice is harmless); one with the same bike and start time but another end or stations
is an error, as are two such rows in one file.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import click
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from tqdm import tqdm

from citysmart.hub.models import Entity
from citysmart.services.bikes.models import Trip, TripImport
from citysmart.services.bikes.stations import STATION_TYPE, code_of

COLUMNS: Final = ("bike_id", "start_station", "start_time", "end_station", "end_time")
MAX_ERRORS_SHOWN: Final = 20
_CHUNK: Final = 1000
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


class TripImportError(ValueError):
    """The file cannot be imported; nothing was stored. ``errors`` are (line, what)."""

    def __init__(self, message: str, errors: list[tuple[int, str]] | None = None) -> None:
        self.errors = errors or []
        shown = [f"line {line}: {what}" for line, what in self.errors[:MAX_ERRORS_SHOWN]]
        more = len(self.errors) - len(shown)
        if more > 0:
            shown.append(f"... and {more} more")
        super().__init__("\n".join([message, *shown]))


@dataclass(frozen=True, slots=True)
class TripRow:
    """One checked row of the file."""

    line: int
    bike_id: str
    start_station: str
    start_time: dt.datetime
    end_station: str
    end_time: dt.datetime


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did."""

    rows: int
    stored: int
    duplicates: int
    import_id: int | None


def parse_time(value: str) -> dt.datetime:
    """Parse an ISO 8601 instant with a UTC offset (raise ValueError saying why)."""
    text = value.strip()
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO 8601 time") from None
    if when.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset (add +09:00 or Z)")
    return when.astimezone(dt.UTC)


def _header(fields: list[str] | None) -> list[str]:
    if not fields or all(not f.strip() for f in fields):
        raise TripImportError(
            f"the file is empty: the first line must be the header {','.join(COLUMNS)}"
        )
    names = [f.strip() for f in fields]
    missing = [c for c in COLUMNS if c not in names]
    unknown = [n for n in names if n not in COLUMNS]
    repeated = sorted({n for n in names if names.count(n) > 1})
    problems = []
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown column(s) {', '.join(repr(u) for u in unknown)}")
    if repeated:
        problems.append(f"column(s) given twice: {', '.join(repeated)}")
    if problems:
        raise TripImportError(
            f"line 1 (header): {'; '.join(problems)}; the columns are {','.join(COLUMNS)}"
        )
    return names


def _row(line: int, values: dict[str, str], stations: set[str]) -> tuple[TripRow | None, list[str]]:
    problems: list[str] = []
    bike = values["bike_id"].strip()
    if not _ID.match(bike):
        problems.append(f"bike_id {bike!r}: use letters, digits, '_', '-' and '.' (at most 64)")
    for column in ("start_station", "end_station"):
        code = values[column].strip()
        if not code:
            problems.append(f"{column} is empty")
        elif code not in stations:
            problems.append(f"unknown {column} {code!r} (no such station is registered)")
    times: dict[str, dt.datetime] = {}
    for column in ("start_time", "end_time"):
        try:
            times[column] = parse_time(values[column])
        except ValueError as exc:
            problems.append(f"{column}: {exc}")
    if len(times) == 2 and times["end_time"] < times["start_time"]:
        problems.append(
            f"end_time {values['end_time'].strip()} is before start_time "
            f"{values['start_time'].strip()}"
        )
    if problems:
        return None, problems
    return (
        TripRow(
            line,
            bike,
            values["start_station"].strip(),
            times["start_time"],
            values["end_station"].strip(),
            times["end_time"],
        ),
        [],
    )


def parse_trips(
    text: Iterable[str], stations: set[str], progress: tqdm[object] | None = None
) -> list[TripRow]:
    """Check every row of a trip CSV; return them, or raise listing every bad line."""
    reader = csv.reader(text)
    try:
        header = _header(next(reader, None))
    except csv.Error as exc:
        raise TripImportError(f"line 1: not CSV: {exc}") from exc
    rows: list[TripRow] = []
    errors: list[tuple[int, str]] = []
    first_line: dict[tuple[str, dt.datetime], int] = {}
    line = 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append((reader.line_num, f"not CSV: {exc}"))
            break
        line = reader.line_num
        if progress is not None:
            progress.update(1)
        if not fields or all(not f.strip() for f in fields):
            continue  # blank lines are not trips
        if len(fields) != len(header):
            errors.append((line, f"has {len(fields)} fields, the header has {len(header)}"))
            continue
        row, problems = _row(line, dict(zip(header, fields, strict=True)), stations)
        errors.extend((line, p) for p in problems)
        if row is None:
            continue
        key = (row.bike_id, row.start_time)
        if key in first_line:
            errors.append(
                (line, f"bike {row.bike_id} already starts a trip at this time on line "
                 f"{first_line[key]}")
            )  # fmt: skip
            continue
        first_line[key] = line
        rows.append(row)
    if errors:
        raise TripImportError(
            f"{len({e[0] for e in errors})} bad row(s): nothing was imported", errors
        )
    return rows


def station_codes(session: Session) -> set[str]:
    """Return the codes of every station registered in the hub."""
    ids = session.scalars(select(Entity.id).where(Entity.type == STATION_TYPE))
    return {code_of(i) for i in ids}


def _chunks(rows: list[TripRow]) -> Iterator[list[TripRow]]:
    for first in range(0, len(rows), _CHUNK):
        yield rows[first : first + _CHUNK]


def _new_rows(
    session: Session, chunk: list[TripRow]
) -> tuple[list[TripRow], list[tuple[int, str]]]:
    """Split a chunk into rows not stored yet; say which ones clash with stored trips."""
    stored = {
        (t.bike_id, t.start_time): t
        for t in session.scalars(
            select(Trip).where(
                Trip.bike_id.in_({r.bike_id for r in chunk}),
                Trip.start_time >= min(r.start_time for r in chunk),
                Trip.start_time <= max(r.start_time for r in chunk),
            )
        )
    }
    new, clashes = [], []
    for row in chunk:
        found = stored.get((row.bike_id, row.start_time))
        if found is None:
            new.append(row)
        elif (found.start_station, found.end_station, found.end_time) != (
            row.start_station,
            row.end_station,
            row.end_time,
        ):
            clashes.append(
                (
                    row.line,
                    f"bike {row.bike_id} already has a stored trip starting at "
                    f"{row.start_time.isoformat()} with other stations or end time",
                )
            )
    return new, clashes


def store_trips(
    session: Session,
    rows: list[TripRow],
    filename: str,
    digest: str,
    progress: tqdm[object] | None = None,
) -> ImportReport:
    """Store checked rows in the caller's transaction (raise, storing nothing, on a clash)."""
    batch = TripImport(
        filename=filename[-512:], sha256=digest, rows=len(rows), stored=0, duplicates=0
    )
    session.add(batch)
    session.flush()
    stored = 0
    clashes: list[tuple[int, str]] = []
    for chunk in _chunks(rows):
        new, clashed = _new_rows(session, chunk)
        clashes.extend(clashed)
        if new and not clashes:
            session.execute(
                insert(Trip),
                [
                    {
                        "bike_id": r.bike_id,
                        "start_time": r.start_time,
                        "start_station": r.start_station,
                        "end_station": r.end_station,
                        "end_time": r.end_time,
                        "import_id": batch.id,
                    }
                    for r in new
                ],
            )
            stored += len(new)
        if progress is not None:
            progress.update(len(chunk))
    if clashes:
        raise TripImportError(
            f"{len(clashes)} row(s) clash with trips already stored: nothing was imported", clashes
        )
    batch.stored, batch.duplicates = stored, len(rows) - stored
    return ImportReport(len(rows), stored, len(rows) - stored, batch.id)


def import_trips(
    sessions: sessionmaker[Session], path: Path, progress: bool | None = False
) -> ImportReport:
    """Check and store a trip CSV file in one transaction (all or nothing).

    ``progress`` shows progress bars on stderr (None: only on a terminal).
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TripImportError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise TripImportError(f"line {line}: the file is not UTF-8 text ({exc.reason})") from exc
    digest = hashlib.sha256(raw).hexdigest()
    disable = None if progress is None else not progress
    total = max(text.count("\n") + (0 if text.endswith("\n") else 1) - 1, 0)
    with sessions() as session:
        stations = station_codes(session)
    with tqdm(total=total, unit="row", desc="checking", disable=disable) as bar:
        rows = parse_trips(io.StringIO(text, newline=""), stations, bar)
    with (
        tqdm(total=len(rows), unit="trip", desc="storing", disable=disable) as bar,
        sessions() as session,
    ):
        try:
            with session.begin():
                return store_trips(session, rows, path.name, digest, bar)
        except IntegrityError as exc:
            raise TripImportError(
                "another import stored some of these trips at the same moment: nothing was "
                "imported; run the import again"
            ) from exc


@click.command("import-trips")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show progress bars [default: when stderr is a terminal].",
)
def import_trips_command(csv_file: Path, progress: bool | None) -> None:
    """Import trip history from CSV: bike_id,start_station,start_time,end_station,end_time.

    Times are ISO 8601 with a UTC offset (2026-11-25T08:03:00+09:00); stations are
    registered station codes. All or nothing: a bad row stores nothing and is named with
    its line number; rows already stored are skipped.
    """
    from citysmart.core.config import InsecureSettingsError, get_settings
    from citysmart.hub.runtime import HubRuntime

    settings = get_settings()
    try:
        settings.check_production()
    except InsecureSettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    runtime = HubRuntime.create(settings)
    try:
        runtime.migrate()
        report = import_trips(runtime.sessions, csv_file, progress)
    except TripImportError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        runtime.stop()
    click.echo(
        f"{report.stored} trips stored, {report.duplicates} already there "
        f"({report.rows} rows in {csv_file.name})"
    )
