"""Each user's public subject identifier: a random UUID, made on first sign-in to a service."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from citysmart.core.models import User
from citysmart.portal.oidc.models import OidcSubject


def subject_of(session: Session, user: User) -> str:
    """Return the user's ``sub``, stable across services and never the row number."""
    row = session.get(OidcSubject, user.id)
    if row is None:
        row = OidcSubject(user_id=user.id, sub=str(uuid.uuid4()))
        session.add(row)
        session.flush()
    return row.sub
