"""/healthz says whether the app, the database and the broker connection are up."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from citysmart.core.config import Settings
from citysmart.portal.app import create_app
from tests.conftest import free_port


def test_healthz_is_ok_when_everything_is_up(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "mqtt": "disabled"}


def test_healthz_is_503_when_the_broker_is_unreachable(settings: Settings, tmp_path: Path) -> None:
    nowhere = settings.model_copy(
        update={"mqtt_url": f"mqtt://127.0.0.1:{free_port()}", "mqtt_ingest": True}
    )
    app = create_app(nowhere, services=[], migrate=False)
    with TestClient(app) as test_client:
        response = test_client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["database"] == "ok"
    assert body["mqtt"].startswith("down")


def test_healthz_is_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    settings = Settings(
        database_url="postgresql://nobody@127.0.0.1:1/none", mqtt_ingest=False, data_dir=tmp_path
    )
    app = create_app(settings, services=[], migrate=False)
    with TestClient(app) as test_client:
        response = test_client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"].startswith("down")
