"""The rebalancing plan's pages: the operator's plan (``/bikes/plan``) and the driver's route.

Both are rendered on the server from the same view of the active plan as the API
(``plan_routes.plan_public``), so they work without script; static/bikes_plan.js draws the
routes on a map, and static/bikes_driver.js reports a job done without leaving the page.
A driver's form also works without script: ``POST /bikes/driver/jobs/{id}/done`` with the
session's CSRF token answers with a redirect back to the route (303), or the page again with
what was wrong.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from citysmart.core import roles
from citysmart.core.auth import (
    OptionalPrincipal,
    Principal,
    SessionDep,
    check_csrf,
    principal_for,
)
from citysmart.core.errors import Problem
from citysmart.core.models import User
from citysmart.core.service import Page
from citysmart.core.time import parse_instant
from citysmart.portal.pages import render
from citysmart.services.bikes import plan_routes, plan_store

router = APIRouter(include_in_schema=False)
PLAN_PAGE = Page(
    path="/bikes/plan", title="Rebalancing plan", title_ko="재배치 계획", role=roles.OPERATOR
)
DRIVER_PAGE = Page(
    path="/bikes/driver", title="Truck route", title_ko="트럭 경로", role=plan_routes.DRIVER
)
API = "/api/v1/bikes/plans"


def may_drive(principal: Principal) -> bool:
    """Whether a user may read a route and report its jobs done (drivers and operators)."""
    return roles.grants(principal.role, plan_routes.DRIVER) or roles.grants(
        principal.role, roles.OPERATOR
    )


def local_time(iso: str | None, zone: ZoneInfo, with_date: bool = False) -> str:
    """Format an API instant in the city's zone: ``HH:MM``, or ``YYYY-MM-DD HH:MM``."""
    if not iso:
        return ""
    when = parse_instant(iso).astimezone(zone)
    return when.strftime("%Y-%m-%d %H:%M" if with_date else "%H:%M")


def km(metres: float) -> str:
    """Format a distance in kilometres with one decimal (``12.3``)."""
    return f"{metres / 1000:.1f}"


def hours_minutes(seconds: float) -> str:
    """Format a duration as ``H:MM``."""
    minutes = round(seconds / 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


def route_view(route: dict[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    """Add what the page shows to an API route: local ETAs, km, time, next and done jobs."""
    jobs = [
        {
            **job,
            "eta_local": local_time(job["eta"], zone),
            "eta_full": local_time(job["eta"], zone, with_date=True),
            "done_local": local_time(job["done_at"], zone),
        }
        for job in route["jobs"]
    ]
    pending = [j for j in jobs if not j["done"]]
    return {
        **route,
        "jobs": jobs,
        "km": km(route["distance_m"]),
        "time": hours_minutes(route["duration_s"]),
        "next": pending[0] if pending else None,
        "pending": pending,
        "finished": [j for j in jobs if j["done"]],
    }


def plan_view(plan: dict[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    """Add what the page shows to the API's plan: local times and each route's view."""
    return {
        **plan,
        "created_local": local_time(plan["created_at"], zone, with_date=True),
        "horizon_start_local": local_time(plan["horizon_start"], zone, with_date=True),
        "horizon_end_local": local_time(plan["horizon_end"], zone, with_date=True),
        "routes": [route_view(r, zone) for r in plan["routes"]],
    }


def _signed_in(request: Request, session: SessionDep) -> Principal | None:
    """Return the session's user for a form POST (the form's CSRF token is checked first)."""
    user_id = request.session.get("user_id")
    user = session.get(User, int(user_id)) if user_id is not None else None
    if user is None or not user.is_active:
        return None
    return principal_for(user, "session")


def _sign_in(path: str) -> Response:
    return RedirectResponse(f"/signin?next={quote(path, safe='/?=&')}", status_code=303)


def _zone(request: Request) -> ZoneInfo:
    return ZoneInfo(request.app.state.settings.timezone)


def _active_plan(request: Request, session: SessionDep) -> dict[str, Any] | None:
    """Return the page's view of the active plan (every truck), or None when there is none."""
    stored = plan_store.active_plan(session)
    if stored is None:
        return None
    return plan_view(plan_routes.plan_public(session, stored, None), _zone(request))


@router.get(PLAN_PAGE.path)
def read_plan_page(request: Request, session: SessionDep, principal: OptionalPrincipal) -> Response:
    """Show the active plan to an operator: summary, routes on a map, each truck's jobs."""
    if principal is None:
        return _sign_in(PLAN_PAGE.path)
    if not roles.grants(principal.role, roles.OPERATOR):
        return render(request, "forbidden.html", principal, 403, needed=roles.OPERATOR)
    plan = _active_plan(request, session)
    return render(
        request,
        "bikes/plan.html",
        principal,
        plan=plan,
        api=API,
        timezone=request.app.state.settings.timezone,
    )


def _driver_page(
    request: Request,
    session: SessionDep,
    principal: Principal,
    truck: str | None,
    status: int = 200,
    error: str | None = None,
) -> Response:
    """Render the driver's page: the truck picker and, for a chosen truck, its jobs."""
    plan = _active_plan(request, session)
    trucks = [(r["truck"], r["truck_name"]) for r in plan["routes"]] if plan else []
    if truck is None and len(trucks) == 1:
        truck = trucks[0][0]  # one truck on the road: nothing to pick
    route = None
    missing = None
    if plan is not None and truck is not None:
        route = next((r for r in plan["routes"] if r["truck"] == truck), None)
        if route is None:
            missing = truck
            status = max(status, 404)
    return render(
        request,
        "bikes/driver.html",
        principal,
        status,
        plan=plan,
        trucks=trucks,
        truck=truck,
        route=route,
        missing=missing,
        error=error,
        api=API,
    )


@router.get(DRIVER_PAGE.path)
def read_driver_page(
    request: Request,
    session: SessionDep,
    principal: OptionalPrincipal,
    truck: str | None = None,
) -> Response:
    """Show a driver their truck's route: the next job, those left and those done."""
    here = DRIVER_PAGE.path + (f"?truck={truck}" if truck else "")
    if principal is None:
        return _sign_in(here)
    if not may_drive(principal):
        return render(request, "forbidden.html", principal, 403, needed=plan_routes.DRIVER)
    return _driver_page(request, session, principal, truck or None)


@router.post(f"{DRIVER_PAGE.path}/jobs/{{job_id}}/done")
def mark_job_done_from_form(
    request: Request,
    session: SessionDep,
    job_id: int,
    bikes: Annotated[str, Form()] = "",
    truck: Annotated[str | None, Form()] = None,
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """Report a job done from the driver's page without script."""
    check_csrf(request, csrf)
    principal = _signed_in(request, session)
    back = DRIVER_PAGE.path + (f"?truck={quote(truck)}" if truck else "")
    if principal is None:
        return _sign_in(back)
    if not may_drive(principal):
        return render(request, "forbidden.html", principal, 403, needed=plan_routes.DRIVER)
    try:
        count = int(bikes.strip())
    except ValueError:
        message = f"Enter the bikes really moved as a whole number, not {bikes.strip()!r}."
        return _driver_page(request, session, principal, truck, 400, message)
    try:
        plan_routes.mark_job_done(job_id, plan_routes.JobDone(bikes=count), session, principal)
    except Problem as problem:
        return _driver_page(request, session, principal, truck, problem.status, problem.detail)
    return RedirectResponse(back, status_code=303)


__all__ = ["DRIVER_PAGE", "PLAN_PAGE", "router"]
