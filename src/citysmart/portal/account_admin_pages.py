"""The admin's residents page: census import, one-time codes, blocking users."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from citysmart.core import roles
from citysmart.core.accounts import AccountError, block_user, unblock_user
from citysmart.core.auth import OptionalPrincipal, Principal, SessionDep, check_csrf
from citysmart.core.census import CensusError
from citysmart.core.verification import census_size, import_census, issue_code, open_codes
from citysmart.portal.account_forms import form_principal
from citysmart.portal.pages import render

router = APIRouter(include_in_schema=False)
PAGE = "/admin/residents"
MAX_CENSUS_BYTES = 20 * 1024 * 1024
DONE = {
    "blocked": "The user is blocked. 사용자를 차단했습니다.",
    "unblocked": "The user is unblocked. 차단을 풀었습니다.",
}


def _refuse(request: Request, principal: Principal | None) -> Response | None:
    """Return the answer for someone who is not an admin, or None for an admin."""
    if principal is None:
        return RedirectResponse(f"/signin?next={PAGE}", status_code=303)
    if not roles.grants(principal.role, roles.ADMIN):
        return render(request, "forbidden.html", principal, 403, needed=roles.ADMIN)
    return None


def _page(
    request: Request, db: Session, principal: Principal, status: int = 200, **context: object
) -> Response:
    records, used = census_size(db)
    response = render(
        request,
        "admin_residents.html",
        principal,
        status,
        census_records=records,
        census_used=used,
        codes=open_codes(db),
        done=DONE.get(request.query_params.get("done", "")),
        census_result=context.get("census_result"),
        census_error=context.get("census_error"),
        new_code=context.get("new_code"),
        code_error=context.get("code_error"),
        block_error=context.get("block_error"),
    )
    response.headers["Cache-Control"] = "no-store"  # a new code is shown once
    return response


@router.get(PAGE)
def read_residents(request: Request, db: SessionDep, principal: OptionalPrincipal) -> Response:
    """Show the census, the open codes and the block form (admins only)."""
    refused = _refuse(request, principal)
    if refused is not None or principal is None:
        return refused or Response(status_code=401)
    return _page(request, db, principal)


@router.post(f"{PAGE}/census")
async def upload_census(
    request: Request,
    db: SessionDep,
    file: Annotated[UploadFile | None, File()] = None,
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """Import a census CSV (all or nothing)."""
    check_csrf(request, csrf)
    principal = form_principal(request, db)
    refused = _refuse(request, principal)
    if refused is not None or principal is None:
        return refused or Response(status_code=401)
    data = await file.read(MAX_CENSUS_BYTES + 1) if file is not None else b""
    try:
        if not data:
            raise CensusError(0, "choose a CSV file")
        if len(data) > MAX_CENSUS_BYTES:
            raise CensusError(0, f"the file is larger than {MAX_CENSUS_BYTES // 2**20} MB")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CensusError(0, f"the file is not UTF-8 text ({exc.reason})") from None
        secret = request.app.state.settings.secret_key
        result = import_census(db, text, secret, principal.username)
    except CensusError as exc:
        return _page(request, db, principal, 400, census_error=f"Nothing imported: {exc}")
    db.flush()
    return _page(request, db, principal, census_result=result)


@router.post(f"{PAGE}/codes")
def create_code(
    request: Request,
    db: SessionDep,
    for_username: Annotated[str, Form()] = "",
    days: Annotated[str, Form()] = "30",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """Issue a one-time verification code, shown on this answer only."""
    check_csrf(request, csrf)
    principal = form_principal(request, db)
    refused = _refuse(request, principal)
    if refused is not None or principal is None:
        return refused or Response(status_code=401)
    try:
        lifetime = int(days)
        code, _ = issue_code(db, principal.username, for_username.strip() or None, lifetime)
    except ValueError as exc:  # AccountError, or days that are not a number
        message = str(exc) if isinstance(exc, AccountError) else "days must be a whole number"
        db.rollback()
        return _page(request, db, principal, 400, code_error=message)
    db.flush()
    return _page(request, db, principal, new_code=code)


@router.post(f"{PAGE}/block")
def change_block(
    request: Request,
    db: SessionDep,
    username: Annotated[str, Form()] = "",
    action: Annotated[str, Form()] = "block",
    reason: Annotated[str, Form()] = "",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """Block or unblock a user (they keep signing in and reading)."""
    check_csrf(request, csrf)
    principal = form_principal(request, db)
    refused = _refuse(request, principal)
    if refused is not None or principal is None:
        return refused or Response(status_code=401)
    change = unblock_user if action == "unblock" else block_user
    try:
        change(db, username.strip(), principal.username, reason)
    except AccountError as exc:
        return _page(request, db, principal, 400, block_error=str(exc))
    done = "unblocked" if action == "unblock" else "blocked"
    return RedirectResponse(f"{PAGE}?done={done}", status_code=303)
