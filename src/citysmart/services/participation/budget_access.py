"""Who may run surveys and budgets (operators), and who may answer a survey."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from citysmart.core import roles
from citysmart.core.auth import CurrentPrincipal, Principal
from citysmart.core.errors import Problem


def is_operator(principal: Principal | None) -> bool:
    """Whether a user runs surveys and budgets (operators and admins)."""
    return principal is not None and roles.grants(principal.role, roles.OPERATOR)


def require_operator(principal: CurrentPrincipal) -> Principal:
    """Admit operators (and admins)."""
    if not is_operator(principal):
        raise Problem(
            403,
            "Forbidden",
            f"this needs the operator role; {principal.username} is {principal.role}",
        )
    return principal


def answer_problem(principal: Principal, audience: str) -> str | None:
    """Say why a user may not answer a survey for ``audience``, or None when they may."""
    if principal.blocked:
        return f"{principal.username} is blocked and may not take part"
    if audience == "verified" and not principal.verified:
        return (
            "only verified residents may answer this survey: verify your residence on your "
            "account page"
        )
    return None


OperatorDep = Annotated[Principal, Depends(require_operator)]
