"""Scheduled work of proposals: deciding the votes whose voting phase has ended."""

from __future__ import annotations

import logging
from typing import Any, Final

from citysmart.core.service import Job
from citysmart.services.participation.vote_store import decide_due

logger = logging.getLogger(__name__)
DECIDE_EVERY_S: Final = 300.0


def decide_job(context: Any) -> None:
    """Decide the proposals whose process's voting is over (the runner passes the runtime)."""
    with context.sessions.begin() as session:
        decided = decide_due(session)
    if decided:
        logger.info("participation: decided %d proposals", len(decided))


JOBS: Final = (Job("participation.decide_votes", decide_job, DECIDE_EVERY_S),)
