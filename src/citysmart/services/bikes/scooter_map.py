"""The e-scooter scenario's map as a self-contained SVG (no tiles, no scripts).

Dong outlines in grey, stations as dark dots, cells far from any station shaded from red
(no scooter expected within reach) to green (one almost surely within reach), with a
legend in Korean and English; the cells' colour is never the only cue, the legend names
the scale and the report gives the figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import numpy as np

from citysmart.core.admin_areas import AdminArea
from citysmart.services.bikes.scooters import (
    CELL_M,
    M_PER_DEG_LAT,
    M_PER_DEG_LON,
    CityCells,
    CoverageOutcome,
)
from citysmart.services.bikes.simulation import SimStation

WIDTH = 900


def _rings(area: AdminArea) -> list[list[tuple[float, float]]]:
    """Outer rings of an area's (multi)polygon."""
    geometry = area.geojson
    polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [
        geometry["coordinates"]
    ]  # fmt: skip
    return [[(float(x), float(y)) for x, y in polygon[0]] for polygon in polygons]


def _colour(probability: float) -> str:
    """Red (0) through amber to green (1)."""
    red = int(round(215 - 170 * probability))
    green = int(round(48 + 130 * probability))
    return f"#{red:02x}{green:02x}3c"


def scenario_svg(
    areas: Sequence[AdminArea],
    stations: Sequence[SimStation],
    cells: CityCells,
    result: CoverageOutcome,
    title: str,
) -> str:
    """Draw the scenario: areas, stations, far cells by the chance of a scooter nearby."""
    xs = [x for a in areas for ring in _rings(a) for x, _ in ring]
    ys = [y for a in areas for ring in _rings(a) for _, y in ring]
    west, east, south, north = min(xs), max(xs), min(ys), max(ys)
    scale = WIDTH / ((east - west) * M_PER_DEG_LON)  # pixels per metre
    height = int((north - south) * M_PER_DEG_LAT * scale) + 1

    def px(lon: float, lat: float) -> tuple[float, float]:
        return (
            round((lon - west) * M_PER_DEG_LON * scale, 1),
            round((north - lat) * M_PER_DEG_LAT * scale, 1),
        )

    cell_px = max(CELL_M * scale, 1.0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height + 60}" '
        f'width="{WIDTH}" height="{height + 60}" role="img" aria-labelledby="t">',
        f'<title id="t">{escape(title)}</title>',
        '<rect width="100%" height="100%" fill="#ffffff"/>',
    ]
    for i in np.flatnonzero(result.far_cells):
        x, y = px(float(cells.lon[i]), float(cells.lat[i]))
        parts.append(
            f'<rect x="{x - cell_px / 2:.1f}" y="{y - cell_px / 2:.1f}" width="{cell_px:.1f}" '
            f'height="{cell_px:.1f}" fill="{_colour(float(result.cover_probability[i]))}" '
            'fill-opacity="0.75"/>'
        )
    for area in areas:
        for ring in _rings(area):
            points = " ".join(f"{x},{y}" for x, y in (px(lon, lat) for lon, lat in ring))
            parts.append(f'<polygon points="{points}" fill="none" stroke="#555" stroke-width="1"/>')
    for station in stations:
        x, y = px(station.lon, station.lat)
        parts.append(f'<circle cx="{x}" cy="{y}" r="1.6" fill="#1a1a1a"/>')
    legend_y = height + 18
    parts.append(
        f'<text x="10" y="{legend_y}" font-family="sans-serif" font-size="13">'
        "Far from any station (&gt; 500 m), chance of a scooter within 300 m / "
        "대여소에서 500 m 넘게 떨어진 곳, 300 m 안에 킥보드가 있을 확률</text>"
    )
    for k, probability in enumerate((0.0, 0.25, 0.5, 0.75, 1.0)):
        x = 10 + k * 90
        parts.append(
            f'<rect x="{x}" y="{legend_y + 10}" width="18" height="14" '
            f'fill="{_colour(probability)}"/>'
            f'<text x="{x + 24}" y="{legend_y + 22}" font-family="sans-serif" '
            f'font-size="12">{round(probability * 100)} %</text>'
        )
    parts.append(
        f'<circle cx="480" cy="{legend_y + 17}" r="3" fill="#1a1a1a"/>'
        f'<text x="490" y="{legend_y + 22}" font-family="sans-serif" font-size="12">'
        "station / 대여소</text></svg>"
    )
    return "\n".join(parts)
