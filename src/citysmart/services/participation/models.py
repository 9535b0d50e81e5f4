"""The participation service's tables (each group in its own module, all imported here)."""

from __future__ import annotations

from citysmart.services.participation.models_budget import *  # noqa: F403
from citysmart.services.participation.models_process import Follow, Phase, Process
from citysmart.services.participation.models_proposal import *  # noqa: F403
from citysmart.services.participation.models_sandbox import *  # noqa: F403
from citysmart.services.participation.models_talk import *  # noqa: F403

__all__ = ["Follow", "Phase", "Process"]
