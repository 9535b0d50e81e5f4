"""Time helpers: aware UTC in storage, ISO 8601 in and out, durations."""

from __future__ import annotations

import datetime as dt
import re

_SIMPLE_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|min|h|d|w)$")
_ISO_DURATION = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def utcnow() -> dt.datetime:
    """Return the current aware UTC time."""
    return dt.datetime.now(dt.UTC)


def parse_instant(text: str) -> dt.datetime:
    """Parse an ISO 8601 instant; a time without an offset is refused, not guessed."""
    cleaned = text.strip().replace(" ", "+") if text.strip().count(" ") == 1 else text.strip()
    try:
        value = dt.datetime.fromisoformat(cleaned.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"not an ISO 8601 time: {text!r}") from exc
    if value.tzinfo is None:
        raise ValueError(f"time {text!r} has no UTC offset (add Z or +09:00)")
    return value.astimezone(dt.UTC)


def parse_duration(text: str) -> dt.timedelta:
    """Parse ``15m``, ``1h``, ``1d`` or an ISO 8601 duration such as ``PT15M``."""
    text = text.strip()
    simple = _SIMPLE_DURATION.match(text)
    if simple:
        seconds = float(simple.group(1)) * _UNIT_SECONDS[simple.group(2)]
    else:
        iso = _ISO_DURATION.match(text.upper())
        if not iso or text.upper() in ("P", "PT"):
            raise ValueError(f"not a duration: {text!r} (use 15m, 1h, 1d or PT15M)")
        parts = {k: float(v) for k, v in iso.groupdict().items() if v}
        seconds = (
            parts.get("w", 0) * 604800
            + parts.get("d", 0) * 86400
            + parts.get("h", 0) * 3600
            + parts.get("m", 0) * 60
            + parts.get("s", 0)
        )
    if seconds <= 0:
        raise ValueError(f"duration must be positive: {text!r}")
    return dt.timedelta(seconds=seconds)


def isoformat(value: dt.datetime) -> str:
    """Format an aware instant as ISO 8601 UTC with a Z."""
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
