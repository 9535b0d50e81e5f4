"""What the account pages' form handlers share: who posts, from where, how often."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy.orm import Session

from citysmart.core.auth import Principal, principal_for
from citysmart.core.models import User
from citysmart.core.ratelimit import RateLimiter

# name: (events, window in seconds)
LIMITS = {
    "signup": (5, 3600.0),  # accounts per IP per hour (CITYSMART_SIGNUP_LIMIT_PER_HOUR)
    "forgot_ip": (10, 900.0),
    "forgot_email": (3, 3600.0),  # reset emails per address per hour: no mail bombing
    "password": (5, 900.0),  # password changes (current password guesses) per user
    "verify": (5, 900.0),  # verification attempts per user and per IP
}


def form_principal(request: Request, db: Session) -> Principal | None:
    """Return the session's user for a form POST whose CSRF field was already checked.

    ``OptionalPrincipal`` wants the CSRF token in a header on writes (for scripts); a
    plain HTML form sends it as a field, which the handler checks first.
    """
    user_id = request.session.get("user_id")
    user = db.get(User, int(user_id)) if user_id is not None else None
    if user is None or not user.is_active:
        return None
    return principal_for(user, "session")


def limit(request: Request, name: str, key: str) -> bool:
    """Count one event against a named limit; False when the key is over it.

    The limiters live on the app, so each app (each test) starts with none counted.
    """
    state = request.app.state
    limiters: dict[str, RateLimiter] | None = getattr(state, "account_limiters", None)
    if limiters is None:
        limiters = state.account_limiters = {}
    if name not in limiters:
        events, window_s = LIMITS[name]
        if name == "signup":
            events = request.app.state.settings.signup_limit_per_hour
        limiters[name] = RateLimiter(events, window_s)
    return limiters[name].hit(key)


def client_ip(request: Request) -> str:
    """Return the client's address (as the server sees it)."""
    return request.client.host if request.client else "unknown"
