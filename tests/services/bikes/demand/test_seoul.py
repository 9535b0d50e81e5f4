"""Reading Seoul's UCI file: off hours are unknown demand, bad files say what is wrong."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from citysmart.core.paths import data_dir
from citysmart.services.bikes.demand.seoul import SEOUL_TZ, SeoulDataError, load_seoul

SEOUL_FILE = data_dir() / "seoul-bike-sharing-demand" / "SeoulBikeData.csv"


def _slice(tmp_path: Path, first: int, rows: int) -> Path:
    lines = SEOUL_FILE.read_text(encoding="utf-8").splitlines()
    path = tmp_path / "slice.csv"
    path.write_text("\n".join([lines[0], *lines[1 + first : 1 + first + rows]]) + "\n")
    return path


def test_loads_hours_in_seoul_time(tmp_path: Path) -> None:
    data = load_seoul(_slice(tmp_path, 0, 48))
    assert len(data.times) == 48
    assert data.times[0].tzinfo == SEOUL_TZ
    assert (data.times[0].year, data.times[0].month, data.times[0].day) == (2017, 12, 1)
    assert data.counts[0] == 254


def test_hours_with_the_system_off_have_unknown_counts(tmp_path: Path) -> None:
    # 11 April 2018 is a whole day with 'Functioning Day' = No.
    first = (31 + 31 + 28 + 31 + 10) * 24
    data = load_seoul(_slice(tmp_path, first - 24, 72))
    assert (data.times[24].month, data.times[24].day) == (4, 11)
    assert not data.functioning[24:48].any()
    assert np.isnan(data.counts[24:48]).all()
    assert np.isfinite(data.counts[:24]).all()


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SeoulDataError, match="not found"):
        load_seoul(tmp_path / "nothing.csv")


def test_missing_columns_are_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("Date,Hour\n1/12/2017,0\n")
    with pytest.raises(SeoulDataError, match="missing columns.*Rented Bike Count"):
        load_seoul(path)


def test_bad_row_gives_its_line(tmp_path: Path) -> None:
    path = _slice(tmp_path, 0, 30)
    lines = path.read_text().splitlines()
    lines[5] = lines[5].replace(",Yes", ",Maybe")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SeoulDataError, match=r":6: bad row .*Maybe"):
        load_seoul(path)


def test_gap_in_hours_is_refused(tmp_path: Path) -> None:
    path = _slice(tmp_path, 0, 30)
    lines = path.read_text().splitlines()
    del lines[10]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SeoulDataError, match="not consecutive"):
        load_seoul(path)
