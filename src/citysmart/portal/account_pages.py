"""Account pages: sign-up, profile, password change and reset, residence verification.

Thin routes over ``core.accounts``, ``core.password_reset`` and ``core.verification``.
Every form carries the session's CSRF token; sign-up, reset requests, password changes and
verification attempts are rate-limited (per app, so each test app starts afresh).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from citysmart.core import password_reset, profile
from citysmart.core.accounts import AccountError, change_password, sign_up, update_profile
from citysmart.core.admin_areas import load_admin_areas
from citysmart.core.auth import OptionalPrincipal, Principal, SessionDep, check_csrf, csrf_token
from citysmart.core.mail import email_backend
from citysmart.core.models import User
from citysmart.core.verification import verify_by_census, verify_by_code
from citysmart.portal.account_admin_pages import router as admin_router
from citysmart.portal.account_forms import client_ip, form_principal, limit
from citysmart.portal.pages import render

router = APIRouter(include_in_schema=False)
router.include_router(admin_router)

TOO_MANY = (
    "Too many attempts. Wait a while and try again. 시도가 너무 많습니다. 잠시 후 다시 시도하세요."
)
SAVED = {
    "profile": "Your profile is saved. 프로필을 저장했습니다.",
    "password": "Your password is changed. 비밀번호를 바꿨습니다.",
    "verified": "You are a verified resident of Sejong. 세종시 주민 인증이 끝났습니다.",
    "welcome": "Welcome! Your account is ready. 가입을 환영합니다.",
}
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _me(db: Session, principal: Principal | None) -> User | None:
    """Return the signed-in user's row (a session, not a token, signs in to pages)."""
    return db.get(User, principal.user_id) if principal else None


def _to_signin(path: str) -> Response:
    return RedirectResponse(f"/signin?next={path}", status_code=303)


# --- sign-up ---------------------------------------------------------------------------


@router.get("/signup")
def sign_up_form(request: Request, principal: OptionalPrincipal) -> Response:
    """Show the sign-up form."""
    if principal is not None:
        return RedirectResponse("/account", status_code=303)
    return render(request, "signup.html", None, form={"locale": "ko"}, error=None)


@router.post("/signup")
def create_account(
    request: Request,
    db: SessionDep,
    username: Annotated[str, Form()] = "",
    display_name: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    password2: Annotated[str, Form()] = "",
    locale: Annotated[str, Form()] = "ko",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """Create a citizen's account and sign them in."""
    check_csrf(request, csrf)
    form = {"username": username, "display_name": display_name, "email": email, "locale": locale}
    ip = client_ip(request)
    if not limit(request, "signup", ip):
        return render(request, "signup.html", None, 429, form=form, error=TOO_MANY)
    try:
        profile.check_new_password(password, password2)
        user = sign_up(db, username.strip(), display_name, email, password, locale, ip)
    except (AccountError, profile.ProfileError) as exc:
        return render(request, "signup.html", None, 400, form=form, error=str(exc))
    db.flush()
    request.session.clear()
    request.session["user_id"] = user.id
    csrf_token(request)
    return RedirectResponse("/account?saved=welcome", status_code=303)


# --- the profile -----------------------------------------------------------------------


def _account_page(
    request: Request,
    db: Session,
    principal: Principal,
    status: int = 200,
    error: str | None = None,
    form: dict[str, str] | None = None,
    password_error: str | None = None,
) -> Response:
    user = _me(db, principal)
    assert user is not None
    saved = SAVED.get(request.query_params.get("saved", ""))
    return render(
        request,
        "account.html",
        principal,
        status,
        account=user,
        form=form
        or {
            "display_name": user.display_name or "",
            "email": user.email or "",
            "locale": user.locale,
        },
        error=error,
        password_error=password_error,
        saved=saved,
    )


@router.get("/account")
def read_account(request: Request, db: SessionDep, principal: OptionalPrincipal) -> Response:
    """Show one's profile, verification status and password form."""
    if principal is None or _me(db, principal) is None:
        return _to_signin("/account")
    return _account_page(request, db, principal)


@router.post("/account")
def update_account(
    request: Request,
    db: SessionDep,
    display_name: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    locale: Annotated[str, Form()] = "ko",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """Save one's display name, email address and language."""
    check_csrf(request, csrf)
    principal = form_principal(request, db)
    if principal is None:
        return _to_signin("/account")
    try:
        update_profile(db, principal.username, display_name, email, locale)
    except AccountError as exc:
        db.rollback()
        form = {"display_name": display_name, "email": email, "locale": locale}
        return _account_page(request, db, principal, 400, error=str(exc), form=form)
    return RedirectResponse("/account?saved=profile", status_code=303)


@router.post("/account/password")
def update_password(
    request: Request,
    db: SessionDep,
    current: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    password2: Annotated[str, Form()] = "",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """Change one's password, given the current one."""
    check_csrf(request, csrf)
    principal = form_principal(request, db)
    if principal is None:
        return _to_signin("/account")
    if not limit(request, "password", principal.username):
        return _account_page(request, db, principal, 429, password_error=TOO_MANY)
    try:
        profile.check_new_password(password, password2)
        change_password(db, principal.username, current, password, client_ip(request))
    except (AccountError, profile.ProfileError) as exc:
        db.commit()  # a wrong current password stays in the audit log
        return _account_page(request, db, principal, 400, password_error=str(exc))
    return RedirectResponse("/account?saved=password", status_code=303)


# --- residence verification ----------------------------------------------------------------


def _verify_page(
    request: Request, db: Session, principal: Principal, status: int = 200, **context: object
) -> Response:
    user = _me(db, principal)
    return render(
        request,
        "account_verify.html",
        principal,
        status,
        account=user,
        areas=load_admin_areas(),
        census_error=context.get("census_error"),
        code_error=context.get("code_error"),
        form=context.get("form") or {},
    )


@router.get("/account/verify")
def verify_form(request: Request, db: SessionDep, principal: OptionalPrincipal) -> Response:
    """Show the two ways to verify residence: the census and a one-time code."""
    if principal is None or _me(db, principal) is None:
        return _to_signin("/account/verify")
    return _verify_page(request, db, principal)


def _verify_allowed(request: Request, principal: Principal) -> bool:
    return limit(request, "verify", f"user|{principal.username}") and limit(
        request, "verify", f"ip|{client_ip(request)}"
    )


@router.post("/account/verify/census")
def verify_census(
    request: Request,
    db: SessionDep,
    name: Annotated[str, Form()] = "",
    birth_date: Annotated[str, Form()] = "",
    address_code: Annotated[str, Form()] = "",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """Verify residence by matching the census."""
    check_csrf(request, csrf)
    principal = form_principal(request, db)
    if principal is None:
        return _to_signin("/account/verify")
    # The name and birth date are not echoed back: the form keeps only the chosen area.
    form = {"address_code": address_code}
    if not _verify_allowed(request, principal):
        return _verify_page(request, db, principal, 429, census_error=TOO_MANY, form=form)
    secret = request.app.state.settings.secret_key
    try:
        verify_by_census(
            db, principal.username, name, birth_date, address_code, secret, client_ip(request)
        )
    except AccountError as exc:
        db.commit()  # the failed attempt stays in the audit log
        return _verify_page(request, db, principal, 400, census_error=str(exc), form=form)
    return RedirectResponse("/account?saved=verified", status_code=303)


@router.post("/account/verify/code")
def verify_code(
    request: Request,
    db: SessionDep,
    code: Annotated[str, Form()] = "",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """Verify residence with a one-time code."""
    check_csrf(request, csrf)
    principal = form_principal(request, db)
    if principal is None:
        return _to_signin("/account/verify")
    if not _verify_allowed(request, principal):
        return _verify_page(request, db, principal, 429, code_error=TOO_MANY)
    try:
        verify_by_code(db, principal.username, code, client_ip(request))
    except AccountError as exc:
        db.commit()  # the failed attempt stays in the audit log
        return _verify_page(request, db, principal, 400, code_error=str(exc))
    return RedirectResponse("/account?saved=verified", status_code=303)


# --- password reset ----------------------------------------------------------------------


@router.get("/password/forgot")
def forgot_form(request: Request, principal: OptionalPrincipal) -> Response:
    """Ask for the address to send a reset link to."""
    return render(request, "password_forgot.html", principal, sent=False, error=None)


@router.post("/password/forgot")
def send_reset_link(
    request: Request,
    db: SessionDep,
    email: Annotated[str, Form()] = "",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """Email a reset link; answer the same whether or not an account uses the address."""
    check_csrf(request, csrf)
    principal = form_principal(request, db)
    ip = client_ip(request)
    if not limit(request, "forgot_ip", ip):
        return render(request, "password_forgot.html", principal, 429, sent=False, error=TOO_MANY)
    settings = request.app.state.settings
    # The link's host comes from the configured public URL: taken from the request's Host
    # header, an attacker could have a victim's reset link point at their own site.
    base = settings.public_url or (
        str(request.base_url) if settings.environment == "development" else ""
    )
    if limit(request, "forgot_email", email.strip().lower()[:254]):
        password_reset.request_reset(
            db, email, email_backend(settings), settings.email_from, base, ip
        )
    return render(request, "password_forgot.html", principal, sent=True, error=None)


@router.get("/password/reset")
def reset_form(
    request: Request, db: SessionDep, principal: OptionalPrincipal, token: str = ""
) -> Response:
    """Show the new-password form for a live reset link."""
    valid = password_reset.user_for_reset(db, token) is not None
    response = render(
        request,
        "password_reset.html",
        principal,
        200 if valid else 400,
        token=token if valid else "",
        valid=valid,
        done=False,
        error=None if valid else password_reset.INVALID_LINK,
    )
    response.headers.update(NO_STORE)
    return response


@router.post("/password/reset")
def reset_password(
    request: Request,
    db: SessionDep,
    token: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    password2: Annotated[str, Form()] = "",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """Set a new password through a reset link (which then stops working)."""
    check_csrf(request, csrf)
    principal = form_principal(request, db)
    try:
        profile.check_new_password(password, password2)
        password_reset.reset_password(db, token, password, client_ip(request))
    except profile.ProfileError as exc:
        context = {"token": token, "valid": True, "done": False, "error": str(exc)}
        return render(request, "password_reset.html", principal, 400, **context)
    except AccountError as exc:
        db.commit()  # the failed attempt stays in the audit log
        context = {"token": "", "valid": False, "done": False, "error": str(exc)}
        return render(request, "password_reset.html", principal, 400, **context)
    request.session.clear()  # whoever was signed in here, the new password starts afresh
    response = render(
        request, "password_reset.html", None, token="", valid=False, done=True, error=None
    )
    response.headers.update(NO_STORE)
    return response
