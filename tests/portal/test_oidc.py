"""The portal as an OpenID Connect provider: a relying party signs a citizen in, and refusals."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import delete, select, update

from citysmart.core.accounts import create_user
from citysmart.core.models import AuditEvent, User
from citysmart.core.time import utcnow
from citysmart.hub.runtime import HubRuntime
from citysmart.portal.oidc.clients import add_client
from citysmart.portal.oidc.models import (
    OidcClient,
    OidcCode,
    OidcConsent,
    OidcKey,
    OidcSubject,
    OidcToken,
)

ISSUER = "http://testserver"
REDIRECT = "https://rp.example/callback"
PASSWORD = "oidc-test-password"
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


@pytest.fixture(autouse=True)
def clean_oidc(runtime: HubRuntime) -> None:
    """Start each test without clients or keys (the shared fixture truncates only users)."""
    with runtime.sessions.begin() as session:
        for table in (OidcToken, OidcCode, OidcConsent, OidcSubject, OidcClient, OidcKey):
            session.execute(delete(table))


def make_user(runtime: HubRuntime, username: str = "minji") -> None:
    """Create a citizen with a password, a name and an email."""
    with runtime.sessions.begin() as session:
        user = create_user(session, username, "citizen", PASSWORD, display_name="Kim Minji")
        user.email = f"{username}@example.org"
        user.verified_at = utcnow()


def make_client(
    runtime: HubRuntime, public: bool = False, trusted: bool = False
) -> tuple[str, str | None]:
    """Register a relying party; return its client_id and secret."""
    with runtime.sessions.begin() as session:
        client, secret = add_client(session, "Eoulling bikes", [REDIRECT], public, trusted)
        return client.client_id, secret


def sign_in(client: TestClient, username: str = "minji") -> None:
    """Sign in through the portal's form."""
    page = client.get("/signin")
    csrf = dict(_HIDDEN.findall(page.text))["csrf"]
    answer = client.post(
        "/signin",
        data={"username": username, "password": PASSWORD, "csrf": csrf, "next": "/"},
        follow_redirects=False,
    )
    assert answer.status_code == 303


def authorize_params(client_id: str, verifier: str | None, **extra: str) -> dict[str, str]:
    """Return an authorization request's parameters, with PKCE S256 when a verifier is given."""
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": "openid profile email",
        "state": secrets.token_urlsafe(8),
        "nonce": secrets.token_urlsafe(8),
    }
    if verifier:
        params["code_challenge"] = create_s256_code_challenge(verifier)
        params["code_challenge_method"] = "S256"
    params.update(extra)
    return params


def get_code(client: TestClient, params: dict[str, str]) -> str:
    """Go through /oidc/authorize (allowing on the consent page if shown); return the code."""
    answer = client.get("/oidc/authorize", params=params, follow_redirects=False)
    if answer.status_code == 200:  # the consent page
        assert "Eoulling bikes" in answer.text
        form = dict(_HIDDEN.findall(answer.text))
        answer = client.post(
            "/oidc/authorize", data={**form, "decision": "allow"}, follow_redirects=False
        )
    assert answer.status_code == 302, answer.text
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert query.get("state") == params["state"], query
    return query["code"]


def exchange(
    client: TestClient,
    code: str,
    verifier: str | None,
    client_id: str,
    secret: str | None,
    redirect_uri: str = REDIRECT,
) -> Any:
    """Exchange a code at the token endpoint (secret by HTTP Basic when there is one)."""
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if verifier:
        data["code_verifier"] = verifier
    if secret is None:
        data["client_id"] = client_id
        return client.post("/oidc/token", data=data)
    return client.post("/oidc/token", data=data, auth=(client_id, secret))


def verify_id_token(client: TestClient, id_token: str, client_id: str, nonce: str) -> Any:
    """Check the ID token's signature against the JWKS and its claims; return the claims."""
    discovery = client.get("/.well-known/openid-configuration").json()
    jwks = client.get(urlsplit(discovery["jwks_uri"]).path).json()
    token = jwt.decode(id_token, KeySet.import_key_set(jwks), algorithms=["RS256"])
    assert token.header["kid"] in {k["kid"] for k in jwks["keys"]}
    registry = jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": discovery["issuer"]},
        aud={"essential": True, "value": client_id},
        nonce={"essential": True, "value": nonce},
        exp={"essential": True},
        sub={"essential": True},
    )
    registry.validate(token.claims)
    return token.claims


def test_discovery_describes_the_provider(client: TestClient) -> None:
    doc = client.get("/.well-known/openid-configuration").json()
    assert doc["issuer"] == ISSUER
    assert doc["authorization_endpoint"] == f"{ISSUER}/oidc/authorize"
    assert doc["token_endpoint"] == f"{ISSUER}/oidc/token"
    assert doc["userinfo_endpoint"] == f"{ISSUER}/oidc/userinfo"
    assert doc["jwks_uri"] == f"{ISSUER}/oidc/jwks"
    assert doc["response_types_supported"] == ["code"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert doc["subject_types_supported"] == ["public"]
    assert {"openid", "profile", "email"} <= set(doc["scopes_supported"])
    assert "none" in doc["token_endpoint_auth_methods_supported"]
    assert {"citysmart_role", "citysmart_verified"} <= set(doc["claims_supported"])


def test_jwks_publishes_one_rsa_key_made_on_first_use(client: TestClient) -> None:
    first = client.get("/oidc/jwks").json()
    assert len(first["keys"]) == 1
    key = first["keys"][0]
    assert (key["kty"], key["alg"], key["use"]) == ("RSA", "RS256", "sig")
    assert key["kid"]
    assert "d" not in key
    assert client.get("/oidc/jwks").json() == first  # stored, not made again


def test_relying_party_signs_a_citizen_in(client: TestClient, runtime: HubRuntime) -> None:
    make_user(runtime)
    client_id, secret = make_client(runtime)
    params = authorize_params(client_id, verifier := secrets.token_urlsafe(48))

    signed_out = client.get("/oidc/authorize", params=params, follow_redirects=False)
    assert signed_out.status_code == 303
    target = signed_out.headers["location"]
    assert target.startswith("/signin?next=%2Foidc%2Fauthorize%3F")
    sign_in(client)
    code = get_code(client, params)
    answer = exchange(client, code, verifier, client_id, secret)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    tokens = answer.json()
    assert tokens["token_type"].lower() == "bearer"
    assert tokens["refresh_token"]
    claims = verify_id_token(client, tokens["id_token"], client_id, params["nonce"])
    assert claims["preferred_username"] == "minji"
    assert claims["name"] == "Kim Minji"

    info = client.get(
        "/oidc/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    ).json()
    with runtime.sessions() as session:
        user = session.scalars(select(User).where(User.username == "minji")).one()
        assert info["sub"] == claims["sub"] != str(user.id)
        actions = set(session.scalars(select(AuditEvent.action)).all())
    assert info["preferred_username"] == "minji"
    assert info["email"] == "minji@example.org"
    assert info["locale"] == "ko"
    assert info["citysmart_role"] == "citizen"
    assert info["citysmart_verified"] is True
    assert {"oidc.authorized", "oidc.consented", "oidc.token_issued"} <= actions

    # The second time, consent is remembered: the code comes straight back.
    params = authorize_params(client_id, verifier)
    again = client.get("/oidc/authorize", params=params, follow_redirects=False)
    assert again.status_code == 302
    assert "code=" in again.headers["location"]

    refreshed = client.post(
        "/oidc/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(client_id, secret or ""),
    )
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["access_token"] != tokens["access_token"]


def test_public_trusted_client_skips_consent_and_needs_no_secret(
    client: TestClient, runtime: HubRuntime
) -> None:
    make_user(runtime)
    client_id, secret = make_client(runtime, public=True, trusted=True)
    assert secret is None
    sign_in(client)
    verifier = secrets.token_urlsafe(48)
    params = authorize_params(client_id, verifier)
    answer = client.get("/oidc/authorize", params=params, follow_redirects=False)
    assert answer.status_code == 302  # no consent page for a trusted service
    code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
    tokens = exchange(client, code, verifier, client_id, None)
    assert tokens.status_code == 200, tokens.text
    verify_id_token(client, tokens.json()["id_token"], client_id, params["nonce"])


def test_consent_needs_its_csrf_token_and_deny_tells_the_client(
    client: TestClient, runtime: HubRuntime
) -> None:
    make_user(runtime)
    client_id, _ = make_client(runtime)
    sign_in(client)
    params = authorize_params(client_id, secrets.token_urlsafe(48))
    page = client.get("/oidc/authorize", params=params)
    assert "form-action 'self' https://rp.example" in page.headers["content-security-policy"]
    form = dict(_HIDDEN.findall(page.text))
    forged = {k: v for k, v in form.items() if k != "csrf"}
    assert client.post("/oidc/authorize", data={**forged, "decision": "allow"}).status_code == 403
    assert client.post("/oidc/authorize", data={**form, "decision": "maybe"}).status_code == 400
    denied = client.post(
        "/oidc/authorize", data={**form, "decision": "deny"}, follow_redirects=False
    )
    assert denied.status_code == 302
    query = parse_qs(urlsplit(denied.headers["location"]).query)
    assert query["error"] == ["access_denied"]
    assert query["state"] == [params["state"]]


def test_authorization_without_pkce_is_refused(client: TestClient, runtime: HubRuntime) -> None:
    make_user(runtime)
    client_id, _ = make_client(runtime, trusted=True)
    sign_in(client)
    for params in (
        authorize_params(client_id, None),
        authorize_params(client_id, None, code_challenge="x" * 43, code_challenge_method="plain"),
    ):
        answer = client.get("/oidc/authorize", params=params, follow_redirects=False)
        assert answer.status_code == 302
        query = parse_qs(urlsplit(answer.headers["location"]).query)
        assert query["error"] == ["invalid_request"]
        assert "PKCE" in query["error_description"][0]


def test_unknown_client_or_unregistered_redirect_is_not_redirected(
    client: TestClient, runtime: HubRuntime
) -> None:
    make_user(runtime)
    client_id, _ = make_client(runtime)
    sign_in(client)
    verifier = secrets.token_urlsafe(48)
    for params in (
        authorize_params("csc_nobody", verifier),
        authorize_params(client_id, verifier, redirect_uri="https://evil.example/callback"),
    ):
        answer = client.get("/oidc/authorize", params=params, follow_redirects=False)
        assert answer.status_code == 400  # a page at the portal, never a redirect elsewhere
        assert "Sign-in request refused" in answer.text


@pytest.mark.parametrize(
    ("case", "status", "error"),
    [
        ("missing verifier", 400, "invalid_request"),
        ("wrong verifier", 400, "invalid_grant"),
        ("reused code", 400, "invalid_grant"),
        ("wrong redirect_uri", 400, "invalid_grant"),
        ("unknown client", 401, "invalid_client"),
        ("wrong secret", 401, "invalid_client"),
        ("expired code", 400, "invalid_grant"),
        ("another client's code", 400, "invalid_grant"),
    ],
)
def test_token_requests_are_refused_with_an_oauth_error(
    client: TestClient, runtime: HubRuntime, case: str, status: int, error: str
) -> None:
    make_user(runtime)
    client_id, secret = make_client(runtime)
    other_id, other_secret = make_client(runtime)
    sign_in(client)
    verifier = secrets.token_urlsafe(48)
    code = get_code(client, authorize_params(client_id, verifier))
    args: dict[str, Any] = {"code": code, "verifier": verifier, "client_id": client_id}
    args["secret"] = secret
    if case == "missing verifier":
        args["verifier"] = None
    elif case == "wrong verifier":
        args["verifier"] = secrets.token_urlsafe(48)
    elif case == "reused code":
        first = exchange(client, code, verifier, client_id, secret)
        assert first.status_code == 200
        access = first.json()["access_token"]
    elif case == "wrong redirect_uri":
        args["redirect_uri"] = "https://rp.example/other"
    elif case == "unknown client":
        args["client_id"] = "csc_nobody"
    elif case == "wrong secret":
        args["secret"] = "css_wrong"
    elif case == "expired code":
        with runtime.sessions.begin() as session:
            session.execute(update(OidcCode).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    elif case == "another client's code":
        args["client_id"], args["secret"] = other_id, other_secret
    answer = exchange(client, **args)
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["error"] == error, body
    assert body.get("error_description"), body
    if case == "reused code":
        # A replayed code revokes what it gave (RFC 6749 4.1.2).
        info = client.get("/oidc/userinfo", headers={"Authorization": f"Bearer {access}"})
        assert info.status_code == 401
        assert info.json()["error"] == "invalid_token"


def test_userinfo_needs_a_live_access_token(client: TestClient) -> None:
    assert client.get("/oidc/userinfo").status_code == 400
    answer = client.get("/oidc/userinfo", headers={"Authorization": "Bearer nope"})
    assert answer.status_code == 401
    assert 'error="invalid_token"' in answer.headers["www-authenticate"]
