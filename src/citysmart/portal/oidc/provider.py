"""Authlib's authorization server wired to citysmart's tables: code + PKCE S256, OpenID, refresh.

One :class:`Provider` is made per request around that request's database session, so
Authlib's synchronous hooks (query_client, save_token, ...) write in the route's transaction.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from authlib.common.security import generate_token
from authlib.oauth2 import AuthorizationServer, OAuth2Request
from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant, RefreshTokenGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import OpenIDCode
from joserfc.jwk import RSAKey
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse, Response

from citysmart.core import audit
from citysmart.core.models import User
from citysmart.core.security import digest_secret
from citysmart.core.time import utcnow
from citysmart.portal.oidc import keys
from citysmart.portal.oidc.claims import user_claims
from citysmart.portal.oidc.clients import SCOPES, ClientView, get_client
from citysmart.portal.oidc.models import OidcCode, OidcToken
from citysmart.portal.oidc.subjects import subject_of

CODE_LIFETIME = dt.timedelta(minutes=10)
ACCESS_TOKEN_LIFETIME_S = 3600
REFRESH_TOKEN_LIFETIME = dt.timedelta(days=30)
ID_TOKEN_LIFETIME_S = 3600


class FormRequest(OAuth2Request):  # type: ignore[misc]
    """An OAuth 2 request from parameters Starlette has already parsed."""

    def __init__(
        self,
        method: str,
        uri: str,
        headers: Mapping[str, str],
        params: Iterable[tuple[str, str]],
    ) -> None:
        # OAuth2Request's own __init__ refuses http URIs outside loopback; the portal's
        # transport is checked where it is configured (production serves https only).
        self.method, self.uri, self.headers = method, uri, headers
        # Authlib fills these in as the request is validated.
        self.client: Any = None
        self.auth_method: str | None = None
        self.user: Any = None
        self.authorization_code: Any = None
        self.refresh_token: Any = None
        self.credential: Any = None
        self._scope: str | None = None
        self._body = None
        datalist: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in params:
            datalist[key].append(value)
        self._form = {key: values[0] for key, values in datalist.items()}
        self.payload = BasicOAuth2Payload(self._form)
        self.payload._datalist = datalist

    @property
    def args(self) -> dict[str, str]:
        """Return the parameters (query or form, whichever the endpoint reads)."""
        return self._form

    @property
    def form(self) -> dict[str, str]:
        """Return the parameters (query or form, whichever the endpoint reads)."""
        return self._form


@dataclass
class CodeView:
    """A stored authorization code as Authlib's ``AuthorizationCodeMixin`` expects it."""

    row: OidcCode

    @property
    def code_challenge(self) -> str:
        """Return the PKCE challenge the code was bound to."""
        return self.row.code_challenge

    @property
    def code_challenge_method(self) -> str:
        """Return the PKCE method (always S256)."""
        return self.row.code_challenge_method

    def get_redirect_uri(self) -> str:
        """Return the redirect URI the code was issued to."""
        return self.row.redirect_uri

    def get_scope(self) -> str:
        """Return the granted scopes."""
        return self.row.scope

    def get_nonce(self) -> str | None:
        """Return the relying party's nonce, echoed in the ID token."""
        return self.row.nonce

    def get_auth_time(self) -> int:
        """Return when the user authorized, as a Unix time."""
        return int(self.row.auth_time.timestamp())

    def get_acr(self) -> str | None:
        """Return no authentication context class."""
        return None

    def get_amr(self) -> list[str]:
        """Say the user signed in with a password."""
        return ["pwd"]


@dataclass
class TokenView:
    """A stored token as Authlib's ``TokenMixin`` expects it (for refresh)."""

    row: OidcToken

    def check_client(self, client: ClientView) -> bool:
        """Tell whether the token was issued to this client."""
        return self.row.client_id == client.row.id

    def get_scope(self) -> str:
        """Return the token's scopes."""
        return self.row.scope

    def get_expires_in(self) -> int:
        """Return the access token's lifetime in seconds."""
        return ACCESS_TOKEN_LIFETIME_S

    def is_expired(self) -> bool:
        """Tell whether the refresh token has expired."""
        until = self.row.refresh_expires_at
        return until is None or until <= utcnow()

    def is_revoked(self) -> bool:
        """Tell whether the token was revoked."""
        return self.row.revoked_at is not None


class S256Challenge(CodeChallenge):  # type: ignore[misc]
    """PKCE required of every client, with the S256 method only."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]  # noqa: RUF012  (Authlib's class attribute)

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        """Refuse an authorization request without an S256 code challenge."""
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send 'code_challenge' (S256).")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE method must be 'S256' ('code_challenge_method').")
        super().validate_code_challenge(grant, redirect_uri)


class CodeGrant(AuthorizationCodeGrant):  # type: ignore[misc]
    """The authorization code grant over the ``oidc_code`` table."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]  # noqa: RUF012

    def save_authorization_code(self, code: str, request: FormRequest) -> None:
        """Store the code's digest, bound to client, user, redirect URI and PKCE challenge."""
        now = utcnow()
        data = request.payload.data
        client: ClientView = request.client
        user: User = request.user
        db = self.server.db
        db.add(
            OidcCode(
                code_hash=digest_secret(code),
                client_id=client.row.id,
                user_id=user.id,
                redirect_uri=request.payload.redirect_uri,
                scope=request.scope,
                nonce=data.get("nonce"),
                code_challenge=data["code_challenge"],
                code_challenge_method=data["code_challenge_method"],
                auth_time=now,
                created_at=now,
                expires_at=now + CODE_LIFETIME,
            )
        )
        audit.record(
            db, user.username, "oidc.authorized", client.row.client_id, self.server.ip,
            scope=request.scope,
        )  # fmt: skip

    def query_authorization_code(self, code: str, client: ClientView) -> CodeView:
        """Claim the code (one use only): unknown, expired or replayed codes are refused."""
        db: Session = self.server.db
        row = db.scalars(
            select(OidcCode).where(
                OidcCode.code_hash == digest_secret(code), OidcCode.client_id == client.row.id
            )
        ).first()
        if row is None:
            raise InvalidGrantError("Unknown 'code' (or issued to another client).")
        now = utcnow()
        if row.used_at is not None:
            self.server.revoke_for_code(row)
            raise InvalidGrantError("The 'code' was already used; its tokens are revoked.")
        if row.expires_at <= now:
            raise InvalidGrantError("The 'code' has expired (codes live 10 minutes).")
        # Claim with a conditional update, so two concurrent exchanges cannot both win.
        claimed = db.execute(
            update(OidcCode)
            .where(OidcCode.id == row.id, OidcCode.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            raise InvalidGrantError("The 'code' was already used.")
        return CodeView(row)

    def delete_authorization_code(self, authorization_code: CodeView) -> None:
        """Keep the claimed code: a replay must be recognised as one."""

    def authenticate_user(self, authorization_code: CodeView) -> User | None:
        """Return the active user the code was issued for."""
        user = self.server.db.get(User, authorization_code.row.user_id)
        return user if user is not None and user.is_active else None


class RefreshGrant(RefreshTokenGrant):  # type: ignore[misc]
    """Refresh tokens: rotated on each use; the old pair is revoked."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]  # noqa: RUF012
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> TokenView | None:
        """Return the live token holding this refresh token."""
        row = self.server.db.scalars(
            select(OidcToken).where(OidcToken.refresh_hash == digest_secret(refresh_token))
        ).first()
        if row is None:
            return None
        token = TokenView(row)
        return None if token.is_revoked() or token.is_expired() else token

    def authenticate_user(self, refresh_token: TokenView) -> User | None:
        """Return the active user of the token."""
        user = self.server.db.get(User, refresh_token.row.user_id)
        return user if user is not None and user.is_active else None

    def revoke_old_credential(self, refresh_token: TokenView) -> None:
        """Revoke the pair the refresh token belonged to."""
        refresh_token.row.revoked_at = utcnow()


class CityOpenIDCode(OpenIDCode):  # type: ignore[misc]
    """ID tokens signed RS256 with the provider's current key."""

    def __init__(self, provider: Provider) -> None:
        super().__init__(require_nonce=False)
        self.provider = provider
        self._key: RSAKey | None = None

    def _signing_key(self) -> RSAKey:
        if self._key is None:
            self._key = keys.signing_key(self.provider.db)
        return self._key

    def resolve_client_private_key(self, client: ClientView) -> RSAKey:
        """Return the current signing key."""
        return self._signing_key()

    def get_encode_header(self, client: ClientView) -> dict[str, str]:
        """Name the algorithm and the key, so relying parties pick it from the JWKS."""
        return {"alg": keys.ALG, "kid": self._signing_key().kid or "", "typ": "JWT"}

    def get_client_claims(self, client: ClientView) -> dict[str, Any]:
        """Return the issuer, the audience and the expiry."""
        now = int(utcnow().timestamp())
        return {
            "iss": self.provider.issuer,
            "aud": client.get_client_id(),
            "iat": now,
            "exp": now + ID_TOKEN_LIFETIME_S,
        }

    def exists_nonce(self, nonce: str, request: FormRequest) -> bool:
        """Tell whether this client already used this nonce (a replayed request)."""
        client = get_client(self.provider.db, request.payload.client_id or "")
        if client is None:
            return False
        found = self.provider.db.scalars(
            select(OidcCode.id).where(OidcCode.client_id == client.id, OidcCode.nonce == nonce)
        ).first()
        return found is not None

    def generate_user_info(self, user: User, scope: str) -> dict[str, Any]:
        """Return the claims the scopes allow."""
        return user_claims(user, subject_of(self.provider.db, user), scope)


class Provider(AuthorizationServer):  # type: ignore[misc]
    """The portal's authorization server, bound to one request's database session."""

    def __init__(self, db: Session, issuer: str, ip: str | None = None) -> None:
        super().__init__(scopes_supported=list(SCOPES))
        self.db, self.issuer, self.ip = db, issuer, ip
        self.register_token_generator(
            "default",
            BearerTokenGenerator(
                lambda **_: generate_token(42),
                lambda **_: generate_token(48),
                ACCESS_TOKEN_LIFETIME_S,
            ),
        )
        self.register_grant(CodeGrant, [S256Challenge(required=True), CityOpenIDCode(self)])
        self.register_grant(RefreshGrant)

    def query_client(self, client_id: str) -> ClientView | None:
        """Return the registered client, or None."""
        row = get_client(self.db, client_id)
        return ClientView(row) if row is not None else None

    def save_token(self, token: dict[str, Any], request: FormRequest) -> None:
        """Store the tokens' digests and audit the issue."""
        now = utcnow()
        client: ClientView = request.client
        user: User = request.user
        code: CodeView | None = request.authorization_code
        refresh = token.get("refresh_token")
        self.db.add(
            OidcToken(
                access_hash=digest_secret(token["access_token"]),
                refresh_hash=digest_secret(refresh) if refresh else None,
                client_id=client.row.id,
                user_id=user.id,
                code_id=code.row.id if code else None,
                scope=token.get("scope") or "",
                issued_at=now,
                expires_at=now + dt.timedelta(seconds=int(token["expires_in"])),
                refresh_expires_at=now + REFRESH_TOKEN_LIFETIME if refresh else None,
            )
        )
        audit.record(
            self.db, client.row.client_id, "oidc.token_issued", user.username, self.ip,
            grant=request.payload.grant_type, scope=token.get("scope"),
        )  # fmt: skip

    def revoke_for_code(self, code: OidcCode) -> None:
        """Revoke every token a replayed code gave (RFC 6749 4.1.2) and audit the replay."""
        now = utcnow()
        self.db.execute(
            update(OidcToken)
            .where(OidcToken.code_id == code.id, OidcToken.revoked_at.is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )
        audit.record(self.db, "oidc", "oidc.code_replayed", str(code.client_id), self.ip)

    def create_oauth2_request(self, request: Any) -> FormRequest:
        """Return the request: routes build it from Starlette's parsed parameters."""
        if not isinstance(request, FormRequest):
            raise TypeError("pass a FormRequest")
        return request

    def create_json_request(self, request: Any) -> Any:
        """Not used: no JSON endpoints go through Authlib."""
        raise NotImplementedError

    def handle_response(
        self, status: int, body: Any, headers: Iterable[tuple[str, str]]
    ) -> Response:
        """Turn Authlib's answer into a Starlette response."""
        header_map = dict(headers)
        if isinstance(body, dict):
            header_map.pop("Content-Type", None)
            return JSONResponse(body, status, headers=header_map)
        return Response(body, status, headers=header_map)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """Ignore Authlib's signals (the audit log is written where things happen)."""
