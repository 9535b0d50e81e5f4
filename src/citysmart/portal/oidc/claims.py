"""Which claims about a citizen a relying party gets, by scope (pure, no database)."""

from __future__ import annotations

from typing import Any, Protocol


class ClaimSource(Protocol):
    """What the claims are read from (a ``citysmart.core.models.User``)."""

    username: str
    display_name: str | None
    email: str | None
    locale: str
    role: str
    verified_at: Any
    blocked_at: Any


def user_claims(user: ClaimSource, sub: str, scope: str) -> dict[str, Any]:
    """Return ``sub`` and the claims the granted scopes allow.

    ``profile``: preferred_username, name, locale, and citysmart's own ``citysmart_role``
    (citizen, moderator, operator, admin ...) and ``citysmart_verified`` (residence
    verified, so the citizen may vote and join trials); ``email``: email and email_verified.
    """
    scopes = set(scope.split())
    claims: dict[str, Any] = {"sub": sub}
    if "profile" in scopes:
        claims.update(
            preferred_username=user.username,
            name=user.display_name or user.username,
            locale=user.locale,
            citysmart_role=user.role,
            citysmart_verified=user.verified_at is not None,
            citysmart_blocked=user.blocked_at is not None,
        )
    if "email" in scopes and user.email:
        # The portal does not confirm addresses yet, so it does not vouch for them.
        claims.update(email=user.email, email_verified=False)
    return claims
