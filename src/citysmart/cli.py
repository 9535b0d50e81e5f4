"""The ``citysmart`` command: serve, demo, migrate, users, devices, import."""

from __future__ import annotations

import getpass
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from citysmart.core.config import InsecureSettingsError, Settings, get_settings
from citysmart.portal.account_cli import residents
from citysmart.portal.notification_cli import notifications
from citysmart.portal.oidc.cli import oidc

if TYPE_CHECKING:
    from citysmart.hub.runtime import HubRuntime


def _settings() -> Settings:
    settings = get_settings()
    try:
        settings.check_production()
    except InsecureSettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    return settings


def _runtime() -> HubRuntime:
    from citysmart.hub.runtime import HubRuntime

    runtime = HubRuntime.create(_settings())
    runtime.migrate()
    return runtime


class _CityGroup(click.Group):
    """The top-level group: the hub's commands, then one group per service."""

    def _service_commands(self) -> dict[str, click.Command]:
        from citysmart.core.service import discover_services

        return {m.name: m.commands for m in discover_services() if m.commands is not None}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._service_commands()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        # Services are imported only when their command is asked for or listed.
        found = super().get_command(ctx, cmd_name)
        return found if found is not None else self._service_commands().get(cmd_name)


@click.group(cls=_CityGroup)
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
def main(verbose: bool) -> None:
    """Sejong's city data hub and services."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("alembic", "amqtt", "transitions"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)


@main.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    from citysmart.core.db import make_engine
    from citysmart.core.migrate import upgrade

    settings = _settings()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    click.echo(f"schema is up to date on {engine.url.render_as_string(hide_password=True)}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--no-mqtt", is_flag=True, help="Serve HTTP only; leave MQTT ingest to workers.")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1),
    help="Processes sharing the port (SO_REUSEPORT); MQTT ingest runs in the first only.",
)
def serve(host: str, port: int, no_mqtt: bool, workers: int) -> None:
    """Run the web app, the HTTP API and (unless --no-mqtt) MQTT ingest."""
    import uvicorn

    from citysmart.core import serving
    from citysmart.portal.app import create_app

    settings = _settings()
    if workers > 1:
        if no_mqtt:
            os.environ["CITYSMART_MQTT_INGEST"] = "false"
        elif settings.embedded_mqtt:
            raise click.ClickException(
                "several workers need a broker of their own: set CITYSMART_MQTT_URL"
            )
        others = {"CITYSMART_MQTT_INGEST": "false"}
        serving.run(
            "citysmart.portal.app:create_app", host, port, workers, others, log_level="info"
        )
        return
    app = create_app(settings, start_mqtt=False if no_mqtt else None)
    uvicorn.run(app, host=host, port=port, log_level="info")


@main.command()
def worker() -> None:
    """Run MQTT ingest, its NGSI-LD notifier and the services' scheduled jobs.

    Several workers share the MQTT subscription; each job runs once per period across
    them (see citysmart.core.jobs). CITYSMART_RUN_JOBS=0 leaves the jobs to others.
    """
    import signal
    import threading

    from citysmart.core.jobs import jobs_setting

    runtime = _runtime()
    if runtime.settings.embedded_mqtt:
        raise click.ClickException("a worker needs a broker: set CITYSMART_MQTT_URL")
    runtime.start_events()
    runtime.start_mqtt()
    if jobs_setting() is not False:
        runner = runtime.start_jobs()
        names = ", ".join(j.name for j in runner.jobs) or "none"
        click.echo(f"hub worker running jobs: {names}")
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    click.echo(f"hub worker consuming from {runtime.settings.effective_mqtt_url}")
    done.wait()
    runtime.stop()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--interval", default=5.0, show_default=True, help="Seconds between readings.")
def demo(host: str, port: int, interval: float) -> None:
    """Seed Sejong, replay air data onto its sensors over MQTT, compute the map, serve the portal.

    The fine-dust readings are Beijing's (UCI data set) replayed onto Sejong's sensor
    positions, time-shifted to now, and labelled so; the services' jobs run in this process.
    """
    from citysmart.sim.demo import run_demo

    run_demo(_settings(), host, port, interval)


@main.group()
def users() -> None:
    """Manage users, roles and API tokens."""
    from citysmart.core import roles
    from citysmart.core.service import discover_services

    # Services declare their own roles (the bikes service's drivers, ...); the app learns
    # them when it mounts the services, and user management must know them too.
    for manifest in discover_services():
        for role, includes in manifest.roles.items():
            roles.add_role(role, includes)


@users.command("add")
@click.argument("name")
@click.option("--role", required=True, help="citizen, operator, admin, or a service's role")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--no-password", is_flag=True, help="API tokens only, no web sign-in.")
def users_add(name: str, role: str, password_stdin: bool, no_password: bool) -> None:
    """Create a user with a role."""
    from citysmart.core.accounts import AccountError, create_user

    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif not no_password and sys.stdin.isatty():
        password = getpass.getpass(f"password for {name}: ")
    runtime = _runtime()
    try:
        with runtime.sessions.begin() as session:
            create_user(session, name, role, password)
    except (AccountError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"user {name} created with role {role}")


@users.command("token")
@click.argument("name")
@click.option("--days", default=None, type=int, help="Lifetime in days (default 90).")
def users_token(name: str, days: int | None) -> None:
    """Print a new API bearer token for a user (last line of the output)."""
    from citysmart.core.accounts import AccountError, issue_token

    runtime = _runtime()
    try:
        with runtime.sessions.begin() as session:
            secret, token = issue_token(session, name, days or runtime.settings.api_token_days)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"token for {name}, expires {token.expires_at:%Y-%m-%d}; it is shown only once:")
    click.echo(secret)


@users.command("revoke-tokens")
@click.argument("name")
def users_revoke_tokens(name: str) -> None:
    """Revoke every API token of a user."""
    from citysmart.core.accounts import AccountError, revoke_tokens

    runtime = _runtime()
    try:
        with runtime.sessions.begin() as session:
            count = revoke_tokens(session, name)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"revoked {count} token(s) of {name}")


@users.command("set-role")
@click.argument("name")
@click.argument("role")
def users_set_role(name: str, role: str) -> None:
    """Change a user's role."""
    from citysmart.core.accounts import AccountError, set_role

    runtime = _runtime()
    try:
        with runtime.sessions.begin() as session:
            set_role(session, name, role)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{name} is now {role}")


@users.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_passwd(name: str, password_stdin: bool) -> None:
    """Set a user's password."""
    from citysmart.core.accounts import AccountError, set_password

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"new password for {name}: ")
    runtime = _runtime()
    try:
        with runtime.sessions.begin() as session:
            set_password(session, name, password)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"password of {name} changed")


@users.command("list")
def users_list() -> None:
    """List users and their roles."""
    from sqlalchemy import select

    from citysmart.core.models import User

    runtime = _runtime()
    with runtime.sessions() as session:
        for user in session.scalars(select(User).order_by(User.username)):
            state = "" if user.is_active else " (disabled)"
            click.echo(f"{user.username}\t{user.role}{state}")


@main.group()
def devices() -> None:
    """Register devices and manage their keys."""


@devices.command("add")
@click.argument("device_id")
@click.option("--entity", "entity_id", required=True, help="URN of the entity it reports for")
@click.option("--type", "entity_type", required=True, help="entity type, e.g. AirQualityObserved")
@click.option("--name", default=None, help="the entity's name")
@click.option("--lat", type=float, default=None)
@click.option("--lon", type=float, default=None)
def devices_add(
    device_id: str,
    entity_id: str,
    entity_type: str,
    name: str | None,
    lat: float | None,
    lon: float | None,
) -> None:
    """Register a device; its new key is the last line of the output."""
    from citysmart.hub.registry import RegistryError, register_device

    location = None
    if (lat is None) != (lon is None):
        raise click.ClickException("give both --lat and --lon, or neither")
    if lat is not None and lon is not None:
        location = {"type": "Point", "coordinates": [lon, lat]}
    runtime = _runtime()
    try:
        with runtime.sessions.begin() as session:
            issued = register_device(
                session, device_id, entity_id, entity_type, location=location, name=name
            )
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"device {device_id} registered for {entity_id}; its key is shown only once:")
    click.echo(issued.key)


@devices.command("revoke")
@click.argument("device_id")
def devices_revoke(device_id: str) -> None:
    """Revoke a device's key."""
    from citysmart.hub.registry import RegistryError, revoke_device

    runtime = _runtime()
    try:
        with runtime.sessions.begin() as session:
            revoke_device(session, device_id)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"device {device_id} revoked")


@devices.command("rotate")
@click.argument("device_id")
def devices_rotate(device_id: str) -> None:
    """Issue a new key for a device (last line); the old one stops working."""
    from citysmart.hub.registry import RegistryError, rotate_device_key

    runtime = _runtime()
    try:
        with runtime.sessions.begin() as session:
            issued = rotate_device_key(session, device_id)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"new key for {device_id}, shown only once:")
    click.echo(issued.key)


@devices.command("list")
def devices_list() -> None:
    """List devices with status, last seen and error count."""
    from citysmart.hub.queries import list_devices

    runtime = _runtime()
    with runtime.sessions() as session:
        for d in list_devices(session, 100_000, 0):
            seen = d.last_seen_at.isoformat() if d.last_seen_at else "never"
            click.echo(
                f"{d.id}\t{d.entity_id}\t{d.status}\tlast seen {seen}\terrors {d.error_count}"
            )


@devices.command("acl")
@click.option("--hub-user", default="citysmart-hub", show_default=True)
def devices_acl(hub_user: str) -> None:
    """Print a Mosquitto ACL file: each device may publish only to its own topic."""
    from citysmart.hub.acl import mosquitto_acl

    click.echo(mosquitto_acl(hub_user), nl=False)


@main.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--rejects",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write rejected rows with the reason to this CSV file.",
)
def import_csv(csv_file: Path, rejects: Path | None) -> None:
    """Load a historical series from CSV (entity,attribute,time,value,unit)."""
    from citysmart.hub.importer import ImportFormatError, import_file

    runtime = _runtime()
    try:
        report = import_file(runtime, csv_file, rejects)
    except ImportFormatError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"{report.stored} readings stored, {report.duplicates} already there, "
        f"{report.rejected} rows rejected"
    )
    for line, reason in report.first_rejections:
        click.echo(f"  line {line}: {reason}", err=True)
    if report.rejected and report.stored == 0 and report.duplicates == 0:
        sys.exit(1)


main.add_command(residents)
main.add_command(oidc)
main.add_command(notifications)
