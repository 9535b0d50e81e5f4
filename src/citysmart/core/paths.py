"""Where the project's shipped data lives."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    """Return the folder of shipped data sets (``CITYSMART_SHARE_DIR`` overrides it)."""
    override = os.environ.get("CITYSMART_SHARE_DIR")
    if override:
        return Path(override)
    # src/citysmart/core/paths.py -> the repository's data/ (the project installs editable)
    return Path(__file__).resolve().parents[3] / "data"
