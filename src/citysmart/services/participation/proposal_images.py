"""Proposal images: JPEG or PNG in, re-encoded without metadata (no EXIF, no GPS) out."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Final

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_UPLOAD_BYTES: Final = 5 * 1024 * 1024
MAX_PIXELS: Final = 40_000_000  # refuse decompression bombs before decoding
MAX_SIDE: Final = 1600  # stored images are scaled down to fit
MAX_IMAGES: Final = 4  # per proposal
_FORMATS: Final = {"JPEG": "image/jpeg", "PNG": "image/png"}


class ImageError(ValueError):
    """An upload that is not an acceptable image, with the reason."""


@dataclass(frozen=True, slots=True)
class CleanImage:
    """A re-encoded image, ready to store."""

    content_type: str
    width: int
    height: int
    data: bytes


def clean_image(raw: bytes) -> CleanImage:
    """Decode a JPEG or PNG and encode it again from its pixels only.

    Only the pixels are kept: EXIF (with its GPS position), XMP, ICC profiles and text
    chunks are dropped. The EXIF orientation is applied first so the picture stays upright.
    """
    if not raw:
        raise ImageError("the image is empty")
    if len(raw) > MAX_UPLOAD_BYTES:
        raise ImageError(f"the image is {len(raw)} bytes; at most {MAX_UPLOAD_BYTES}")
    try:
        with Image.open(io.BytesIO(raw)) as probe:
            kind = probe.format or ""
            if kind not in _FORMATS:
                raise ImageError(f"only JPEG and PNG images are accepted, not {kind or 'this'}")
            if probe.width * probe.height > MAX_PIXELS:
                raise ImageError(f"the image is {probe.width}x{probe.height}; too many pixels")
            probe.load()
            upright = ImageOps.exif_transpose(probe)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ImageError("the file is not a readable JPEG or PNG image") from exc
    mode = "RGB" if kind == "JPEG" else ("RGBA" if "A" in upright.getbands() else "RGB")
    pixels = Image.new(mode, upright.size)
    pixels.paste(upright.convert(mode))
    pixels.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    if kind == "JPEG":
        pixels.save(out, "JPEG", quality=85, optimize=True)
    else:
        pixels.save(out, "PNG", optimize=True)
    return CleanImage(_FORMATS[kind], pixels.width, pixels.height, out.getvalue())
