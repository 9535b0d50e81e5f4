import json
from pathlib import Path

from click.testing import CliRunner

from citysmart.services.air.cli import air


def test_evaluate_json_is_one_object_with_every_figure():
    result = CliRunner().invoke(air, ["evaluate", "--hours", "4", "--seed", "3", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert "Beijing" in report["data"]
    assert "Sejong" not in report["data"]
    assert report["sample"] == {"hours": 4, "seed": 3}
    assert report["hours_evaluated"] == 4
    assert set(report["spatial"]) == {"nearest", "idw", "kriging", "served", "city_mean"}
    for scores in report["spatial"].values():
        assert set(scores) == {"rmse", "mae", "r2", "count"}
        assert scores["rmse"] >= scores["mae"] >= 0
    assert {"gap_fill", "idw", "persistence", "paths", "rmse_ratio_to_idw"} <= set(
        report["gap_fill"]
    )
    assert len(report["stations"]) == 12


def test_evaluate_prints_a_table_labelled_as_beijings_data():
    result = CliRunner().invoke(air, ["evaluate", "--hours", "2", "--no-gap-fill"])
    assert result.exit_code == 0, result.output
    assert "Beijing" in result.stdout
    for method in ("nearest", "idw", "kriging", "served", "city_mean"):
        assert method in result.stdout
    assert "Gap fill" not in result.stdout


def test_evaluate_with_a_missing_folder_says_so(tmp_path: Path):
    result = CliRunner().invoke(air, ["evaluate", "--data", str(tmp_path / "nowhere")])
    assert result.exit_code != 0
    assert "nowhere" in result.output
