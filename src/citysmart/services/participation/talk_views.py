"""What pages show of a comment thread: ``thread_view`` feeds templates/_comments.html.

Another page includes the thread with::

    thread = thread_view(session, "proposal", proposal.id, principal, sort=sort, here=path)
    ... render(request, "participation/proposal.html", principal, thread=thread, ...)

and in its template ``{% include "participation/_comments.html" %}`` (it needs ``thread``
and ``csrf``, which ``render`` provides).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from citysmart.core.auth import Principal
from citysmart.core.models import User
from citysmart.core.time import utcnow
from citysmart.services.participation import comments as rules
from citysmart.services.participation.models_talk import Comment, CommentVote, Report
from citysmart.services.participation.moderation import is_hidden
from citysmart.services.participation.talk_targets import get_target

SEOUL = ZoneInfo("Asia/Seoul")
FORMS = "/participation/comments"  # where the thread's forms post (talk_pages)
REASON_LABELS = {
    "spam": ("Spam", "스팸"),
    "offensive": ("Offensive", "불쾌한 내용"),
    "off_topic": ("Off topic", "주제와 무관"),
    "other": ("Other", "기타"),
}
SORT_LABELS = {
    "best": ("Best", "추천순"),
    "oldest": ("Oldest", "오래된순"),
    "newest": ("Newest", "최신순"),
}


def local_time(when: dt.datetime) -> str:
    """Format an instant in Seoul time (``YYYY-MM-DD HH:MM``)."""
    return when.astimezone(SEOUL).strftime("%Y-%m-%d %H:%M")


def thread_view(
    session: Session,
    target_type: str,
    target_id: int,
    principal: Principal | None,
    sort: str = "best",
    here: str | None = None,
) -> dict[str, Any]:
    """Return a thread as the page shows it: nested comments, counts, what the reader may do.

    ``here`` is the page the forms come back to (the item's page by default).
    """
    target = get_target(target_type)
    sort = sort if sort in rules.SORTS else "best"
    rows = list(
        session.scalars(
            select(Comment).where(
                Comment.target_type == target_type, Comment.target_id == target_id
            )
        )
    )
    ids = [c.id for c in rows]
    hidden = is_hidden(session, "comment", ids)
    authors = _usernames(session, {c.author_id for c in rows if c.author_id is not None})
    my_votes: dict[int, int] = {}
    reported: set[int] = set()
    if principal is not None and ids:
        my_votes = {
            int(cid): int(value)
            for cid, value in session.execute(
                select(CommentVote.comment_id, CommentVote.value).where(
                    CommentVote.user_id == principal.user_id, CommentVote.comment_id.in_(ids)
                )
            ).all()
        }
        reported = set(
            session.scalars(
                select(Report.target_id).where(
                    Report.target_type == "comment",
                    Report.reporter_id == principal.user_id,
                    Report.target_id.in_(ids),
                )
            )
        )
    item = target.find(session, target_id)
    closed = target.closed_reason(item) if item is not None else "this item is not public"
    if closed is None and is_hidden(session, target_type, [target_id]):
        closed = "this item is hidden by moderation: no new comments"
    may_post = principal is not None and not principal.blocked and closed is None
    now = utcnow()
    by_id = {c.id: c for c in rows}
    nodes = [rules.Node(c.id, c.parent_id, c.created_at, c.up_votes - c.down_votes) for c in rows]

    def view(node: rules.Node) -> dict[str, Any]:
        c = by_id[node.id]
        state = "deleted" if c.deleted_at else "hidden" if c.id in hidden else "visible"
        mine = principal is not None and c.author_id == principal.user_id
        live = state == "visible"
        return {
            "id": c.id,
            "author": authors.get(c.author_id) if c.author_id and live else None,
            "body": c.body if live else None,
            "state": state,
            "alignment": rules.alignment_name(c.alignment),
            "up": c.up_votes,
            "down": c.down_votes,
            "score": c.up_votes - c.down_votes,
            "my_vote": my_votes.get(c.id, 0),
            "created": local_time(c.created_at),
            "created_iso": c.created_at.isoformat(),
            "edited": c.edited_at is not None,
            "depth": c.depth,
            "can_reply": may_post and live and c.depth + 1 < rules.MAX_DEPTH,
            "can_vote": principal is not None and not principal.blocked and live and not mine,
            "can_edit": mine and live and rules.may_edit(c.created_at, now, deleted=False),
            "can_delete": mine and state != "deleted",
            "can_report": principal is not None and live and not mine and c.id not in reported,
            "reported": c.id in reported,
            "replies": [view(r) for r in node.replies],
        }

    tree = rules.build_tree(nodes, sort)
    return {
        "target_type": target_type,
        "target_id": target_id,
        "target_label": target.label or target_type,
        "sort": sort,
        "sorts": [(s, *SORT_LABELS[s]) for s in rules.SORTS],
        "count": sum(1 for c in rows if c.deleted_at is None and c.id not in hidden),
        "comments": [view(n) for n in tree],
        "signed_in": principal is not None,
        "blocked": bool(principal and principal.blocked),
        "can_comment": may_post,
        "closed": closed,
        "here": here or target.url(target_id),
        "forms": FORMS,
        "reasons": [(r, *REASON_LABELS[r]) for r in rules.REPORT_REASONS],
        "body_max": rules.BODY_MAX,
        "note_max": rules.NOTE_MAX,
        "edit_minutes": int(rules.EDIT_WINDOW.total_seconds() // 60),
    }


def _usernames(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.username).where(User.id.in_(list(ids)))).all()
    return {int(i): str(name) for i, name in rows}


def comment_link(session: Session, comment_id: int) -> str | None:
    """Return the page showing a comment (its item's page, at the comment), or None."""
    comment = session.get(Comment, comment_id)
    if comment is None:
        return None
    try:
        target = get_target(comment.target_type)
    except LookupError:
        return None
    return f"{target.url(comment.target_id)}#comment-{comment_id}"
