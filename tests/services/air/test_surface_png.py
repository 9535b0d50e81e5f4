"""Surface PNGs: valid files, grade colours at every breakpoint, Mercator rows, transparency."""

from __future__ import annotations

import math

import numpy as np
import pytest

from citysmart.services.air.grades import TABLES, grade
from citysmart.services.air.surface_png import (
    SHADES,
    colour_indices,
    encode_indexed_png,
    mercator_rows,
    palette,
    render_surface,
)
from citysmart.services.air.types import Pollutant
from tests.services.air.factories import decode_png


@pytest.mark.parametrize("pollutant", [Pollutant.PM10, Pollutant.PM25])
def test_every_value_takes_its_grades_colour(pollutant: Pollutant) -> None:
    edges = [b.lo for b in TABLES[("kr", pollutant)]] + [b.hi for b in TABLES[("kr", pollutant)]]
    values = sorted({e + d for e in edges for d in (-1.0, -0.01, 0.0, 0.5, 0.99) if e + d >= 0})
    values += [1000.0, 0.0]
    indices = colour_indices(values, pollutant)
    for value, index in zip(values, indices, strict=True):
        level = (int(index) - 1) // SHADES + 1
        assert level == grade(value, pollutant).level, value
    # Deeper shades for higher values within one band.
    low, high = colour_indices([16.0, 35.0], Pollutant.PM25)
    assert (low - 1) // SHADES == (high - 1) // SHADES
    assert high > low


def test_missing_cells_are_transparent_and_the_palette_holds_the_grade_colours() -> None:
    assert colour_indices([math.nan], Pollutant.PM25).tolist() == [0]
    colours = palette(Pollutant.PM25)
    assert len(colours) == 1 + 4 * SHADES <= 256
    # The deepest shade of each band is the grade's own colour.
    for band in TABLES[("kr", Pollutant.PM25)]:
        red, green, blue = (int(band.colour[i : i + 2], 16) for i in (1, 3, 5))
        assert colours[band.level * SHADES] == (red, green, blue)


def test_png_round_trip() -> None:
    image = np.array([[0, 1, 2], [3, 2, 1]], dtype=np.uint8)
    data = encode_indexed_png(image, [(0, 0, 0), (255, 0, 0), (0, 255, 0), (0, 0, 255)], [0, 255])
    indices, colours, alpha = decode_png(data)
    assert indices.tolist() == image.tolist()
    assert colours[3] == (0, 0, 255)
    assert alpha == bytes([0, 255])
    with pytest.raises(ValueError, match="past the palette"):
        encode_indexed_png(image, [(0, 0, 0)], [0])


def test_mercator_rows_put_the_north_on_top_and_follow_web_mercator() -> None:
    south, north = 36.4, 38.4  # a tall span, where Mercator's stretch shows clearly
    rows = mercator_rows(900, south, north)
    assert rows[0] == 899
    assert rows[-1] == 0
    assert (np.diff(rows) <= 0).all()
    # The image's middle row stands for the latitude halfway in Mercator y, which lies
    # north of the middle latitude (Mercator stretches the north).
    y = [math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) for lat in (south, north)]
    middle = math.degrees(2 * math.atan(math.exp((y[0] + y[1]) / 2)) - math.pi / 2)
    assert middle > (south + north) / 2
    expected = (middle - south) / (north - south) * 900
    assert abs(int(rows[450]) - expected) <= 1.5
    assert rows[450] > 899 - 450


def test_render_surface_is_north_up_and_transparent_outside() -> None:
    raster = np.full((4, 3), np.nan, dtype=np.float32)
    raster[0, :] = 10.0  # southern row: good
    raster[3, :] = 100.0  # northern row: very unhealthy for PM2.5
    indices, _, _ = decode_png(render_surface(raster, "pm25", 36.4, 36.7))
    assert indices.shape == (4, 3)
    assert ((indices[0] - 1) // SHADES + 1).tolist() == [4, 4, 4]  # top of the image: north
    assert ((indices[-1] - 1) // SHADES + 1).tolist() == [1, 1, 1]
    assert (indices[1:3] == 0).all()
    with pytest.raises(ValueError, match="north"):
        render_surface(raster, "pm25", 36.7, 36.4)
