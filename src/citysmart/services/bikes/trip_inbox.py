"""The trip import folder: back-office exports dropped in a folder are imported by a job.

Operators' systems deliver the day's trips as CSV files (the ``import-trips`` format) into
``<data dir>/bikes/trip-inbox/``. The job imports each ``*.csv`` there, oldest first, all
or nothing per file, and moves it to ``done/`` or, when it is refused, to ``rejected/``
beside a ``.error.txt`` that says why, so no file is imported twice or silently dropped.
Files still being written should carry another suffix until complete.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from citysmart.core.service import Job
from citysmart.hub.runtime import HubRuntime
from citysmart.services.bikes.trip_import import TripImportError, import_trips

logger = logging.getLogger(__name__)
INBOX = Path("bikes") / "trip-inbox"
EVERY_S = 60.0


@dataclass
class InboxReport:
    """What one pass over the folder did."""

    imported: dict[str, int] = field(default_factory=dict)  # file -> trips stored
    rejected: dict[str, str] = field(default_factory=dict)  # file -> why


def _move(path: Path, folder: str) -> Path:
    target = path.parent / folder
    target.mkdir(exist_ok=True)
    destination = target / path.name
    stem, number = path.stem, 1
    while destination.exists():  # a second delivery with the same name keeps both
        destination = target / f"{stem}.{number}{path.suffix}"
        number += 1
    return path.replace(destination)


def import_inbox(runtime: HubRuntime, inbox: Path | None = None) -> InboxReport:
    """Import every CSV file waiting in the trip inbox."""
    folder = inbox or runtime.settings.data_dir / INBOX
    report = InboxReport()
    if not folder.is_dir():
        return report
    for path in sorted(folder.glob("*.csv"), key=lambda p: (p.stat().st_mtime, p.name)):
        try:
            result = import_trips(runtime.sessions, path)
        except TripImportError as exc:
            moved = _move(path, "rejected")
            moved.with_name(moved.name + ".error.txt").write_text(f"{exc}\n", encoding="utf-8")
            report.rejected[path.name] = str(exc)
            logger.warning("bikes: trip file %s refused: %s", path.name, exc)
            continue
        _move(path, "done")
        report.imported[path.name] = result.stored
        logger.info("bikes: %s imported, %d trips stored", path.name, result.stored)
    return report


def inbox_job(context: Any) -> None:
    """Import the waiting trip files (the runner passes the hub's runtime)."""
    import_inbox(context)


INBOX_JOBS = (Job("bikes.trip_inbox", inbox_job, EVERY_S),)
