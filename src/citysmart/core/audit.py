"""The audit log of security-relevant actions."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from citysmart.core.models import AuditEvent


def record(
    session: Session,
    actor: str,
    action: str,
    target: str | None = None,
    ip: str | None = None,
    **detail: Any,
) -> None:
    """Add an audit event to the session's transaction."""
    session.add(AuditEvent(actor=actor, action=action, target=target, ip=ip, detail=detail or None))
