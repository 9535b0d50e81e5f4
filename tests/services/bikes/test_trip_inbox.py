"""Trip files dropped in the import folder are imported once, or set aside with the reason."""

from __future__ import annotations

import os
from pathlib import Path

from citysmart.hub.runtime import HubRuntime
from citysmart.services.bikes.store import count_trips
from citysmart.services.bikes.trip_inbox import import_inbox
from tests.services.bikes.factories import add_stations

HEADER = "bike_id,start_station,start_time,end_station,end_time\n"
GOOD = HEADER + (
    "B1,SJ001,2026-11-24T08:00:00+09:00,SJ002,2026-11-24T08:14:00+09:00\n"
    "B2,SJ002,2026-11-24T08:05:00+09:00,SJ003,2026-11-24T08:40:00+09:00\n"
)
BAD = HEADER + "B3,SJ001,2026-11-24T09:00:00+09:00,NOWHERE,2026-11-24T09:20:00+09:00\n"


def test_files_are_imported_once_and_bad_ones_set_aside(
    bikes_runtime: HubRuntime, tmp_path: Path
) -> None:
    add_stations(bikes_runtime)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "monday.csv").write_text(GOOD, encoding="utf-8")
    (inbox / "tuesday.csv").write_text(BAD, encoding="utf-8")
    os.utime(inbox / "tuesday.csv", (1, 1))  # older: imported first
    (inbox / "wednesday.csv.partial").write_text(GOOD, encoding="utf-8")  # still arriving

    report = import_inbox(bikes_runtime, inbox)

    assert report.imported == {"monday.csv": 2}
    assert list(report.rejected) == ["tuesday.csv"]
    assert "NOWHERE" in report.rejected["tuesday.csv"]
    assert (inbox / "done" / "monday.csv").read_text(encoding="utf-8") == GOOD
    assert (inbox / "rejected" / "tuesday.csv").exists()
    reason = (inbox / "rejected" / "tuesday.csv.error.txt").read_text(encoding="utf-8")
    assert "line 2" in reason
    assert "NOWHERE" in reason
    assert (inbox / "wednesday.csv.partial").exists()
    with bikes_runtime.sessions() as session:
        assert count_trips(session) == 2

    # The same export delivered again: nothing new stored, both copies kept in done/.
    (inbox / "monday.csv").write_text(GOOD, encoding="utf-8")
    again = import_inbox(bikes_runtime, inbox)
    assert again.imported == {"monday.csv": 0}
    assert sorted(p.name for p in (inbox / "done").iterdir()) == ["monday.1.csv", "monday.csv"]
    with bikes_runtime.sessions() as session:
        assert count_trips(session) == 2
    assert import_inbox(bikes_runtime, inbox).imported == {}


def test_no_folder_is_no_work(bikes_runtime: HubRuntime, tmp_path: Path) -> None:
    report = import_inbox(bikes_runtime, tmp_path / "missing")
    assert report.imported == {}
    assert report.rejected == {}
