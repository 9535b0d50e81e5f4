"""OpenID Connect endpoints: discovery, keys, authorize (with consent), token, userinfo."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlencode, urlsplit

from authlib.oauth2.rfc6749 import OAuth2Error
from authlib.oidc.core.errors import ConsentRequiredError
from fastapi import APIRouter, Form, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse, RedirectResponse, Response

from citysmart.core import audit
from citysmart.core.auth import SessionDep, check_csrf, principal_for
from citysmart.core.errors import Problem
from citysmart.core.models import User
from citysmart.core.security import digest_secret
from citysmart.core.time import utcnow
from citysmart.portal.oidc import keys
from citysmart.portal.oidc.claims import user_claims
from citysmart.portal.oidc.clients import SCOPES, ClientView
from citysmart.portal.oidc.models import OidcConsent, OidcToken
from citysmart.portal.oidc.provider import FormRequest, Provider
from citysmart.portal.oidc.subjects import subject_of
from citysmart.portal.pages import render

router = APIRouter(include_in_schema=False)
# The authorization request's parameters, carried through the consent form.
AUTHORIZE_PARAMS = (
    "response_type", "client_id", "redirect_uri", "scope", "state", "nonce",
    "code_challenge", "code_challenge_method", "prompt",
)  # fmt: skip
# Added to the authorization request a signed-out citizen comes back with from the sign-in
# form (the session cannot carry it: signing in starts a new session).
AFTER_SIGN_IN = "after_sign_in"
SCOPE_TEXT = {
    "openid": ("Your citysmart identifier", "citysmart 식별자"),
    "profile": (
        "Your user name, name, language, role and whether your residence is verified",
        "아이디, 이름, 언어, 역할, 거주 인증 여부",
    ),
    "email": ("Your email address", "이메일 주소"),
}
CLAIMS = (
    "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "amr",
    "preferred_username", "name", "locale", "email", "email_verified",
    "citysmart_role", "citysmart_verified", "citysmart_blocked",
)  # fmt: skip


def issuer_of(request: Request) -> str:
    """Return the issuer: the configured public URL, else the URL the request came to."""
    public: str = request.app.state.settings.public_url
    return (public or str(request.base_url)).rstrip("/")


def _provider(request: Request, db: Session) -> Provider:
    return Provider(db, issuer_of(request), request.client.host if request.client else None)


def _session_user(request: Request, db: Session) -> User | None:
    user_id = request.session.get("user_id")
    user = db.get(User, int(user_id)) if user_id is not None else None
    return user if user is not None and user.is_active else None


@router.get("/.well-known/openid-configuration")
def read_configuration(request: Request) -> Response:
    """Describe the provider (OpenID Connect Discovery 1.0)."""
    issuer = issuer_of(request)
    return JSONResponse(
        {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/oidc/authorize",
            "token_endpoint": f"{issuer}/oidc/token",
            "userinfo_endpoint": f"{issuer}/oidc/userinfo",
            "jwks_uri": f"{issuer}/oidc/jwks",
            "scopes_supported": list(SCOPES),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [keys.ALG],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ],  # fmt: skip
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": list(CLAIMS),
            "ui_locales_supported": ["ko", "en"],
            "claims_parameter_supported": False,
            "request_parameter_supported": False,
            "request_uri_parameter_supported": False,
        },
        headers={"Cache-Control": "public, max-age=3600"},
    )


@router.get("/oidc/jwks")
def read_jwks(db: SessionDep) -> Response:
    """Publish the public keys that ID tokens are signed with."""
    return JSONResponse(keys.public_jwks(db), headers={"Cache-Control": "public, max-age=300"})


@router.get("/oidc/authorize")
def authorize(request: Request, db: SessionDep) -> Response:
    """Check the request; sign the user in, ask consent if needed, send back a code."""
    req = FormRequest("GET", str(request.url), request.headers, request.query_params.multi_items())
    return _authorize(request, db, req, decision=None)


@router.post("/oidc/authorize")
def decide(
    request: Request,
    db: SessionDep,
    decision: Annotated[str, Form()],
    csrf: Annotated[str | None, Form()] = None,
    response_type: Annotated[str | None, Form()] = None,
    client_id: Annotated[str | None, Form()] = None,
    redirect_uri: Annotated[str | None, Form()] = None,
    scope: Annotated[str | None, Form()] = None,
    state: Annotated[str | None, Form()] = None,
    nonce: Annotated[str | None, Form()] = None,
    code_challenge: Annotated[str | None, Form()] = None,
    code_challenge_method: Annotated[str | None, Form()] = None,
    prompt: Annotated[str | None, Form()] = None,
) -> Response:
    """Take the citizen's answer on the consent page."""
    check_csrf(request, csrf)
    if decision not in ("allow", "deny"):
        raise Problem(400, "Unknown decision", "decision must be 'allow' or 'deny'")
    values = locals()
    params = [(name, values[name]) for name in AUTHORIZE_PARAMS if values[name] is not None]
    req = FormRequest("POST", str(request.url), request.headers, params)
    return _authorize(request, db, req, decision=decision)


def _authorize(request: Request, db: Session, req: FormRequest, decision: str | None) -> Response:
    provider = _provider(request, db)
    user = _session_user(request, db)
    try:
        grant = provider.get_consent_grant(req, end_user=user)
    except OAuth2Error as error:
        return _refuse(request, provider, req, error)
    if user is None:  # (with prompt=none Authlib has already answered login_required)
        params = {k: v for k, v in req.payload.datalist.items() if k != AFTER_SIGN_IN}
        query = urlencode({**params, AFTER_SIGN_IN: "1"}, doseq=True)
        return RedirectResponse(f"/signin?next={quote(f'/oidc/authorize?{query}', safe='')}", 303)
    after_sign_in = req.payload.data.get(AFTER_SIGN_IN) == "1"
    client: ClientView = req.client
    if decision == "deny":
        audit.record(db, user.username, "oidc.denied", client.row.client_id, provider.ip)
        denied: Response = provider.create_authorization_response(req, grant_user=None, grant=grant)
        return denied
    if decision is None and not _consented(db, user, client, req):
        if req.payload.data.get("prompt") == "none":
            refusal = ConsentRequiredError(redirect_uri=req.payload.redirect_uri)
            refusal.state = req.payload.state
            return _refuse(request, provider, req, refusal)
        return _consent_page(request, user, client, req)
    if decision == "allow":
        _remember_consent(db, user, client, req.scope or "")
    granted: Response = provider.create_authorization_response(req, grant_user=user, grant=grant)
    if after_sign_in and decision is None and granted.status_code == 302:
        return _continue_page(request, user, client, granted.headers["location"])
    return granted


def _continue_page(request: Request, user: User, client: ClientView, target: str) -> Response:
    # Straight after the sign-in form, a redirect to the client would be the last hop of
    # that form's post, which Chromium checks against the sign-in page's CSP form-action
    # ('self') and blocks. A page that moves on by itself is a new navigation.
    response = render(
        request,
        "oidc_continue.html",
        principal_for(user, "session"),
        client_name=client.row.name,
        target=target,
    )
    response.headers["cache-control"] = "no-store"
    return response


def _consented(db: Session, user: User, client: ClientView, req: FormRequest) -> bool:
    if "consent" in (req.payload.data.get("prompt") or "").split():
        return False
    if client.row.trusted:
        return True
    consent = db.scalars(
        select(OidcConsent).where(
            OidcConsent.user_id == user.id, OidcConsent.client_id == client.row.id
        )
    ).first()
    return consent is not None and set((req.scope or "").split()) <= set(consent.scope.split())


def _remember_consent(db: Session, user: User, client: ClientView, scope: str) -> None:
    consent = db.scalars(
        select(OidcConsent).where(
            OidcConsent.user_id == user.id, OidcConsent.client_id == client.row.id
        )
    ).first()
    if consent is None:
        consent = OidcConsent(user_id=user.id, client_id=client.row.id, scope="")
        db.add(consent)
    consent.scope = " ".join(s for s in SCOPES if s in set(scope.split() + consent.scope.split()))
    consent.granted_at = utcnow()
    audit.record(db, user.username, "oidc.consented", client.row.client_id, scope=consent.scope)


def _consent_page(request: Request, user: User, client: ClientView, req: FormRequest) -> Response:
    redirect = urlsplit(req.payload.redirect_uri or "")
    response = render(
        request,
        "oidc_consent.html",
        principal_for(user, "session"),
        client_name=client.row.name,
        scopes=[
            {"en": SCOPE_TEXT[s][0], "ko": SCOPE_TEXT[s][1]} for s in (req.scope or "").split()
        ],
        redirect_host=redirect.netloc,
        params=[(n, req.payload.data[n]) for n in AUTHORIZE_PARAMS if n in req.payload.data],
    )
    # Chromium applies form-action to the redirects that follow a form post, so this page
    # (and only this page) may post to a form whose answer redirects to the client.
    from citysmart.portal.app import CSP  # here: the app module imports this one

    origin = f"{redirect.scheme}://{redirect.netloc}"
    response.headers["content-security-policy"] = CSP.replace(
        "form-action 'self'", f"form-action 'self' {origin}"
    )
    response.headers["cache-control"] = "no-store"
    return response


def _refuse(request: Request, provider: Provider, req: FormRequest, error: OAuth2Error) -> Response:
    if error.redirect_uri:
        # The client and its redirect URI are known good: tell the client (RFC 6749 4.1.2.1).
        response: Response = provider.handle_error_response(req, error)
        return response
    return render(
        request,
        "oidc_error.html",
        None,
        400,
        error=error.error,
        description=error.description or error.error,
    )


@router.post("/oidc/token")
def issue_token(
    request: Request,
    db: SessionDep,
    grant_type: Annotated[str | None, Form()] = None,
    code: Annotated[str | None, Form()] = None,
    redirect_uri: Annotated[str | None, Form()] = None,
    code_verifier: Annotated[str | None, Form()] = None,
    client_id: Annotated[str | None, Form()] = None,
    client_secret: Annotated[str | None, Form()] = None,
    refresh_token: Annotated[str | None, Form()] = None,
    scope: Annotated[str | None, Form()] = None,
) -> Response:
    """Exchange a code (with its PKCE verifier) or a refresh token for tokens."""
    values = locals()
    names = (
        "grant_type", "code", "redirect_uri", "code_verifier", "client_id", "client_secret",
        "refresh_token", "scope",
    )  # fmt: skip
    params = [(name, values[name]) for name in names if values[name] is not None]
    req = FormRequest("POST", str(request.url), request.headers, params)
    response: Response = _provider(request, db).create_token_response(req)
    return response


@router.api_route("/oidc/userinfo", methods=["GET", "POST"])
def read_userinfo(request: Request, db: SessionDep) -> Response:
    """Return the signed-in citizen's claims for a live access token."""
    scheme, _, secret = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return _bearer_error("invalid_request", "send 'Authorization: Bearer <access token>'")
    token = db.scalars(
        select(OidcToken).where(OidcToken.access_hash == digest_secret(secret.strip()))
    ).first()
    if token is None or token.revoked_at is not None or token.expires_at <= utcnow():
        return _bearer_error("invalid_token", "the access token is unknown, revoked or expired")
    user = db.get(User, token.user_id)
    if user is None or not user.is_active or "openid" not in token.scope.split():
        return _bearer_error("invalid_token", "the token was not issued for OpenID Connect")
    claims: dict[str, Any] = user_claims(user, subject_of(db, user), token.scope)
    return JSONResponse(claims, headers={"Cache-Control": "no-store"})


def _bearer_error(error: str, description: str) -> Response:
    status = 400 if error == "invalid_request" else 401
    return JSONResponse(
        {"error": error, "error_description": description},
        status,
        headers={"WWW-Authenticate": f'Bearer error="{error}", error_description="{description}"'},
    )
