"""Reports, automatic hiding, and what moderators do: hide, restore, block.

An item's hidden state lives here (``participation_moderation``, keyed by target type and
id), so any part asks :func:`is_hidden` without a column of its own. When the item's model
has a ``hidden_at`` column (the proposal does), it is kept equal too.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from citysmart.core import accounts, audit
from citysmart.core.auth import Principal
from citysmart.core.errors import Problem
from citysmart.core.models import User
from citysmart.core.time import utcnow
from citysmart.services.participation import comments as rules
from citysmart.services.participation.models_talk import (
    ModerationAction,
    ModerationState,
    Report,
)
from citysmart.services.participation.talk_targets import Target, get_target


class ModerationSettings(BaseSettings):
    """Moderation settings, from CITYSMART_PARTICIPATION_* environment variables."""

    model_config = SettingsConfigDict(env_prefix="CITYSMART_PARTICIPATION_", extra="ignore")

    # Distinct reports that hide an item until a moderator looks at it.
    hide_after_reports: int = Field(default=3, ge=1, le=1000)


def hide_threshold() -> int:
    """Return how many distinct reports hide an item (env HIDE_AFTER_REPORTS, see above)."""
    return ModerationSettings().hide_after_reports


def is_hidden(session: Session, target_type: str, ids: list[int] | set[int]) -> set[int]:
    """Return which of the items (of one type) are hidden by moderation."""
    if not ids:
        return set()
    rows = session.scalars(
        select(ModerationState.target_id).where(
            ModerationState.target_type == target_type,
            ModerationState.target_id.in_(list(ids)),
            ModerationState.hidden_at.is_not(None),
        )
    )
    return set(rows)


def target_item(session: Session, target_type: str, target_id: int) -> tuple[Target, Any]:
    """Return a registered, existing, public item or raise a 404 problem saying which."""
    try:
        target = get_target(target_type)
    except LookupError as exc:
        raise Problem(422, "Unknown item type", str(exc)) from exc
    item = target.find(session, target_id)
    if item is None:
        raise Problem(404, "Not found", f"no {target.label or target_type} {target_id}")
    return target, item


def _state(session: Session, target_type: str, target_id: int) -> ModerationState:
    state = session.get(ModerationState, (target_type, target_id))
    if state is None:
        state = ModerationState(target_type=target_type, target_id=target_id, open_reports=0)
        session.add(state)
        session.flush()
    return state


def _set_hidden(session: Session, state: ModerationState, when: dt.datetime | None) -> None:
    state.hidden_at = when
    target = get_target(state.target_type)
    item = session.get(target.model(), state.target_id)
    if item is None:
        return
    if hasattr(item, "hidden_at"):
        item.hidden_at = when
    if target.on_visibility_change is not None:
        session.flush()
        target.on_visibility_change(session, item)


def _act(
    session: Session,
    actor: Principal | None,
    action: str,
    target_type: str,
    target_id: int,
    note: str = "",
    **detail: Any,
) -> None:
    session.add(
        ModerationAction(
            moderator_id=actor.user_id if actor else None,
            action=action,
            target_type=target_type,
            target_id=target_id,
            note=note,
        )
    )
    audit.record(
        session,
        actor.username if actor else "moderation",
        f"participation.{action}",
        f"{target_type}:{target_id}",
        note=note or None,
        **detail,
    )


def report_item(
    session: Session,
    reporter: Principal,
    target_type: str,
    target_id: int,
    reason: str,
    note: str = "",
) -> dict[str, Any]:
    """Report an item (once per user); hide it when the distinct reports reach the threshold."""
    try:
        rules.check_reason(reason)
        note = rules.clean_text(note, rules.NOTE_MAX, "note", required=False)
    except rules.RuleError as exc:
        raise Problem(422, "Invalid report", str(exc)) from exc
    target_item(session, target_type, target_id)
    existing = session.scalars(
        select(Report).where(
            Report.target_type == target_type,
            Report.target_id == target_id,
            Report.reporter_id == reporter.user_id,
        )
    ).first()
    if existing is not None:
        raise Problem(409, "Already reported", "you have already reported this item")
    try:
        with session.begin_nested():
            session.add(
                Report(
                    target_type=target_type,
                    target_id=target_id,
                    reporter_id=reporter.user_id,
                    reason=reason,
                    note=note,
                )
            )
    except IntegrityError as exc:  # the same user's report, sent twice at once
        raise Problem(409, "Already reported", "you have already reported this item") from exc
    state = _state(session, target_type, target_id)
    state.open_reports = _open_reports(session, target_type, target_id)
    audit.record(
        session,
        reporter.username,
        "participation.report",
        f"{target_type}:{target_id}",
        reason=reason,
    )
    threshold = hide_threshold()
    hidden_now = False
    if state.hidden_at is None and rules.should_hide(state.open_reports, threshold):
        _set_hidden(session, state, utcnow())
        state.hidden_by = "reports"
        _act(session, None, "auto_hide", target_type, target_id, reports=state.open_reports)
        hidden_now = True
    session.flush()
    return {
        "target_type": target_type,
        "target_id": target_id,
        "open_reports": state.open_reports,
        "hidden": state.hidden_at is not None,
        "hidden_now": hidden_now,
    }


def _open_reports(session: Session, target_type: str, target_id: int) -> int:
    count = session.scalar(
        select(func.count())
        .select_from(Report)
        .where(
            Report.target_type == target_type,
            Report.target_id == target_id,
            Report.dismissed_at.is_(None),
        )
    )
    return int(count or 0)


def hide(
    session: Session, moderator: Principal, target_type: str, target_id: int, note: str = ""
) -> ModerationState:
    """Hide an item from the public (audited)."""
    note = _note(note)
    try:
        get_target(target_type)
    except LookupError as exc:
        raise Problem(422, "Unknown item type", str(exc)) from exc
    if session.get(get_target(target_type).model(), target_id) is None:
        raise Problem(404, "Not found", f"no {target_type} {target_id}")
    state = _state(session, target_type, target_id)
    if state.hidden_at is None:
        _set_hidden(session, state, utcnow())
    state.hidden_by = "moderator"
    state.reviewed_at = utcnow()
    _act(session, moderator, "hide", target_type, target_id, note)
    session.flush()
    return state


def restore(
    session: Session, moderator: Principal, target_type: str, target_id: int, note: str = ""
) -> ModerationState:
    """Show a hidden item again and dismiss its reports (audited)."""
    note = _note(note)
    state = session.get(ModerationState, (target_type, target_id))
    if state is None:
        raise Problem(404, "Not found", f"{target_type} {target_id} was never reported or hidden")
    now = utcnow()
    dismissed = session.execute(
        update(Report)
        .where(
            Report.target_type == target_type,
            Report.target_id == target_id,
            Report.dismissed_at.is_(None),
        )
        .values(dismissed_at=now)
    )
    _set_hidden(session, state, None)
    state.hidden_by = None
    state.open_reports = 0
    state.reviewed_at = now
    _act(
        session,
        moderator,
        "restore",
        target_type,
        target_id,
        note,
        dismissed=getattr(dismissed, "rowcount", 0),
    )
    session.flush()
    return state


def block(session: Session, moderator: Principal, username: str, reason: str = "") -> User:
    """Block a user from posting and taking part (audited); they may still sign in and read."""
    reason = _note(reason)
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise Problem(404, "Not found", f"no user {username!r}")
    if user.id == moderator.user_id:
        raise Problem(409, "Cannot block yourself", "a moderator cannot block their own account")
    accounts.block_user(session, username, moderator.username, reason)
    _act(session, moderator, "block", "user", user.id, reason, username=username)
    session.flush()
    return user


def unblock(session: Session, moderator: Principal, username: str, reason: str = "") -> User:
    """Lift a user's block (audited)."""
    reason = _note(reason)
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise Problem(404, "Not found", f"no user {username!r}")
    accounts.unblock_user(session, username, moderator.username, reason)
    _act(session, moderator, "unblock", "user", user.id, reason, username=username)
    session.flush()
    return user


def _note(note: str) -> str:
    try:
        return rules.clean_text(note, rules.NOTE_MAX, "note", required=False)
    except rules.RuleError as exc:
        raise Problem(422, "Invalid note", str(exc)) from exc


def queue(session: Session, include_reviewed: bool = False) -> list[dict[str, Any]]:
    """Return the items awaiting a moderator: reported or hidden, most reported first."""
    query = select(ModerationState)
    if not include_reviewed:
        query = query.where(
            (ModerationState.open_reports > 0) | ModerationState.hidden_at.is_not(None)
        )
    states = session.scalars(query).all()
    items = []
    for state in states:
        reports = session.scalars(
            select(Report)
            .where(
                Report.target_type == state.target_type,
                Report.target_id == state.target_id,
                Report.dismissed_at.is_(None),
            )
            .order_by(Report.created_at)
        ).all()
        items.append(
            {
                "target_type": state.target_type,
                "target_id": state.target_id,
                "hidden": state.hidden_at is not None,
                "hidden_at": state.hidden_at,
                "hidden_by": state.hidden_by,
                "open_reports": state.open_reports,
                "reasons": dict(Counter(r.reason for r in reports)),
                "notes": [r.note for r in reports if r.note],
                "last_report_at": reports[-1].created_at if reports else None,
                **_preview(session, state.target_type, state.target_id),
            }
        )
    items.sort(key=lambda i: (-i["open_reports"], i["target_type"], i["target_id"]))
    return items


def _preview(session: Session, target_type: str, target_id: int) -> dict[str, Any]:
    """Return what a moderator needs to judge an item: its text, author and page."""
    try:
        target = get_target(target_type)
    except LookupError:
        return {"text": "", "author": None, "author_blocked": False, "link": None, "label": ""}
    item = session.get(target.model(), target_id)
    if item is None:
        return {
            "text": "(deleted)",
            "author": None,
            "author_blocked": False,
            "link": None,
            "label": target.label or target_type,
        }
    text = " · ".join(
        str(getattr(item, attr))
        for attr in ("title", "body", "description")
        if getattr(item, attr, None)
    )
    author = session.get(User, item.author_id) if getattr(item, "author_id", None) else None
    link = target.url(target_id)
    return {
        "text": text[:600],
        "author": author.username if author else None,
        "author_blocked": bool(author and author.blocked_at),
        "link": link,
        "label": target.label or target_type,
    }


def actions(session: Session, limit: int = 50) -> list[ModerationAction]:
    """Return the latest moderation actions, newest first."""
    return list(
        session.scalars(
            select(ModerationAction)
            .order_by(ModerationAction.at.desc(), ModerationAction.id.desc())
            .limit(limit)
        )
    )
