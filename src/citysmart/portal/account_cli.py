"""``citysmart residents ...``: import the census, issue verification codes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from citysmart.hub.runtime import HubRuntime


def _runtime() -> HubRuntime:
    """Open the hub's store (migrated), refusing production with development defaults."""
    from citysmart.core.config import InsecureSettingsError, get_settings
    from citysmart.hub.runtime import HubRuntime

    settings = get_settings()
    try:
        settings.check_production()
    except InsecureSettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    runtime = HubRuntime.create(settings)
    runtime.migrate()
    return runtime


@click.group()
def residents() -> None:
    """Verify residents: census import and one-time codes."""


@residents.command("import-census")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--actor", default="cli", help="Who imports, for the audit log.")
def import_census_command(file: Path, actor: str) -> None:
    """Import a census CSV (name, birth_date, address_code), all or nothing.

    Only keyed digests are stored (the key comes from CITYSMART_SECRET_KEY, so changing
    that key means importing the census again).
    """
    from citysmart.core.census import CensusError
    from citysmart.core.verification import import_census

    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{file}: not UTF-8 text ({exc.reason})") from exc
    runtime = _runtime()
    try:
        with runtime.sessions.begin() as session:
            result = import_census(session, text, runtime.settings.secret_key, actor)
    except CensusError as exc:
        raise click.ClickException(f"{file}: nothing imported: {exc}") from exc
    finally:
        runtime.stop()
    click.echo(f"census: {result.added} records added, {result.known} already stored")


@residents.command("issue-code")
@click.option("--for", "for_username", default=None, help="Only this user may use the code.")
@click.option("--expires-days", default=30, show_default=True, type=int, help="Lifetime.")
@click.option("--actor", default="cli", help="Who issues, for the audit log.")
def issue_code_command(for_username: str | None, expires_days: int, actor: str) -> None:
    """Print a new one-time verification code (last line; it is not shown again)."""
    from citysmart.core.accounts import AccountError
    from citysmart.core.verification import issue_code

    runtime = _runtime()
    try:
        with runtime.sessions.begin() as session:
            code, row = issue_code(session, actor, for_username, expires_days)
            expires = row.expires_at
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        runtime.stop()
    who = f" for {for_username}" if for_username else ""
    click.echo(f"one-time code{who}, valid until {expires:%Y-%m-%d %H:%M} UTC:", err=True)
    click.echo(code)
