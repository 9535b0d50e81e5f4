"""Rules of comments, votes and reports, on plain data (no database)."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

# A top-level comment has depth 0; a reply to a comment of depth MAX_DEPTH - 1 is refused,
# so a thread is at most four levels deep (as Decidim does): deeper threads get unreadable.
MAX_DEPTH = 4
# An author may edit a comment for this long after writing it; later, others may have
# answered what it said.
EDIT_WINDOW = dt.timedelta(minutes=15)
BODY_MAX = 2000
NOTE_MAX = 500
TITLE_MAX = 200
DESCRIPTION_MAX = 5000
SORTS = ("best", "oldest", "newest")
ALIGNMENTS = {"none": 0, "for": 1, "against": -1}
REPORT_REASONS = ("spam", "offensive", "off_topic", "other")
VOTE_VALUES = (-1, 0, 1)  # 0 takes a vote back

# Control characters but newline and tab: they only serve to hide or spoof text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


class RuleError(ValueError):
    """Input that breaks a rule, saying which."""


def clean_text(text: str, max_len: int, what: str = "text", *, required: bool = True) -> str:
    """Return user text as stored: NFC, control characters stripped, trimmed, length-checked."""
    cleaned = _CONTROL.sub("", unicodedata.normalize("NFC", text)).replace("\r\n", "\n").strip()
    if required and not cleaned:
        raise RuleError(f"the {what} is empty")
    if len(cleaned) > max_len:
        raise RuleError(f"the {what} has {len(cleaned)} characters; at most {max_len} allowed")
    return cleaned


def alignment_value(name: str) -> int:
    """Return the stored alignment for ``none``, ``for`` or ``against``."""
    if name not in ALIGNMENTS:
        raise RuleError(f"alignment {name!r}: one of {', '.join(ALIGNMENTS)}")
    return ALIGNMENTS[name]


def alignment_name(value: int) -> str:
    """Return the name of a stored alignment."""
    return {v: k for k, v in ALIGNMENTS.items()}.get(value, "none")


def check_reply_depth(parent_depth: int | None) -> int:
    """Return a new comment's depth under a parent (None: top level), or refuse it."""
    depth = 0 if parent_depth is None else parent_depth + 1
    if depth >= MAX_DEPTH:
        raise RuleError(f"replies go at most {MAX_DEPTH} levels deep; answer higher up the thread")
    return depth


def check_vote(value: int) -> int:
    """Return a valid vote value (1 up, -1 down, 0 to take the vote back)."""
    if value not in VOTE_VALUES:
        raise RuleError("a vote is 1 (up), -1 (down) or 0 (take it back)")
    return value


def check_reason(reason: str) -> str:
    """Return a valid report reason."""
    if reason not in REPORT_REASONS:
        raise RuleError(f"reason {reason!r}: one of {', '.join(REPORT_REASONS)}")
    return reason


def check_sort(sort: str) -> str:
    """Return a valid sort order."""
    if sort not in SORTS:
        raise RuleError(f"sort {sort!r}: one of {', '.join(SORTS)}")
    return sort


def may_edit(created_at: dt.datetime, now: dt.datetime, deleted: bool) -> bool:
    """Whether the author may still edit a comment."""
    return not deleted and now - created_at <= EDIT_WINDOW


def should_hide(open_reports: int, threshold: int) -> bool:
    """Whether an item with this many distinct, undismissed reports is hidden automatically."""
    return open_reports >= threshold


@dataclass
class Node:
    """A comment in a thread, with its replies."""

    id: int
    parent_id: int | None
    created_at: dt.datetime
    score: int
    replies: list[Node] = field(default_factory=list)


def _sort_key(sort: str) -> Callable[[Node], tuple[float, ...]]:
    if sort == "newest":
        return lambda n: (-n.created_at.timestamp(), -n.id)
    if sort == "oldest":
        return lambda n: (n.created_at.timestamp(), n.id)
    # best: highest score first, older first among equals (it had more time to be read).
    return lambda n: (-n.score, n.created_at.timestamp(), n.id)


def build_tree(nodes: Sequence[Node], sort: str) -> list[Node]:
    """Nest comments under their parents and order every level; orphans go to the top."""
    check_sort(sort)
    by_id = {n.id: n for n in nodes}
    roots: list[Node] = []
    for node in nodes:
        node.replies = []
    for node in nodes:
        parent = by_id.get(node.parent_id) if node.parent_id is not None else None
        (parent.replies if parent is not None else roots).append(node)
    key = _sort_key(sort)
    # Replies read as a conversation: oldest first, except when the reader asked for newest.
    reply_key = key if sort == "newest" else _sort_key("oldest")

    def order(level: list[Node], k: Callable[[Node], tuple[float, ...]]) -> list[Node]:
        level.sort(key=k)
        for n in level:
            order(n.replies, reply_key)
        return level

    return order(roots, key)
