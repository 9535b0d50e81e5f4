"""The opinion channel (ideas and complaints) and regulatory-sandbox projects."""

from __future__ import annotations
