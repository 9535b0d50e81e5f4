"""The ``citysmart`` command, run as a newcomer runs it: a real process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from citysmart.hub.models import Observation
from citysmart.hub.runtime import HubRuntime


@pytest.fixture
def cli(database_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    env = {
        **os.environ,
        "CITYSMART_DATABASE_URL": database_url,
        "CITYSMART_DATA_DIR": str(tmp_path),
    }

    def run(
        *args: str, stdin: str | None = None, ok: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "citysmart", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        if ok:
            assert result.returncode == 0, result.stderr
        return result

    return run


def last_line(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout.strip().splitlines()[-1]


def test_users_and_devices_from_the_command_line(
    cli,
    client: TestClient,
    runtime: HubRuntime,  # type: ignore[no-untyped-def]
) -> None:
    cli("migrate")
    cli("users", "add", "op", "--role", "operator", "--password-stdin", stdin="a long password\n")
    token = last_line(cli("users", "token", "op", "--days", "7"))
    assert token.startswith("cst_")
    key = last_line(
        cli(
            "devices",
            "add",
            "aq-1",
            "--entity",
            "urn:ngsi-ld:AirQualityObserved:aq-1",
            "--type",
            "AirQualityObserved",
            "--lat",
            "36.51",
            "--lon",
            "127.25",
        )
    )
    assert key.startswith("csd_")

    listed = client.get("/api/v1/devices", headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200
    assert listed.json()[0]["id"] == "aq-1"
    stored = client.post(
        "/api/v1/ingest", json=[{"n": "pm10", "v": 9}], headers={"Authorization": f"Bearer {key}"}
    )
    assert stored.status_code == 202

    assert "aq-1" in cli("devices", "list").stdout
    cli("devices", "revoke", "aq-1")
    refused = client.post(
        "/api/v1/ingest", json=[{"n": "pm10", "v": 9}], headers={"Authorization": f"Bearer {key}"}
    )
    assert refused.status_code == 403
    cli("users", "revoke-tokens", "op")
    assert (
        client.get("/api/v1/devices", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )


def test_cli_errors_are_clear(cli) -> None:  # type: ignore[no-untyped-def]
    cli("migrate")
    result = cli("users", "add", "op", "--role", "mayor", "--no-password", ok=False)
    assert result.returncode != 0
    assert "unknown role 'mayor'" in result.stderr
    # A service's own role (the bikes service's truck drivers) is known to the CLI too.
    assert (
        "created with role bike_driver"
        in cli("users", "add", "kim", "--role", "bike_driver", "--no-password").stdout
    )
    result = cli("devices", "add", "d1", "--entity", "nope", "--type", "X", ok=False)
    assert result.returncode != 0
    assert "not a URN" in result.stderr
    result = cli("users", "token", "ghost", ok=False)
    assert "no user 'ghost'" in result.stderr


def test_mosquitto_acl_limits_devices_to_their_topic(cli) -> None:  # type: ignore[no-untyped-def]
    acl = cli("devices", "acl").stdout
    assert "pattern write citysmart/v1/devices/%u/senml" in acl
    assert "user citysmart-hub\ntopic read citysmart/v1/devices/+/senml" in acl


def test_production_mode_refuses_the_default_secret(cli) -> None:  # type: ignore[no-untyped-def]
    env = {**os.environ, "CITYSMART_ENVIRONMENT": "production"}
    env.pop("CITYSMART_SECRET_KEY", None)
    result = subprocess.run(
        [sys.executable, "-m", "citysmart", "migrate"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode != 0
    assert "CITYSMART_SECRET_KEY" in result.stderr


def test_import_loads_a_csv_through_the_same_validation(
    cli,
    runtime: HubRuntime,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    cli("migrate")
    cli(
        "devices",
        "add",
        "aq-1",
        "--entity",
        "urn:ngsi-ld:AirQualityObserved:aq-1",
        "--type",
        "AirQualityObserved",
    )
    csv_file = tmp_path / "history.csv"
    rows = ["entity,attribute,time,value,unit"]
    rows += [
        f"urn:ngsi-ld:AirQualityObserved:aq-1,pm10,2025-03-0{d}T0{h}:00:00+09:00,{10 + h},ug/m3"
        for d in range(1, 4)
        for h in range(6)
    ]
    rows += [
        "urn:ngsi-ld:AirQualityObserved:aq-1,pm10,2025-03-01T00:00:00+09:00,10,ug/m3",  # again
        "urn:ngsi-ld:AirQualityObserved:aq-1,pm10,2025-03-05T00:00:00+09:00,-5,ug/m3",
        "urn:ngsi-ld:AirQualityObserved:aq-1,pm10,2025-03-05T00:00:00,5,ug/m3",
        "urn:ngsi-ld:AirQualityObserved:aq-1,pm10,1741100000,abc,ug/m3",
        "urn:ngsi-ld:AirQualityObserved:aq-1,pm10,1741100000,nan,ug/m3",
        "urn:ngsi-ld:AirQualityObserved:nope,pm10,1741100000,5,ug/m3",
        "urn:ngsi-ld:AirQualityObserved:aq-1,status,1741100000,calibrating,",
    ]
    csv_file.write_text("\n".join(rows) + "\n", encoding="utf-8")
    rejects = tmp_path / "rejects.csv"
    result = cli("import", str(csv_file), "--rejects", str(rejects))
    assert "19 readings stored, 1 already there, 5 rows rejected" in result.stdout
    assert "importing history.csv" in result.stderr  # the progress bar
    reasons = rejects.read_text(encoding="utf-8")
    for words in (
        "below the physical minimum",
        "no UTC offset",
        "needs a number",
        "NaN or infinite",
        "unknown entity",
    ):
        assert words in reasons
    with runtime.sessions() as s:
        values = list(
            s.scalars(select(Observation.num_value).where(Observation.attribute == "pm10"))
        )
    assert len(values) == 18
    assert min(values) == 10


def test_import_refuses_a_file_without_the_header(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli("migrate")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    result = cli("import", str(bad), ok=False)
    assert result.returncode != 0
    assert "missing column(s) entity" in result.stderr


def test_serve_answers_healthz(tmp_path: Path) -> None:
    from tests.conftest import free_port

    port, mqtt_port = free_port(), free_port()
    env = {
        **os.environ,
        "CITYSMART_DATA_DIR": str(tmp_path),
        "CITYSMART_EMBEDDED_MQTT_PORT": str(mqtt_port),
    }
    env.pop("CITYSMART_DATABASE_URL", None)
    env.pop("CITYSMART_MQTT_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "citysmart", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        body = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                body = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json()
                if body.get("mqtt") == "ok":
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        assert body == {"status": "ok", "database": "ok", "mqtt": "ok"}
        assert (tmp_path / "citysmart.db").exists()
    finally:
        proc.terminate()
        proc.wait(10)
