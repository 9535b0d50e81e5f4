"""Decode Chromium's screenshots to pixels (for the map tests' colour checks)."""

from __future__ import annotations

import struct
import zlib

import numpy as np


def decode_png(data: bytes) -> np.ndarray:
    """Decode an 8-bit non-interlaced RGB(A) PNG, as Chromium's screenshots are, to RGB."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
    assert header is not None, "no IHDR"
    width, height, depth, colour, _, _, interlace = header
    assert (depth, interlace) == (8, 0), header
    assert colour in (2, 6), header
    bpp = 3 if colour == 2 else 4
    rows = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, 1 + width * bpp)
    out = np.zeros((height, width * bpp), np.int64)
    previous = np.zeros(width * bpp, np.int64)
    for y in range(height):
        kind, line = int(rows[y, 0]), rows[y, 1:].astype(np.int64)
        if kind == 0:
            row = line
        elif kind == 1:  # Sub: a running sum per channel
            row = np.cumsum(line.reshape(width, bpp), axis=0).reshape(-1) & 0xFF
        elif kind == 2:  # Up
            row = (line + previous) & 0xFF
        else:  # Average or Paeth: each byte depends on the one before it
            row = np.zeros_like(line)
            for x in range(width * bpp):
                a = int(row[x - bpp]) if x >= bpp else 0
                b = int(previous[x])
                if kind == 3:
                    guess = (a + b) >> 1
                else:
                    c = int(previous[x - bpp]) if x >= bpp else 0
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    guess = a if pa <= pb and pa <= pc else b if pb <= pc else c
                row[x] = (int(line[x]) + guess) & 0xFF
        out[y] = row
        previous = row
    return out.reshape(height, width, bpp)[:, :, :3].astype(np.uint8)
