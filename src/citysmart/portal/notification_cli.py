"""``citysmart notifications ...``: send the email digests now."""

from __future__ import annotations

import click


@click.group()
def notifications() -> None:
    """In-portal notifications and their email digests."""


@notifications.command("send-digest")
def send_digest_command() -> None:
    """Email each due user their new notifications now (what the hourly job does)."""
    from citysmart.core.config import InsecureSettingsError, get_settings
    from citysmart.core.digest import send_digests
    from citysmart.hub.runtime import HubRuntime

    settings = get_settings()
    try:
        settings.check_production()
    except InsecureSettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    runtime = HubRuntime.create(settings)
    try:
        runtime.migrate()
        count = send_digests(runtime.sessions, settings)
    finally:
        runtime.stop()
    click.echo(f"digests sent: {count}")
