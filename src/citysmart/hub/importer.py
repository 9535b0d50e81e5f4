"""Import historical series from CSV through the same validation as device ingest."""

from __future__ import annotations

import csv
import io
import math
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from citysmart.core.time import parse_instant
from citysmart.hub.models import Entity
from citysmart.hub.senml import RELATIVE_TIME_LIMIT, resolve_pack
from citysmart.hub.vocabulary import ATTRIBUTE_RULES

if TYPE_CHECKING:
    from citysmart.hub.runtime import HubRuntime

COLUMNS = ("entity", "attribute", "time", "value", "unit")
CHUNK_ROWS = 5000


class ImportFormatError(ValueError):
    """The file as a whole is not an importable CSV."""


@dataclass
class ImportReport:
    """What an import stored and refused."""

    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    first_rejections: list[tuple[int, str]] = field(default_factory=list)


def row_to_record(row: dict[str, str]) -> dict[str, Any] | str:
    """Turn one CSV row into a SenML record, or say why it cannot be one."""
    attribute, raw_time, raw_value = row["attribute"].strip(), row["time"].strip(), row["value"]
    try:
        when = float(raw_time)
    except ValueError:
        try:
            when = parse_instant(raw_time).timestamp()
        except ValueError as exc:
            return str(exc)
    if when < RELATIVE_TIME_LIMIT:
        return f"time {raw_time!r} is before 1978; give an ISO 8601 time or epoch seconds"
    record: dict[str, Any] = {"n": attribute, "t": when}
    if row.get("unit"):
        record["u"] = row["unit"].strip()
    text = raw_value.strip()
    if text.lower() in ("true", "false"):
        record["vb"] = text.lower() == "true"
        return record
    try:
        number = float(text)
    except ValueError:
        if attribute in ATTRIBUTE_RULES:
            return f"{attribute} needs a number, got {raw_value!r}"
        record["vs"] = raw_value
        return record
    # float() accepts "nan" and "inf"; let validation refuse them with its own words.
    record["v"] = number if math.isfinite(number) else math.nan
    return record


def import_file(runtime: HubRuntime, path: Path, rejects_path: Path | None = None) -> ImportReport:
    """Import a CSV file with a progress bar; rows that fail are reported, never stored."""
    from tqdm import tqdm

    report = ImportReport()
    rejects_out = rejects_path.open("w", newline="", encoding="utf-8") if rejects_path else None
    rejects_writer = csv.writer(rejects_out) if rejects_out else None
    if rejects_writer:
        rejects_writer.writerow(["line", *COLUMNS, "reason"])
    with runtime.sessions() as session:
        known = set(session.scalars(select(Entity.id)))

    def reject(line: int, row: dict[str, str], reason: str) -> None:
        report.rejected += 1
        if len(report.first_rejections) < 10:
            report.first_rejections.append((line, reason))
        if rejects_writer:
            rejects_writer.writerow([line, *(row.get(c, "") for c in COLUMNS), reason])

    size = path.stat().st_size
    try:
        with (
            path.open("rb") as raw,
            tqdm(total=size, unit="B", unit_scale=True, desc=f"importing {path.name}") as bar,
        ):
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
            reader = csv.DictReader(text)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise ImportFormatError(
                    f"{path}: missing column(s) {', '.join(missing)}; the header must be "
                    f"{','.join(COLUMNS)}"
                )
            chunk: list[tuple[int, dict[str, str]]] = []
            last_pos = 0
            for row in reader:
                chunk.append((reader.line_num, row))
                if len(chunk) >= CHUNK_ROWS:
                    _store_chunk(runtime, chunk, known, report, reject)
                    chunk = []
                    pos = raw.tell()
                    bar.update(pos - last_pos)
                    last_pos = pos
            _store_chunk(runtime, chunk, known, report, reject)
            bar.update(size - last_pos)
    except UnicodeDecodeError as exc:
        raise ImportFormatError(f"{path} is not UTF-8 text: {exc}") from exc
    finally:
        if rejects_out:
            rejects_out.close()
    return report


def _store_chunk(
    runtime: HubRuntime,
    chunk: list[tuple[int, dict[str, str]]],
    known: set[str],
    report: ImportReport,
    reject: Any,
) -> None:
    by_entity: dict[str, list[tuple[int, dict[str, str], dict[str, Any]]]] = defaultdict(list)
    for line, row in chunk:
        if None in row or any(row.get(c) is None for c in COLUMNS):
            reject(line, row, "wrong number of fields")
            continue
        entity_id = row["entity"].strip()
        if entity_id not in known:
            reject(line, row, f"unknown entity {entity_id!r} (register it first)")
            continue
        record = row_to_record(row)
        if isinstance(record, str):
            reject(line, row, record)
            continue
        by_entity[entity_id].append((line, row, record))
    now = time.time()
    for entity_id, items in by_entity.items():
        readings, rejections = resolve_pack(
            [record for _, _, record in items], now, runtime.settings.max_clock_skew_s
        )
        for rejection in rejections:
            line, row, _ = items[rejection.index]
            reject(line, row, rejection.reason)
        stored = runtime.ingestor.store_readings(entity_id, None, readings)
        report.stored += stored
        report.duplicates += len(readings) - stored
