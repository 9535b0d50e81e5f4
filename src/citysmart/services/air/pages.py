"""The public fine-dust map page (``GET /air``), drawn by static/air_map.js from the air API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from citysmart.core.auth import OptionalPrincipal
from citysmart.core.service import Page
from citysmart.portal.pages import render
from citysmart.services.air.grades import TABLES
from citysmart.services.air.types import Pollutant

router = APIRouter(include_in_schema=False)
PAGE = Page(path="/air", title="Fine-dust map", title_ko="미세먼지 지도")
API = "/api/v1/air"


def legend_bands() -> dict[str, list[dict[str, Any]]]:
    """Korea's grade bands per pollutant, for the page's legend and charts."""
    return {
        pollutant.value: [
            {
                "level": band.level,
                "key": band.key,
                "label_ko": band.label_ko,
                "label_en": band.label_en,
                "colour": band.colour,
                "lo": band.lo,
                # The top band is open-ended on screen: the table's last edge is no limit.
                "hi": band.hi if i < len(bands) - 1 else None,
            }
            for i, band in enumerate(bands)
        ]
        for pollutant in (Pollutant.PM25, Pollutant.PM10)
        for bands in (TABLES[("kr", pollutant)],)
    }


@router.get(PAGE.path)
def read_map_page(request: Request, principal: OptionalPrincipal) -> Response:
    """Show the public fine-dust map of Sejong."""
    return render(
        request,
        "air/air_map.html",
        principal,
        api=API,
        bands=legend_bands(),
        timezone=request.app.state.settings.timezone,
    )
