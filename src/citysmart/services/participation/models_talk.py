"""Comments (threaded, voted up and down), debates, reports and moderation actions."""

from __future__ import annotations
