"""``citysmart bikes evaluate`` on a slice of Seoul's real file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from citysmart.core.paths import data_dir
from citysmart.services.bikes.cli import bikes

SEOUL_FILE = data_dir() / "seoul-bike-sharing-demand" / "SeoulBikeData.csv"
SCORED = ("day_ahead", "hour_ahead", "hour_of_week_mean", "last_4_weeks_mean")


@pytest.fixture(scope="module")
def seoul_slice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 July to 7 September 2018: train on 20 July – 31 August, test on 1–7 September."""
    lines = SEOUL_FILE.read_text(encoding="utf-8").splitlines()
    first = 1 + 231 * 24  # 20 July 2018 is day 231 from 1 December 2017
    assert lines[first].startswith("20/07/2018,")
    path = tmp_path_factory.mktemp("seoul") / "slice.csv"
    path.write_text("\n".join([lines[0], *lines[first : first + 50 * 24]]) + "\n")
    return path


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(bikes, ["evaluate", *args])
    return result.exit_code, result.output


def test_json_has_every_figure(seoul_slice: Path) -> None:
    code, output = _run(
        "--data", str(seoul_slice), "--validation-days", "10", "--seeds", "1", "--json"
    )
    assert code == 0, output
    report = json.loads(output)
    for key in SCORED:
        assert set(report[key]) == {"rmse", "mae", "r2"}
        assert report[key]["rmse"] >= report[key]["mae"] > 0
    assert report["test"].startswith("2018-09-01 00:00")
    assert report["train"].endswith("2018-08-31 23:00")
    assert "observed weather" in report["weather"]
    assert (
        report["selection"]["day_ahead"]["target"]
        in report["selection"]["day_ahead"]["validation_rmse"]
    )
    # The model, with recent counts, beats the flat hour-of-week mean of the training hours.
    assert report["hour_ahead"]["rmse"] < report["hour_of_week_mean"]["rmse"]


def test_text_table_names_methods_and_notes(seoul_slice: Path) -> None:
    code, output = _run("--data", str(seoul_slice), "--validation-days", "10", "--seeds", "1")
    assert code == 0, output
    for label in ("day-ahead", "hour-ahead", "hour-of-week mean", "last 4 weeks", "RMSE", "R²"):
        assert label in output
    assert "observed weather stands in for the weather forecast" in output
    assert "issued at 00:00" in output


def test_missing_file_fails_with_its_name(tmp_path: Path) -> None:
    code, output = _run("--data", str(tmp_path / "nope.csv"))
    assert code != 0
    assert "nope.csv not found" in output


def test_wrong_csv_fails_naming_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n")
    code, output = _run("--data", str(path))
    assert code != 0
    assert "missing columns" in output
    assert "Rented Bike Count" in output


def test_test_period_outside_the_data_is_refused(seoul_slice: Path) -> None:
    code, output = _run("--data", str(seoul_slice), "--test-from", "2019-01-01")
    assert code != 0
    assert "nothing to test on" in output
