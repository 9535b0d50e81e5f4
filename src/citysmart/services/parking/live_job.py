"""Write each lot's live view back onto its hub entity, for NGSI-LD and open-data readers.

Every minute, each lot's ``availableSpotNumber`` (count) and ``status`` are stored as
readings of its ``OffStreetParking`` entity, dated by the feed's observedAt (or the
correction's time, when that is newer), so the history holds one value per change, not
one per run. A lot whose feed is flagged gets ``status`` ``unknown`` (a FIWARE value),
dated now and written only when its published status is not already ``unknown``, and no
``availableSpotNumber``: a flagged number is never published.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Final

from citysmart.core.service import Job
from citysmart.core.time import utcnow
from citysmart.core.types import to_micros
from citysmart.hub.queries import latest_values
from citysmart.hub.runtime import HubRuntime
from citysmart.hub.senml import Reading
from citysmart.services.parking.live import LiveView, live_view
from citysmart.services.parking.lots import read_feeds

logger = logging.getLogger(__name__)
EVERY_S: Final = 60.0


def readings_of(view: LiveView, now: dt.datetime) -> list[Reading]:
    """Return the readings that publish a lot's live view."""
    if not view.trusted or view.free is None or view.last_updated is None:
        return [Reading("status", to_micros(now), None, "unknown", "s", None)]
    when = view.last_updated
    if view.correction is not None and view.correction.at > when:
        when = view.correction.at
    t_us = to_micros(when)
    return [
        Reading("availableSpotNumber", t_us, float(view.free), None, "n", "count"),
        Reading("status", t_us, None, view.status, "s", None),
    ]


def publish_live(runtime: HubRuntime, now: dt.datetime | None = None) -> int:
    """Store every lot's live view on its entity; return how many readings were new."""
    now = now or utcnow()
    with runtime.sessions() as session:
        views = [live_view(feed, now) for feed in read_feeds(session)]
        published = latest_values(session, [v.entity_id for v in views])
    stored = 0
    for view in views:
        status = published.get(view.entity_id, {}).get("status", {}).get("value")
        if not view.trusted and status == "unknown":
            continue
        stored += runtime.ingestor.store_readings(view.entity_id, None, readings_of(view, now))
    logger.debug("parking: published %d lots (%d new readings)", len(views), stored)
    return stored


def live_job(context: Any) -> None:
    """Publish the lots' live views (the runner passes the hub's runtime)."""
    publish_live(context)


LIVE_JOBS = (Job("parking.live", live_job, EVERY_S),)
