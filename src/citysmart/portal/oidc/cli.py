"""``citysmart oidc ...``: register the city services that sign citizens in through the portal."""

from __future__ import annotations

import click


@click.group()
def oidc() -> None:
    """OpenID Connect clients (relying parties)."""
