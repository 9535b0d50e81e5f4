"""Comments, debates and moderation API under /api/v1/participation."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from citysmart.core.auth import CurrentPrincipal, OptionalPrincipal, Principal, SessionDep
from citysmart.core.errors import Problem
from citysmart.core.ratelimit import RateLimiter
from citysmart.core.service import Job, Page
from citysmart.services.participation import moderation, talk_store
from citysmart.services.participation.guard import ModeratorDep, PosterDep
from citysmart.services.participation.models_talk import Comment, Debate
from citysmart.services.participation.talk_opendata import DEBATE_TYPE
from citysmart.services.participation.talk_views import thread_view

router = APIRouter(prefix="/api/v1/participation", tags=["participation: talk"])
PAGES: tuple[Page, ...] = ()
JOBS: tuple[Job, ...] = ()
ENTITY_TYPES: tuple[str, ...] = (DEBATE_TYPE,)  # published to the hub (talk_opendata)
# Votes on comments are cheap and many (a reader goes down a thread): a limit of their own
# rather than the posting limit, which would stop a reader after 20 votes.
vote_limiter = RateLimiter(limit=120, window_s=600)


def require_voter(principal: CurrentPrincipal) -> Principal:
    """Admit a signed-in user who is not blocked and not over the voting rate limit."""
    if principal.blocked:
        raise Problem(403, "Blocked", f"{principal.username} is blocked and may not vote")
    if not vote_limiter.hit(f"user:{principal.user_id}"):
        raise Problem(429, "Too many votes", "wait a few minutes before voting again")
    return principal


VoterDep = Annotated[Principal, Depends(require_voter)]


class CommentCreate(BaseModel):
    """A new comment, or a reply when ``parent_id`` is given."""

    target_type: str = Field(max_length=24)
    target_id: int
    body: str = Field(max_length=10_000)
    parent_id: int | None = None
    alignment: Literal["none", "for", "against"] = "none"


class CommentUpdate(BaseModel):
    """A comment's new text."""

    body: str = Field(max_length=10_000)


class CommentPublic(BaseModel):
    """A comment as anyone may read it (no text when deleted or hidden)."""

    id: int
    target_type: str
    target_id: int
    parent_id: int | None
    state: str
    body: str | None
    alignment: str
    up: int
    down: int
    created_at: dt.datetime
    edited: bool


class VoteIn(BaseModel):
    """An up (1) or down (-1) vote, or 0 to take it back."""

    value: Literal[-1, 0, 1]


class ReportCreate(BaseModel):
    """A report of an item."""

    target_type: str = Field(max_length=24)
    target_id: int
    reason: Literal["spam", "offensive", "off_topic", "other"]
    note: str = Field(default="", max_length=2000)


class DebateCreate(BaseModel):
    """A new debate in a process."""

    process_id: int
    title: str = Field(max_length=1000)
    description: str = Field(max_length=20_000)


class DebateClose(BaseModel):
    """The conclusion that closes a debate."""

    conclusion: str = Field(max_length=20_000)


class ModerationIn(BaseModel):
    """A moderator's hide or restore of an item."""

    target_type: str = Field(max_length=24)
    target_id: int
    note: str = Field(default="", max_length=2000)


class BlockIn(BaseModel):
    """A moderator's block of a user."""

    username: str = Field(max_length=64)
    reason: str = Field(default="", max_length=2000)


def comment_public(comment: Comment, hidden: bool = False) -> CommentPublic:
    """Return what anyone may read of a comment."""
    from citysmart.services.participation.comments import alignment_name

    state = "deleted" if comment.deleted_at else "hidden" if hidden else "visible"
    return CommentPublic(
        id=comment.id,
        target_type=comment.target_type,
        target_id=comment.target_id,
        parent_id=comment.parent_id,
        state=state,
        body=comment.body if state == "visible" else None,
        alignment=alignment_name(comment.alignment),
        up=comment.up_votes,
        down=comment.down_votes,
        created_at=comment.created_at,
        edited=comment.edited_at is not None,
    )


def debate_public(session: SessionDep, debate: Debate) -> dict[str, Any]:
    """Return what anyone may read of a debate (a placeholder when hidden)."""
    hidden = bool(moderation.is_hidden(session, "debate", [debate.id]))
    counts = talk_store.comment_counts(session, "debate", [debate.id])
    return {
        "id": debate.id,
        "process_id": debate.process_id,
        "official": debate.official,
        "hidden": hidden,
        "title": None if hidden else debate.title,
        "description": None if hidden else debate.description,
        "status": debate.status,
        "conclusion": debate.conclusion,
        "closed_at": debate.closed_at,
        "created_at": debate.created_at,
        "comments": counts.get(debate.id, 0),
    }


@router.get("/comments")
def read_thread(
    session: SessionDep,
    principal: OptionalPrincipal,
    target_type: str,
    target_id: int,
    sort: Literal["best", "oldest", "newest"] = "best",
) -> dict[str, Any]:
    """Return an item's comment thread, nested and sorted."""
    moderation.target_item(session, target_type, target_id)
    view = thread_view(session, target_type, target_id, principal, sort)
    # Usernames are shown on the page; the API leaves them out (open to any client).
    return {
        "target_type": target_type,
        "target_id": target_id,
        "sort": view["sort"],
        "count": view["count"],
        "closed": view["closed"],
        "comments": [_strip(c) for c in view["comments"]],
    }


def _strip(node: dict[str, Any]) -> dict[str, Any]:
    keep = ("id", "body", "state", "alignment", "up", "down", "my_vote", "created_iso", "edited")
    out = {k: node[k] for k in keep}
    out["replies"] = [_strip(r) for r in node["replies"]]
    return out


@router.post("/comments", status_code=201)
def create_comment(
    session: SessionDep, principal: PosterDep, comment_in: CommentCreate
) -> CommentPublic:
    """Comment on an item, or reply to a comment (signed in, not blocked)."""
    comment = talk_store.add_comment(
        session,
        principal,
        comment_in.target_type,
        comment_in.target_id,
        comment_in.body,
        comment_in.parent_id,
        comment_in.alignment,
    )
    return comment_public(comment)


@router.patch("/comments/{comment_id}")
def update_comment(
    session: SessionDep, principal: PosterDep, comment_id: int, comment_in: CommentUpdate
) -> CommentPublic:
    """Edit one's own comment within the edit window."""
    return comment_public(talk_store.edit_comment(session, principal, comment_id, comment_in.body))


@router.delete("/comments/{comment_id}")
def delete_comment(session: SessionDep, principal: PosterDep, comment_id: int) -> CommentPublic:
    """Delete one's own comment (a placeholder keeps its place in the thread)."""
    return comment_public(talk_store.delete_comment(session, principal, comment_id))


@router.put("/comments/{comment_id}/vote")
def vote_comment(
    session: SessionDep, principal: VoterDep, comment_id: int, vote_in: VoteIn
) -> dict[str, int]:
    """Vote a comment up or down, change the vote, or take it back (0)."""
    comment = talk_store.vote_comment(session, principal, comment_id, vote_in.value)
    return {
        "id": comment.id,
        "up": comment.up_votes,
        "down": comment.down_votes,
        "mine": vote_in.value,
    }


@router.post("/reports", status_code=201)
def create_report(
    session: SessionDep, principal: PosterDep, report_in: ReportCreate
) -> dict[str, Any]:
    """Report a comment, proposal, debate... (once per user per item)."""
    return moderation.report_item(
        session,
        principal,
        report_in.target_type,
        report_in.target_id,
        report_in.reason,
        report_in.note,
    )


@router.get("/debates")
def list_debates(session: SessionDep, process_id: int | None = None) -> list[dict[str, Any]]:
    """List the debates of published processes (hidden ones left out), newest first."""
    return [debate_public(session, d) for d in talk_store.list_debates(session, process_id)]


@router.get("/debates/{debate_id}")
def read_debate(session: SessionDep, debate_id: int) -> dict[str, Any]:
    """Return a debate (a placeholder title and text when hidden by moderation)."""
    _, debate = moderation.target_item(session, "debate", debate_id)
    return debate_public(session, debate)


@router.post("/debates", status_code=201)
def create_debate(
    session: SessionDep, principal: PosterDep, debate_in: DebateCreate
) -> dict[str, Any]:
    """Open a debate (official when an operator opens it)."""
    debate = talk_store.open_debate(
        session, principal, debate_in.process_id, debate_in.title, debate_in.description
    )
    return debate_public(session, debate)


@router.post("/debates/{debate_id}/close")
def close_debate(
    session: SessionDep, principal: PosterDep, debate_id: int, close_in: DebateClose
) -> dict[str, Any]:
    """Close a debate with a conclusion (operators)."""
    debate = talk_store.close_debate(session, principal, debate_id, close_in.conclusion)
    return debate_public(session, debate)


@router.get("/moderation/queue")
def read_queue(
    session: SessionDep, principal: ModeratorDep, reviewed: bool = False
) -> list[dict[str, Any]]:
    """Return reported and hidden items with their report counts and reasons (moderators)."""
    return moderation.queue(session, include_reviewed=reviewed)


@router.post("/moderation/hide")
def hide_item(session: SessionDep, principal: ModeratorDep, item: ModerationIn) -> dict[str, Any]:
    """Hide an item from the public (moderators; audited)."""
    state = moderation.hide(session, principal, item.target_type, item.target_id, item.note)
    return {"target_type": state.target_type, "target_id": state.target_id, "hidden": True}


@router.post("/moderation/restore")
def restore_item(
    session: SessionDep, principal: ModeratorDep, item: ModerationIn
) -> dict[str, Any]:
    """Show an item again and dismiss its reports (moderators; audited)."""
    state = moderation.restore(session, principal, item.target_type, item.target_id, item.note)
    return {"target_type": state.target_type, "target_id": state.target_id, "hidden": False}


@router.post("/moderation/block")
def block_user(session: SessionDep, principal: ModeratorDep, block_in: BlockIn) -> dict[str, Any]:
    """Block a user from posting (moderators; audited)."""
    if not block_in.username.strip():
        raise Problem(422, "Invalid block", "say which user to block")
    user = moderation.block(session, principal, block_in.username.strip(), block_in.reason)
    return {"username": user.username, "blocked": True}


@router.post("/moderation/unblock")
def unblock_user(session: SessionDep, principal: ModeratorDep, block_in: BlockIn) -> dict[str, Any]:
    """Lift a user's block (moderators; audited)."""
    user = moderation.unblock(session, principal, block_in.username.strip(), block_in.reason)
    return {"username": user.username, "blocked": False}
