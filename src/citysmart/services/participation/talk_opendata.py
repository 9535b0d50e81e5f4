"""Open data of debates: one ``CivicDebate`` entity in the hub per public debate.

Id ``urn:ngsi-ld:CivicDebate:sejong-debate-<id>`` (no FIWARE Smart Data Model covers
debates). It holds what anyone may read on the debate's page: title, description, status,
the conclusion, and how many comments there are, in favour and against. Never an author
or a commenter. A debate hidden by moderation, or in an unpublished process, has no entity.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citysmart.core.time import isoformat
from citysmart.hub.ngsi_ld.entity_store import delete_entity
from citysmart.hub.registry import upsert_entity
from citysmart.services.participation.models_process import Process
from citysmart.services.participation.models_talk import Comment, Debate, ModerationState
from citysmart.services.participation.proposal_opendata import process_entity_id

DEBATE_TYPE: Final = "CivicDebate"
DATA_PROVIDER: Final = "citysmart participation service (debates)"


def debate_entity_id(debate_id: int) -> str:
    """Return the NGSI-LD id of a debate's entity."""
    return f"urn:ngsi-ld:{DEBATE_TYPE}:sejong-debate-{debate_id}"


def _comment_counts(session: Session, debate_id: int) -> dict[int, int]:
    """Return the visible comments of a debate by alignment (1 for, -1 against, 0 none)."""
    hidden = select(ModerationState.target_id).where(
        ModerationState.target_type == "comment", ModerationState.hidden_at.is_not(None)
    )
    rows = session.execute(
        select(Comment.alignment, func.count())
        .where(
            Comment.target_type == "debate",
            Comment.target_id == debate_id,
            Comment.deleted_at.is_(None),
            Comment.id.not_in(hidden),
        )
        .group_by(Comment.alignment)
    ).all()
    return {int(a): int(n) for a, n in rows}


def publish_debate(session: Session, debate: Debate) -> None:
    """Write a debate's entity, or remove it when it is not public (any more)."""
    process = session.get(Process, debate.process_id)
    state = session.get(ModerationState, ("debate", debate.id))
    if process is None or not process.published or (state and state.hidden_at is not None):
        delete_entity(session, debate_entity_id(debate.id))
        return
    counts = _comment_counts(session, debate.id)
    props: dict[str, Any] = {
        "title": debate.title,
        "description": debate.description,
        "status": debate.status,
        "official": debate.official,
        "conclusion": debate.conclusion,
        "dateClosed": isoformat(debate.closed_at) if debate.closed_at else None,
        "dateCreated": isoformat(debate.created_at),
        "commentCount": sum(counts.values()),
        "commentsInFavour": counts.get(1, 0),
        "commentsAgainst": counts.get(-1, 0),
        "refProcess": process_entity_id(process.slug),
        "dataProvider": DATA_PROVIDER,
    }
    upsert_entity(
        session,
        debate_entity_id(debate.id),
        DEBATE_TYPE,
        None,
        {k: v for k, v in props.items() if v is not None},
    )


def republish_for_comment(session: Session, comment: Comment) -> None:
    """Update the debate a comment belongs to (its counts changed)."""
    if comment.target_type != "debate":
        return
    debate = session.get(Debate, comment.target_id)
    if debate is not None:
        session.flush()
        publish_debate(session, debate)
