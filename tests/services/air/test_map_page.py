"""The map page's HTML and files, served through the portal's hooks for service pages."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html import unescape

import pytest
from fastapi.testclient import TestClient

from citysmart.core.config import Settings
from citysmart.core.service import ServiceManifest
from citysmart.portal.app import create_app
from citysmart.services.air import pages
from citysmart.services.air.grades import grade


@pytest.fixture
def client() -> Iterator[TestClient]:
    """The app with only the map page's router mounted (no database needed)."""
    manifest = ServiceManifest(
        name="air", title="Fine dust", router=pages.router, pages=(pages.PAGE,)
    )
    settings = Settings(database_url="sqlite://", mqtt_ingest=False)
    app = create_app(settings, services=[manifest], start_mqtt=False, migrate=False)
    with TestClient(app) as test_client:
        yield test_client


def test_the_map_page_is_public_and_uses_the_portal_layout(client: TestClient) -> None:
    response = client.get("/air")
    assert response.status_code == 200
    html = response.text
    assert 'class="brand"' in html  # the portal's header
    assert '<a href="/air" aria-current="page">Fine-dust map' in html  # the manifest's nav entry
    # The badge placement is loaded before the page's script, which uses it.
    groups = html.index('<script src="/static/services/air/air_map_groups.js"></script>')
    assert groups < html.index('<script src="/static/services/air/air_map.js"></script>')
    assert 'href="/static/services/air/air_map.css"' in html
    assert 'href="/static/vendor/leaflet/leaflet.css"' in html
    assert 'data-api="/api/v1/air"' in html
    assert 'data-timezone="Asia/Seoul"' in html
    # No inline script or style: the CSP forbids them.
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) is None
    assert "style=" not in html
    assert "<style" not in html
    assert "unsafe-inline" not in response.headers["content-security-policy"]


def test_the_legend_bands_grade_as_the_service_grades(client: TestClient) -> None:
    html = client.get("/air").text
    match = re.search(r"data-bands='([^']*)'", html)
    assert match, "the page carries no grade bands"
    bands = json.loads(unescape(match.group(1)))
    assert set(bands) == {"pm25", "pm10"}
    for pollutant, rows in bands.items():
        assert [row["level"] for row in rows] == [1, 2, 3, 4]
        assert rows[-1]["hi"] is None  # the worst band is open-ended on screen
        for row in rows:
            assert grade(row["lo"], pollutant).key == row["key"]
            if row["hi"] is not None:
                assert grade(row["hi"], pollutant).key == row["key"]
                assert grade(row["hi"] + 1, pollutant).level == row["level"] + 1
            assert row["label_ko"]
            assert row["label_en"]
            assert row["colour"].startswith("#")


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/static/services/air/air_map.js", "javascript"),
        ("/static/services/air/air_map_groups.js", "javascript"),
        ("/static/services/air/air_map.css", "text/css"),
    ],
)
def test_the_page_files_are_served(client: TestClient, path: str, kind: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert kind in response.headers["content-type"]
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "path",
    [
        "/static/services/air/missing.js",
        "/static/services/air/..%2Fpages.py",
        "/static/services/air/%2E%2E/pages.py",
        "/static/services/air/../../portal/app.py",
        "/static/services/nosuchservice/air_map.js",
    ],
)
def test_nothing_outside_a_services_static_folder_is_served(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert "import" not in response.text


def test_the_page_has_a_forecast_panel_and_a_notice_for_a_linked_area(client: TestClient) -> None:
    # /air?area=<code> is what alert e-mails link to: the page answers it like /air
    # (the script selects the area, or says the code is unknown in #area-notice).
    html = client.get("/air", params={"area": "2901053", "lang": "ko"}).text
    assert client.get("/air", params={"area": "2901053"}).status_code == 200
    panel = html[html.index('id="panel"') :]
    assert 'id="forecast"' in panel  # under the chart, in the selected area's panel
    assert 'id="forecast-body"' in panel
    assert re.search(r'<p class="air-notice" id="area-notice"[^>]*\bhidden\b', html)


def test_a_selected_sensors_24_hour_figures_sit_in_the_panel_above_its_chart(
    client: TestClient,
) -> None:
    html = client.get("/air").text
    panel = html[html.index('id="panel"') :]
    # Filled by the script when a sensor is selected; hidden until then.
    assert re.search(r'<dl id="day-figures"[^>]*\bhidden\b', panel)
    assert panel.index('id="day-figures"') < panel.index('id="chart"')
