"""Plain functions that put bikes test data in place, and the GBFS v3.0 schema check."""

from __future__ import annotations

import datetime as dt
import json
import re
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft7Validator, FormatChecker

from citysmart.core.paths import data_dir
from citysmart.hub.runtime import HubRuntime
from citysmart.services.bikes.stations import StationSpec, register_stations

SCHEMAS = data_dir() / "gbfs-json-schema-v3.0"
# RFC 3339 section 5.6 date-time (jsonschema checks this format only with an extra package).
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_FORMATS = FormatChecker()


def _is_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _RFC3339.match(value):
        return False
    try:  # the pattern admits impossible dates such as month 13
        dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return False
    return True


def _is_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme and parts.netloc)


_FORMATS.checks("date-time")(_is_datetime)
_FORMATS.checks("uri")(_is_uri)


@cache
def validator(feed: str) -> Draft7Validator:
    """Return a validator of one feed's official GBFS v3.0 schema, formats checked."""
    schema = json.loads((SCHEMAS / f"{feed}.json").read_text(encoding="utf-8"))
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema, format_checker=_FORMATS)


def schema_errors(feed: str, document: Any) -> list[str]:
    """Return every way a document breaks its feed's schema (empty when it is valid)."""
    return [
        f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message}"
        for e in validator(feed).iter_errors(document)
    ]


STATIONS = (
    StationSpec("SJ001", "세종시청", "Sejong City Hall", 127.2890, 36.4800, 20, "한누리대로 2130"),
    StationSpec("SJ002", "정부세종청사", "Government Complex Sejong", 127.2620, 36.5040, 15),
    StationSpec("SJ003", "조치원역", "Jochiwon Station", 127.2960, 36.6010, 10),
)


def add_stations(
    runtime: HubRuntime, specs: tuple[StationSpec, ...] = STATIONS
) -> dict[str, str | None]:
    """Register the test stations (hub entities and controller devices)."""
    return register_stations(runtime, list(specs))
