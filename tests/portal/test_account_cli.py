"""``citysmart residents``: census import (all or nothing) and one-time codes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from citysmart.core.config import Settings, get_settings
from citysmart.core.verification import census_size, open_codes, verify_by_code
from citysmart.hub.runtime import HubRuntime
from citysmart.portal.account_cli import residents
from tests.core.accounts_factories import clear_account_tables, create_citizen

DODAM = "2901053"


@pytest.fixture
def cli_env(
    settings: Settings, runtime: HubRuntime, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Point the command's settings at the test database."""
    clear_account_tables(runtime)
    monkeypatch.setenv("CITYSMART_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CITYSMART_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CITYSMART_SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("CITYSMART_MQTT_INGEST", "0")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_import_census_is_all_or_nothing(
    cli_env: None, runtime: HubRuntime, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(f"name,birth_date,address_code\nA,1990-01-01,{DODAM}\nB,1990-01-01,9999\n")
    result = CliRunner().invoke(residents, ["import-census", str(bad)])
    assert result.exit_code == 1
    assert "line 3" in result.output
    assert "nothing imported" in result.output
    with runtime.sessions() as session:
        assert census_size(session) == (0, 0)
    good = tmp_path / "good.csv"
    good.write_text(f"name,birth_date,address_code\nA,1990-01-01,{DODAM}\n", encoding="utf-8")
    result = CliRunner().invoke(residents, ["import-census", str(good)])
    assert result.exit_code == 0, result.output
    assert "1 records added" in result.output
    with runtime.sessions() as session:
        assert census_size(session) == (1, 0)


def test_issue_code_prints_a_code_that_verifies(cli_env: None, runtime: HubRuntime) -> None:
    create_citizen(runtime, "minji")
    result = CliRunner().invoke(residents, ["issue-code", "--for", "minji", "--expires-days", "3"])
    assert result.exit_code == 0, result.output
    code = result.stdout.strip().splitlines()[-1]
    with runtime.sessions.begin() as session:
        assert len(open_codes(session)) == 1
        verify_by_code(session, "minji", code)
    result = CliRunner().invoke(residents, ["issue-code", "--for", "ghost"])
    assert result.exit_code == 1
    assert "no user 'ghost'" in result.output
