"""The operator console: every page a user's role grants, from the hub and each service."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from citysmart.core import roles
from citysmart.core.auth import OptionalPrincipal
from citysmart.core.service import Page, ServiceManifest
from citysmart.portal.pages import render

router = APIRouter(include_in_schema=False)

# The hub's own pages for staff (the portal is not a service, so they are listed here).
HUB_PAGES = (Page("/hub/explorer", "Hub explorer", "허브 탐색기", role=roles.OPERATOR),)


@dataclass(frozen=True, slots=True)
class ConsoleGroup:
    """The console pages of one part of the platform (the hub, or one service)."""

    title: str
    pages: tuple[Page, ...]
    name: str = ""  # the service's name; "" for the hub


def may_use(page: Page, role: str | None) -> bool:
    """Whether a user holding ``role`` (None: anonymous) may use the page."""
    if page.role is None:
        return True
    return role is not None and roles.grants(role, page.role)


def console_groups(manifests: Sequence[ServiceManifest], role: str | None) -> list[ConsoleGroup]:
    """Return the console's groups for a role: pages with a role that ``role`` grants."""
    groups = [ConsoleGroup("Data hub", HUB_PAGES)]
    groups += [ConsoleGroup(m.title, m.pages, m.name) for m in manifests]
    chosen = []
    for group in groups:
        pages = tuple(p for p in group.pages if p.role is not None and may_use(p, role))
        if pages:
            chosen.append(ConsoleGroup(group.title, pages, group.name))
    return chosen


@router.get("/console")
def console(request: Request, principal: OptionalPrincipal) -> Response:
    """List the staff pages the signed-in user's role grants."""
    if principal is None:
        return RedirectResponse("/signin?next=/console", status_code=303)
    groups = console_groups(request.app.state.services, principal.role)
    if not groups:
        return render(request, "forbidden.html", principal, 403, needed=roles.OPERATOR)
    return render(request, "console.html", principal, groups=groups)
