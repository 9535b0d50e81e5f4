"""Storing comments, their votes and debates; every refusal is a Problem saying why."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from citysmart.core import audit, roles
from citysmart.core.auth import Principal
from citysmart.core.errors import Problem
from citysmart.core.time import utcnow
from citysmart.services.participation import comments as rules
from citysmart.services.participation.follows import follow, notify_followers
from citysmart.services.participation.models_process import Process
from citysmart.services.participation.models_talk import Comment, CommentVote, Debate
from citysmart.services.participation.moderation import is_hidden, target_item
from citysmart.services.participation.talk_opendata import publish_debate, republish_for_comment


def _rule(what: str, exc: rules.RuleError) -> Problem:
    return Problem(422, what, str(exc))


def add_comment(
    session: Session,
    author: Principal,
    target_type: str,
    target_id: int,
    body: str,
    parent_id: int | None = None,
    alignment: str = "none",
) -> Comment:
    """Comment on an item, or reply to one of its comments; tell the item's followers."""
    try:
        body = rules.clean_text(body, rules.BODY_MAX, "comment")
        aligned = rules.alignment_value(alignment)
    except rules.RuleError as exc:
        raise _rule("Invalid comment", exc) from exc
    target, item = target_item(session, target_type, target_id)
    if not target.commentable:
        raise Problem(422, "Not commentable", f"a {target.label or target_type} takes no comments")
    closed = target.closed_reason(item)
    if closed:
        raise Problem(409, "Closed", closed)
    if is_hidden(session, target_type, [target_id]):
        raise Problem(409, "Hidden", "this item is hidden by moderation: no new comments")
    parent_depth = None
    if parent_id is not None:
        parent = session.get(Comment, parent_id)
        if parent is None or (parent.target_type, parent.target_id) != (target_type, target_id):
            raise Problem(404, "Not found", f"no comment {parent_id} on this {target_type}")
        parent_depth = parent.depth
    try:
        depth = rules.check_reply_depth(parent_depth)
    except rules.RuleError as exc:
        raise Problem(409, "Thread too deep", str(exc)) from exc
    comment = Comment(
        target_type=target_type,
        target_id=target_id,
        parent_id=parent_id,
        depth=depth,
        author_id=author.user_id,
        body=body,
        alignment=aligned,
        up_votes=0,
        down_votes=0,
    )
    session.add(comment)
    session.flush()
    republish_for_comment(session, comment)
    title = getattr(item, "title", None) or f"{target_type} {target_id}"
    notify_followers(
        session,
        target_type,
        target_id,
        "comment",
        f"New comment on “{title}”",
        title_ko=f"“{title}”에 새 댓글",
        link=f"{target.url(target_id)}#comment-{comment.id}",
        skip_user=author.user_id,
    )
    return comment


def _own_comment(session: Session, who: Principal, comment_id: int) -> Comment:
    comment = session.get(Comment, comment_id)
    if comment is None:
        raise Problem(404, "Not found", f"no comment {comment_id}")
    if comment.author_id != who.user_id:
        raise Problem(403, "Forbidden", "only its author may change a comment")
    if comment.deleted_at is not None:
        raise Problem(409, "Deleted", "this comment was deleted")
    return comment


def edit_comment(session: Session, author: Principal, comment_id: int, body: str) -> Comment:
    """Change a comment's text, by its author within the edit window."""
    comment = _own_comment(session, author, comment_id)
    if not rules.may_edit(comment.created_at, utcnow(), deleted=False):
        minutes = int(rules.EDIT_WINDOW.total_seconds() // 60)
        raise Problem(409, "Too late to edit", f"a comment can be edited for {minutes} minutes")
    if is_hidden(session, "comment", [comment_id]):
        raise Problem(409, "Hidden", "this comment is hidden by moderation")
    try:
        comment.body = rules.clean_text(body, rules.BODY_MAX, "comment")
    except rules.RuleError as exc:
        raise _rule("Invalid comment", exc) from exc
    comment.edited_at = utcnow()
    session.flush()
    return comment


def delete_comment(session: Session, author: Principal, comment_id: int) -> Comment:
    """Delete a comment by its author: its text goes, its place in the thread stays."""
    comment = _own_comment(session, author, comment_id)
    comment.body = ""
    comment.deleted_at = utcnow()
    session.flush()
    republish_for_comment(session, comment)
    return comment


def vote_comment(session: Session, voter: Principal, comment_id: int, value: int) -> Comment:
    """Vote a comment up (1) or down (-1), change the vote, or take it back (0)."""
    try:
        rules.check_vote(value)
    except rules.RuleError as exc:
        raise _rule("Invalid vote", exc) from exc
    comment = session.get(Comment, comment_id, with_for_update=True)
    if comment is None:
        raise Problem(404, "Not found", f"no comment {comment_id}")
    if comment.deleted_at is not None or is_hidden(session, "comment", [comment_id]):
        raise Problem(409, "Not open to votes", "this comment was deleted or hidden")
    if comment.author_id == voter.user_id:
        raise Problem(409, "Own comment", "you cannot vote on your own comment")
    vote = session.get(CommentVote, (comment_id, voter.user_id))
    if value == 0:
        if vote is not None:
            session.delete(vote)
    elif vote is not None:
        vote.value = value
    else:
        try:
            with session.begin_nested():
                session.add(CommentVote(comment_id=comment_id, user_id=voter.user_id, value=value))
        except IntegrityError:  # the same user's vote, sent twice at once: keep one
            vote = session.get(CommentVote, (comment_id, voter.user_id))
            if vote is not None:
                vote.value = value
    session.flush()
    counts = dict(
        session.execute(
            select(CommentVote.value, func.count())
            .where(CommentVote.comment_id == comment_id)
            .group_by(CommentVote.value)
        ).all()
    )
    comment.up_votes = int(counts.get(1, 0))
    comment.down_votes = int(counts.get(-1, 0))
    session.flush()
    return comment


def is_operator(principal: Principal) -> bool:
    """Whether a user speaks for the city (opens official debates, closes debates)."""
    return roles.grants(principal.role, roles.OPERATOR)


def open_debate(
    session: Session, author: Principal, process_id: int, title: str, description: str
) -> Debate:
    """Open a debate: official when an operator opens it; citizens in published processes."""
    try:
        title = rules.clean_text(title, rules.TITLE_MAX, "title")
        description = rules.clean_text(description, rules.DESCRIPTION_MAX, "description")
    except rules.RuleError as exc:
        raise _rule("Invalid debate", exc) from exc
    process = session.get(Process, process_id)
    official = is_operator(author)
    if process is None or not (process.published or official):
        raise Problem(404, "Not found", f"no process {process_id}")
    debate = Debate(
        process_id=process_id,
        author_id=author.user_id,
        official=official,
        title=title,
        description=description,
        status="open",
    )
    session.add(debate)
    session.flush()
    follow(session, author.user_id, "debate", debate.id)
    publish_debate(session, debate)
    audit.record(session, author.username, "participation.debate_opened", f"debate:{debate.id}")
    return debate


def close_debate(session: Session, operator: Principal, debate_id: int, conclusion: str) -> Debate:
    """Close a debate with the city's conclusion (operators only); tell its followers."""
    if not is_operator(operator):
        raise Problem(403, "Forbidden", "only operators close debates")
    try:
        conclusion = rules.clean_text(conclusion, rules.DESCRIPTION_MAX, "conclusion")
    except rules.RuleError as exc:
        raise _rule("Invalid conclusion", exc) from exc
    debate = session.get(Debate, debate_id)
    if debate is None:
        raise Problem(404, "Not found", f"no debate {debate_id}")
    if debate.status == "closed":
        raise Problem(409, "Already closed", f"debate {debate_id} is already closed")
    debate.status = "closed"
    debate.conclusion = conclusion
    debate.closed_at = utcnow()
    debate.closed_by = operator.user_id
    audit.record(session, operator.username, "participation.debate_closed", f"debate:{debate_id}")
    publish_debate(session, debate)
    notify_followers(
        session,
        "debate",
        debate_id,
        "debate_closed",
        f"Debate closed: “{debate.title}”",
        title_ko=f"토론 종료: “{debate.title}”",
        link=f"/participation/debates/{debate_id}",
        skip_user=operator.user_id,
    )
    session.flush()
    return debate


def list_debates(
    session: Session, process_id: int | None = None, include_hidden: bool = False
) -> list[Debate]:
    """Return the debates of published processes (or of one), newest first."""
    query = (
        select(Debate)
        .join(Process, Process.id == Debate.process_id)
        .where(Process.published.is_(True))
        .order_by(Debate.created_at.desc(), Debate.id.desc())
    )
    if process_id is not None:
        query = query.where(Debate.process_id == process_id)
    debates = list(session.scalars(query))
    if include_hidden:
        return debates
    hidden = is_hidden(session, "debate", [d.id for d in debates])
    return [d for d in debates if d.id not in hidden]


def comment_counts(session: Session, target_type: str, ids: list[int]) -> dict[int, int]:
    """Return how many comments (not deleted) each item has."""
    if not ids:
        return {}
    rows = session.execute(
        select(Comment.target_id, func.count())
        .where(
            Comment.target_type == target_type,
            Comment.target_id.in_(ids),
            Comment.deleted_at.is_(None),
        )
        .group_by(Comment.target_id)
    ).all()
    return {int(i): int(n) for i, n in rows}
