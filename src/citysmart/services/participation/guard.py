"""Who may do what in participation: signed in to post, verified to decide, never blocked."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from citysmart.core import roles
from citysmart.core.auth import CurrentPrincipal, Principal
from citysmart.core.errors import Problem
from citysmart.core.ratelimit import RateLimiter

# Posting (proposals, comments, reports, opinions...): per user, 20 in 10 minutes.
post_limiter = RateLimiter(limit=20, window_s=600)


def require_poster(request: Request, principal: CurrentPrincipal) -> Principal:
    """Admit a signed-in user who is not blocked and not over the posting rate limit."""
    if principal.blocked:
        raise Problem(403, "Blocked", f"{principal.username} is blocked and may not post")
    if not post_limiter.hit(f"user:{principal.user_id}"):
        raise Problem(429, "Too many posts", "wait a few minutes before posting again")
    return principal


def require_verified(principal: CurrentPrincipal) -> Principal:
    """Admit a verified resident who is not blocked (to support, vote or join a trial)."""
    if principal.blocked:
        raise Problem(403, "Blocked", f"{principal.username} is blocked and may not take part")
    if not principal.verified:
        raise Problem(
            403,
            "Not a verified resident",
            "only verified residents may do this: verify your residence on your account page",
        )
    return principal


def require_moderator(principal: CurrentPrincipal) -> Principal:
    """Admit moderators (and the roles that include them)."""
    if not roles.grants(principal.role, roles.MODERATOR):
        raise Problem(
            403,
            "Forbidden",
            f"this needs the moderator role; {principal.username} is {principal.role}",
        )
    return principal


PosterDep = Annotated[Principal, Depends(require_poster)]
VerifiedDep = Annotated[Principal, Depends(require_verified)]
ModeratorDep = Annotated[Principal, Depends(require_moderator)]
