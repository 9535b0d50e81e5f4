"""Registered relying parties: registration, listing, removal, and Authlib's view of one."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from citysmart.core import audit
from citysmart.core.security import digest_secret, new_secret, same_digest
from citysmart.portal.oidc.models import OidcClient

SCOPES = ("openid", "profile", "email")
SECRET_AUTH_METHODS = ("client_secret_basic", "client_secret_post")


class ClientError(ValueError):
    """A client registration that cannot be carried out, saying why."""


def check_redirect_uri(uri: str) -> str:
    """Return a redirect URI fit to register: absolute, https or loopback http, no fragment."""
    parts = urlsplit(uri)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ClientError(f"redirect URI {uri!r}: an absolute http(s) URL is needed")
    if parts.fragment:
        raise ClientError(f"redirect URI {uri!r}: no fragment allowed (RFC 6749 3.1.2)")
    loopback = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if parts.scheme == "http" and not loopback:
        raise ClientError(f"redirect URI {uri!r}: plain http only for localhost")
    return uri


def add_client(
    session: Session,
    name: str,
    redirect_uris: list[str],
    public: bool = False,
    trusted: bool = False,
    actor: str = "cli",
) -> tuple[OidcClient, str | None]:
    """Register a client; return it and its secret (None for a public client), shown once."""
    name = name.strip()
    if not name or len(name) > 128:
        raise ClientError("a client needs a name of 1-128 characters")
    if not redirect_uris:
        raise ClientError("a client needs at least one redirect URI")
    uris = [check_redirect_uri(uri) for uri in dict.fromkeys(redirect_uris)]
    secret = digest = None
    if not public:
        secret, digest, _ = new_secret("css")
    client = OidcClient(
        client_id=f"csc_{secrets.token_urlsafe(18)}",
        name=name,
        secret_hash=digest,
        redirect_uris=uris,
        trusted=trusted,
    )
    session.add(client)
    session.flush()
    audit.record(
        session, actor, "oidc.client_added", client.client_id, name=name, public=public,
        trusted=trusted, redirect_uris=uris,
    )  # fmt: skip
    return client, secret


def list_clients(session: Session) -> list[OidcClient]:
    """Return every registered client, oldest first."""
    return list(session.scalars(select(OidcClient).order_by(OidcClient.id)).all())


def get_client(session: Session, client_id: str) -> OidcClient | None:
    """Return a client by its client_id, or None."""
    return session.scalars(select(OidcClient).where(OidcClient.client_id == client_id)).first()


def remove_client(session: Session, client_id: str, actor: str = "cli") -> None:
    """Remove a client with its codes, tokens and consents (audited)."""
    client = get_client(session, client_id)
    if client is None:
        raise ClientError(f"no client {client_id!r}")
    session.delete(client)
    audit.record(session, actor, "oidc.client_removed", client_id, name=client.name)


@dataclass
class ClientView:
    """A registered client as Authlib's ``ClientMixin`` expects it."""

    row: OidcClient

    @property
    def public(self) -> bool:
        """Tell whether the client has no secret (it authenticates with PKCE alone)."""
        return self.row.secret_hash is None

    def get_client_id(self) -> str:
        """Return the client_id."""
        return self.row.client_id

    def get_default_redirect_uri(self) -> str | None:
        """Return None: every request must name its redirect URI."""
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        """Return the requested scopes this provider knows, in a stable order."""
        wanted = set((scope or "").split())
        return " ".join(s for s in SCOPES if s in wanted)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        """Accept only a registered redirect URI, compared exactly."""
        return redirect_uri in self.row.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        """Compare the secret's digest with the stored one in constant time."""
        stored = self.row.secret_hash
        return stored is not None and same_digest(digest_secret(client_secret), stored)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        """Public clients authenticate with ``none``; confidential ones with their secret."""
        if self.public:
            return method == "none"
        return method in SECRET_AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        """Allow the authorization code flow only."""
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        """Allow authorization codes and refresh tokens."""
        return grant_type in ("authorization_code", "refresh_token")
