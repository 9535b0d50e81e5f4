"""``citysmart oidc ...``: register the city services that sign citizens in through the portal."""

from __future__ import annotations

import click


@click.group()
def oidc() -> None:
    """OpenID Connect clients (relying parties)."""


@oidc.command("add-client")
@click.argument("name")
@click.option(
    "--redirect-uri", "redirect_uris", multiple=True, required=True,
    help="Where the portal may send the code back (exact match); repeat for more.",
)  # fmt: skip
@click.option("--public", is_flag=True, help="No secret (a browser or phone app); PKCE only.")
@click.option("--trusted", is_flag=True, help="The city's own service: no consent screen.")
def add_client_command(
    name: str, redirect_uris: tuple[str, ...], public: bool, trusted: bool
) -> None:
    """Register a city service; print its client_id and secret (shown only this once)."""
    from citysmart.cli import _runtime
    from citysmart.portal.oidc.clients import ClientError, add_client

    runtime = _runtime()
    try:
        with runtime.sessions.begin() as session:
            client, secret = add_client(session, name, list(redirect_uris), public, trusted)
            client_id = client.client_id
    except ClientError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        runtime.stop()
    click.echo(f"client_id: {client_id}")
    if secret is None:
        click.echo("public client: no secret; it must use PKCE (S256)")
    else:
        click.echo(f"client_secret: {secret}")
        click.echo("(the secret is shown only now; the portal keeps only its digest)")


@oidc.command("list-clients")
def list_clients_command() -> None:
    """List the registered city services."""
    from citysmart.cli import _runtime
    from citysmart.portal.oidc.clients import list_clients

    runtime = _runtime()
    try:
        with runtime.sessions.begin() as session:
            for c in list_clients(session):
                kind = "public" if c.secret_hash is None else "confidential"
                trust = " trusted" if c.trusted else ""
                click.echo(f"{c.client_id}\t{c.name}\t{kind}{trust}\t{' '.join(c.redirect_uris)}")
    finally:
        runtime.stop()


@oidc.command("remove-client")
@click.argument("client_id")
def remove_client_command(client_id: str) -> None:
    """Remove a city service with its codes, tokens and consents."""
    from citysmart.cli import _runtime
    from citysmart.portal.oidc.clients import ClientError, remove_client

    runtime = _runtime()
    try:
        with runtime.sessions.begin() as session:
            remove_client(session, client_id)
    except ClientError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        runtime.stop()
    click.echo(f"client {client_id} removed")


@oidc.command("rotate-key")
def rotate_key_command() -> None:
    """Start signing with a new key; the previous one stays published, older ones go."""
    from citysmart.cli import _runtime
    from citysmart.portal.oidc.keys import rotate

    runtime = _runtime()
    try:
        with runtime.sessions.begin() as session:
            kid = rotate(session)
    finally:
        runtime.stop()
    click.echo(f"new signing key {kid}")
