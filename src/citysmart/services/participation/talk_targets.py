"""What can be commented on and reported: one registered Target per item type.

Another part adds its items with one line, e.g.::

    register(Target("opinion", "participation_opinion", "/participation/opinions/{id}"))

The model is found by its table name when first needed, so this module imports no model
module (and the parts need not import each other).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from citysmart.core.db import Base


@dataclass(frozen=True, slots=True)
class Target:
    """An item type people may comment on and report."""

    name: str  # the target type, as stored in comments and reports (at most 24 characters)
    table: str  # the model's table
    link: str  # the item's page, with "{id}"
    label: str = ""  # what a reader calls it ("proposal"); the type when empty
    label_ko: str = ""
    commentable: bool = True
    # Statuses (the model's ``status``) in which no new comments are taken.
    closed_statuses: tuple[str, ...] = ()
    # Called with the item after moderation hid or restored it (to update its open data).
    on_visibility_change: Callable[[Session, Any], None] | None = None

    def model(self) -> type[Any]:
        """Return the mapped class of the target's table."""
        for mapper in Base.registry.mappers:
            if getattr(mapper.class_, "__tablename__", None) == self.table:
                return mapper.class_
        raise LookupError(f"no model maps the table {self.table!r}")

    def find(self, session: Session, target_id: int) -> Any | None:
        """Return the item when it exists and is public (its process published), else None."""
        item = session.get(self.model(), target_id)
        if item is None or getattr(item, "published", True) is False:
            return None
        process_id = getattr(item, "process_id", None)
        if process_id is not None:
            process = session.get(_process_model(), process_id)
            if process is None or not process.published:
                return None
        return item

    def closed_reason(self, item: Any) -> str | None:
        """Say why an item takes no new comments, or None when it does."""
        status = getattr(item, "status", None)
        if status in self.closed_statuses:
            return f"this {self.label or self.name} is {status}: no new comments"
        return None

    def url(self, target_id: int) -> str:
        """Return the item's page."""
        return self.link.format(id=target_id)


def _process_model() -> type[Any]:
    from citysmart.services.participation.models_process import Process

    return Process


TARGETS: dict[str, Target] = {}


def register(target: Target) -> None:
    """Make an item type commentable and reportable (registering again replaces it)."""
    if len(target.name) > 24:
        raise ValueError(f"target type {target.name!r} is longer than 24 characters")
    TARGETS[target.name] = target


def get_target(target_type: str) -> Target:
    """Return a registered target or raise LookupError naming the known ones."""
    target = TARGETS.get(target_type)
    if target is None:
        raise LookupError(f"unknown target type {target_type!r} (one of {', '.join(TARGETS)})")
    return target


def _republish_proposal(session: Session, proposal: Any) -> None:
    """Write or remove a proposal's open-data entity after it was hidden or restored."""
    from citysmart.services.participation.proposal_opendata import publish_proposal

    process = session.get(_process_model(), proposal.process_id)
    if process is not None:
        publish_proposal(session, proposal, process)


register(
    Target(
        "proposal",
        "participation_proposal",
        "/participation/proposals/{id}",
        "proposal",
        "제안",
        on_visibility_change=_republish_proposal,
    )
)


def _republish_debate(session: Session, debate: Any) -> None:
    """Write or remove a debate's open-data entity after it was hidden or restored."""
    from citysmart.services.participation.talk_opendata import publish_debate

    publish_debate(session, debate)


def _republish_comment(session: Session, comment: Any) -> None:
    """Update the counts of a comment's debate after the comment was hidden or restored."""
    from citysmart.services.participation.talk_opendata import republish_for_comment

    republish_for_comment(session, comment)


register(
    Target(
        "debate",
        "participation_debate",
        "/participation/debates/{id}",
        "debate",
        "토론",
        closed_statuses=("closed",),
        on_visibility_change=_republish_debate,
    )
)
# Comments are reported, not commented on (replies have their own parent link); their page
# is their item's, found by talk_views.comment_link.
register(
    Target(
        "comment",
        "participation_comment",
        "/participation/comments/{id}",
        "comment",
        "댓글",
        commentable=False,
        on_visibility_change=_republish_comment,
    )
)
