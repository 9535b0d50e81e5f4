"""``citysmart residents ...``: import the census, issue verification codes."""

from __future__ import annotations

import click


@click.group()
def residents() -> None:
    """Verify residents: census import and one-time codes."""
