"""Portal pages: home, sign-in and sign-out, the hub explorer; services' templates and files."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated, Any

import jinja2
from fastapi import APIRouter, Form, Request
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.responses import RedirectResponse, Response

from citysmart.core import roles
from citysmart.core.accounts import authenticate_password
from citysmart.core.auth import OptionalPrincipal, SessionDep, check_csrf, csrf_token
from citysmart.core.errors import Problem
from citysmart.core.paths import data_dir
from citysmart.core.ratelimit import RateLimiter

router = APIRouter(include_in_schema=False)
# A service keeps its pages in citysmart/services/<name>/templates/ and its files in .../static/;
# they are found by folder, so the portal imports no service. A service's template is named
# "<name>/<file>" and may extend "base.html"; its files are served under
# /static/services/<name>/<file>.
SERVICES_DIR = Path(__file__).resolve().parent.parent / "services"


def _service_folders(kind: str) -> dict[str, Path]:
    """Map each service that has a ``kind`` folder ("templates", "static") to that folder."""
    return {f.name: f / kind for f in sorted(SERVICES_DIR.iterdir()) if (f / kind).is_dir()}


templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.ChoiceLoader(
            [
                jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                jinja2.PrefixLoader(
                    {
                        name: jinja2.FileSystemLoader(path)
                        for name, path in _service_folders("templates").items()
                    }
                ),
            ]
        ),
        autoescape=jinja2.select_autoescape(),
    )
)
_service_files = {
    name: StaticFiles(directory=path) for name, path in _service_folders("static").items()
}
sign_in_limiter = RateLimiter(limit=5, window_s=300)
BOUNDARIES = Path("sejong-admin-boundaries") / "sejong_emd_2018.geojson"
_boundaries: dict[Path, bytes] = {}
_boundaries_lock = threading.Lock()


def render(
    request: Request, name: str, principal: Any, status: int = 200, **context: Any
) -> Response:
    """Render a page with the layout's common context."""
    return templates.TemplateResponse(
        request,
        name,
        {
            "user": principal,
            "csrf": csrf_token(request),
            "services": request.app.state.services,
            **context,
        },
        status_code=status,
    )


@router.get("/")
def home(request: Request, principal: OptionalPrincipal) -> Response:
    """List the city's services and the hub."""
    return render(request, "home.html", principal)


@router.get("/signin")
def sign_in_form(request: Request, principal: OptionalPrincipal, next: str = "/") -> Response:  # noqa: A002
    """Show the sign-in form."""
    return render(request, "signin.html", principal, next=_safe_next(next), error=None)


@router.post("/signin")
def sign_in(
    request: Request,
    db: SessionDep,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    # Optional here so that a missing token is a CSRF failure (403), not a validation error.
    csrf: Annotated[str | None, Form()] = None,
    next: Annotated[str, Form()] = "/",  # noqa: A002
) -> Response:
    """Check the password and start a session."""
    check_csrf(request, csrf)
    ip = request.client.host if request.client else None
    key = f"{ip}|{username.lower()}"
    if not sign_in_limiter.hit(key):
        return render(
            request,
            "signin.html",
            None,
            429,
            next=_safe_next(next),
            error="Too many attempts. Wait five minutes and try again.",
            username=username,
        )
    user = authenticate_password(db, username, password, ip)
    if user is None:
        db.commit()  # the failed attempt stays in the audit log
        return render(
            request,
            "signin.html",
            None,
            401,
            next=_safe_next(next),
            error="Wrong user name or password.",
            username=username,
        )
    sign_in_limiter.reset(key)
    request.session.clear()  # a new session on sign-in: no fixation
    request.session["user_id"] = user.id
    csrf_token(request)
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/signout")
def sign_out(request: Request, csrf: Annotated[str | None, Form()] = None) -> Response:
    """End the session."""
    check_csrf(request, csrf)
    request.session.clear()
    return RedirectResponse("/", status_code=303)


@router.get("/hub/explorer")
def explorer(request: Request, principal: OptionalPrincipal) -> Response:
    """Show entities on a map of Sejong with their latest values and device status."""
    if principal is None:
        return RedirectResponse("/signin?next=/hub/explorer", status_code=303)
    if not roles.grants(principal.role, roles.OPERATOR):
        return render(request, "forbidden.html", principal, 403, needed=roles.OPERATOR)
    return render(request, "explorer.html", principal, timezone=request.app.state.settings.timezone)


@router.get("/hub/boundaries.geojson")
def read_boundaries() -> Response:
    """Serve Sejong's 17 eup/myeon/dong boundaries (KOSTAT 2018, public data) as GeoJSON."""
    path = data_dir() / BOUNDARIES
    with _boundaries_lock:
        body = _boundaries.get(path)
        if body is None:
            try:
                body = path.read_bytes()
            except OSError as exc:
                raise Problem(
                    503, "Boundaries unavailable", f"cannot read {path}: {exc.strerror}"
                ) from exc
            _boundaries[path] = body
    return Response(
        body,
        media_type="application/geo+json",
        headers={"Cache-Control": "public, max-age=86400"},
    )


def _safe_next(target: str) -> str:
    # Only local paths: an open redirect would let a link send people elsewhere after sign-in.
    return target if target.startswith("/") and not target.startswith("//") else "/"


@router.get("/static/services/{service}/{path:path}")
async def read_service_file(request: Request, service: str, path: str) -> Response:
    """Serve a file from a service's ``static/`` folder (its scripts, styles and images)."""
    files = _service_files.get(service)
    if files is None:
        raise Problem(404, "Not found", f"no service {service!r} with static files")
    return await files.get_response(path, request.scope)


@router.get("/docs")
def api_docs(request: Request, principal: OptionalPrincipal) -> Response:
    """Show the OpenAPI description of the API (Swagger UI, served locally)."""
    return render(request, "docs.html", principal)
