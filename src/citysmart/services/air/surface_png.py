"""Draw a surface as a PNG for a web map: Korean grade colours, transparent outside the city.

The PNG is written with numpy and zlib alone (PNG 1.2: an indexed-colour image, ``PLTE``
and ``tRNS`` chunks): palette index 0 is fully transparent (outside the boundary), then
:data:`SHADES` shades of each of Korea's four grade colours. A cell takes its grade's hue
(the grade never depends on the shade) and a shade that deepens from the lower to the
upper edge of its band, so the surface shows its gradient inside a grade too; the page
names the grades in text as well, so colour never carries them alone.

Geometry: the raster's rows run south to north, evenly spaced in latitude. Leaflet's
``L.imageOverlay`` stretches an image over its bounds in Web Mercator, where rows evenly
spaced in latitude are not evenly spaced (about 0.4 % across Sejong's 0.33°): each image
row is therefore taken from the raster row at the latitude that Mercator row stands for,
so the image lies exactly on the map. The image is north up and covers exactly the bounds.
"""

from __future__ import annotations

import math
import struct
import zlib

import numpy as np
import numpy.typing as npt

from citysmart.services.air.grades import TABLES
from citysmart.services.air.types import Pollutant, as_pollutant

SHADES = 16
# How much white the lowest shade of a band mixes in (0 = the band's colour itself).
_LIGHTEST = 0.45
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
UInt8Array = npt.NDArray[np.uint8]


def _rgb(colour: str) -> tuple[int, int, int]:
    """Parse ``#rrggbb``."""
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def palette(pollutant: Pollutant | str) -> list[tuple[int, int, int]]:
    """Return the palette: index 0 (transparent), then SHADES shades per grade, light to deep."""
    bands = TABLES[("kr", as_pollutant(pollutant))]
    colours = [(0, 0, 0)]
    for band in bands:
        red, green, blue = _rgb(band.colour)
        for shade in range(SHADES):
            white = _LIGHTEST * (1 - shade / (SHADES - 1))
            colours.append(
                (
                    round(red + (255 - red) * white),
                    round(green + (255 - green) * white),
                    round(blue + (255 - blue) * white),
                )
            )
    return colours


def colour_indices(values: npt.ArrayLike, pollutant: Pollutant | str) -> UInt8Array:
    """Return each value's palette index (0 for NaN): its grade and its shade within the grade.

    Grades follow :func:`grades.grade` (concentrations truncated to whole µg/m³). Shades
    span each band's range (the top band's up to the scale's end: 500 µg/m³ of PM2.5,
    600 of PM10), so a very polluted hour still shows where it is worst.
    """
    bands = TABLES[("kr", as_pollutant(pollutant))]
    x = np.asarray(values, dtype=np.float64)
    missing = np.isnan(x)
    whole = np.floor(np.where(missing, 0.0, np.maximum(x, 0.0)) + 1e-9)
    starts = np.array([b.lo for b in bands])
    level = np.clip(np.searchsorted(starts[1:], whole, side="right"), 0, len(bands) - 1)
    lo = starts[level]
    widths = np.array([b.hi - b.lo + 1 for b in bands])
    position = np.clip((whole - lo) / widths[level], 0.0, 1.0)
    shade = np.minimum((position * SHADES).astype(np.int64), SHADES - 1)
    index = 1 + level * SHADES + shade
    return np.where(missing, 0, index).astype(np.uint8)


def _mercator_y(lat_deg: float) -> float:
    """Return the Web Mercator y (unitless) of a latitude."""
    lat = math.radians(lat_deg)
    return math.log(math.tan(math.pi / 4 + lat / 2))


def mercator_rows(rows: int, south: float, north: float) -> npt.NDArray[np.intp]:
    """Return, for each image row from the top, the raster row (south = 0) to show there."""
    top, bottom = _mercator_y(north), _mercator_y(south)
    centres = top + (np.arange(rows) + 0.5) / rows * (bottom - top)
    lat = np.degrees(2 * np.arctan(np.exp(centres)) - np.pi / 2)
    source = np.floor((lat - south) / (north - south) * rows).astype(np.intp)
    return np.clip(source, 0, rows - 1)


def _chunk(kind: bytes, data: bytes) -> bytes:
    """Return one PNG chunk: length, type, data, CRC of type and data."""
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def encode_indexed_png(
    indices: npt.ArrayLike, colours: list[tuple[int, int, int]], alpha: list[int], level: int = 6
) -> bytes:
    """Encode a (height, width) array of palette indices as an 8-bit indexed-colour PNG."""
    image = np.asarray(indices, dtype=np.uint8)
    if image.ndim != 2 or image.size == 0:
        raise ValueError("an image needs at least one row and one column")
    if not 0 < len(colours) <= 256 or len(alpha) > len(colours):
        raise ValueError("a palette holds 1 to 256 colours, alpha values for at most as many")
    if int(image.max()) >= len(colours):
        raise ValueError("an index points past the palette")
    height, width = image.shape
    header = struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0)
    raw = np.empty((height, width + 1), dtype=np.uint8)
    raw[:, 0] = 0  # filter type None on every row: flat areas compress well as they are
    raw[:, 1:] = image
    return b"".join(
        (
            _PNG_SIGNATURE,
            _chunk(b"IHDR", header),
            _chunk(b"PLTE", bytes(c for colour in colours for c in colour)),
            _chunk(b"tRNS", bytes(alpha)),
            _chunk(b"IDAT", zlib.compress(raw.tobytes(), level)),
            _chunk(b"IEND", b""),
        )
    )


def render_surface(
    raster: npt.ArrayLike, pollutant: Pollutant | str, south: float, north: float
) -> bytes:
    """Draw a raster (rows south to north, NaN outside the city) as a PNG for L.imageOverlay."""
    grid = np.asarray(raster, dtype=np.float64)
    if grid.ndim != 2:
        raise ValueError("a raster is a 2-D array")
    if not north > south:
        raise ValueError("north must lie north of south")
    rows = mercator_rows(grid.shape[0], south, north)
    indices = colour_indices(grid[rows], pollutant)
    colours = palette(pollutant)
    return encode_indexed_png(indices, colours, [0] + [255] * (len(colours) - 1))


__all__ = [
    "SHADES",
    "colour_indices",
    "encode_indexed_png",
    "mercator_rows",
    "palette",
    "render_surface",
]
