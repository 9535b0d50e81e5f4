"""The signed-in user's notifications as JSON: ``/api/v1/me/notifications``."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, model_validator

from citysmart.core.auth import CurrentPrincipal, SessionDep
from citysmart.core.errors import Problem
from citysmart.core.notifications import (
    MAX_LIST,
    Notification,
    list_notifications,
    mark_all_read,
    mark_read,
    unread_count,
)

router = APIRouter(prefix="/api/v1/me", tags=["notifications"])


class NotificationOut(BaseModel):
    """One notification."""

    id: int
    service: str
    kind: str
    title: str
    title_ko: str | None
    body: str | None
    link: str | None
    created_at: dt.datetime
    read_at: dt.datetime | None


class NotificationList(BaseModel):
    """A page of the user's notifications (unread first) and their unread count."""

    unread: int
    items: list[NotificationOut]


class ReadRequest(BaseModel):
    """Which notifications to mark read: some ``ids``, or ``all``."""

    ids: list[int] = Field(default_factory=list, max_length=MAX_LIST)
    all: bool = False

    @model_validator(mode="after")
    def _one_of(self) -> ReadRequest:
        if self.all == bool(self.ids):
            raise ValueError("send either 'ids' (a non-empty list) or 'all': true")
        return self


class ReadResult(BaseModel):
    """How many notifications were marked read, and how many are left unread."""

    marked: int
    unread: int


def _out(note: Notification) -> NotificationOut:
    return NotificationOut(
        id=note.id,
        service=note.service,
        kind=note.kind,
        title=note.title,
        title_ko=note.title_ko,
        body=note.body,
        link=note.link,
        created_at=note.created_at,
        read_at=note.read_at,
    )


@router.get("/notifications")
def read_notifications(
    principal: CurrentPrincipal,
    db: SessionDep,
    unread_only: bool = False,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> NotificationList:
    """List the user's notifications, unread first, newest first."""
    notes = list_notifications(
        db, principal.user_id, unread_only=unread_only, limit=limit, offset=offset
    )
    return NotificationList(
        unread=unread_count(db, principal.user_id), items=[_out(n) for n in notes]
    )


@router.post("/notifications/read")
def mark_notifications_read(
    body: ReadRequest, principal: CurrentPrincipal, db: SessionDep
) -> ReadResult:
    """Mark some (``ids``) or all (``all``) of the user's notifications read.

    One id that is not the user's (or does not exist) answers 404 and marks nothing.
    """
    if body.all:
        marked = mark_all_read(db, principal.user_id)
    else:
        result = mark_read(db, principal.user_id, body.ids)
        if result is None:
            raise Problem(404, "Not found", "one of the notifications is not yours or not there")
        marked = result
    return ReadResult(marked=marked, unread=unread_count(db, principal.user_id))
