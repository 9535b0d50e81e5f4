"""``citysmart air ...``: the fine-dust service's commands."""

from __future__ import annotations

import click


@click.group()
def air() -> None:
    """Fine-dust map: evaluate interpolation and forecasts on real data."""
