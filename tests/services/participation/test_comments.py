"""Rules of comments, votes and reports, without a database."""

from __future__ import annotations

import datetime as dt

import pytest

from citysmart.services.participation import comments as rules

T0 = dt.datetime(2026, 11, 25, 3, 0, tzinfo=dt.UTC)


def test_text_is_normalised_stripped_and_limited() -> None:
    assert rules.clean_text("  Cafe\u0301\x00 ok\u202e \r\n", 100) == "Café ok"
    with pytest.raises(rules.RuleError, match="empty"):
        rules.clean_text(" \x07 ", 100, "comment")
    with pytest.raises(rules.RuleError, match="at most 5"):
        rules.clean_text("toolong", 5)
    assert rules.clean_text("", 5, required=False) == ""


def test_replies_go_four_levels_deep() -> None:
    assert rules.check_reply_depth(None) == 0
    assert rules.check_reply_depth(2) == 3
    with pytest.raises(rules.RuleError, match="4 levels"):
        rules.check_reply_depth(3)


def test_votes_alignments_reasons_and_sorts_are_checked() -> None:
    assert [rules.check_vote(v) for v in (-1, 0, 1)] == [-1, 0, 1]
    with pytest.raises(rules.RuleError):
        rules.check_vote(2)
    assert rules.alignment_value("against") == -1
    assert rules.alignment_name(1) == "for"
    with pytest.raises(rules.RuleError):
        rules.alignment_value("maybe")
    with pytest.raises(rules.RuleError):
        rules.check_reason("dislike")
    with pytest.raises(rules.RuleError):
        rules.check_sort("random")


def test_edits_are_allowed_within_the_window() -> None:
    assert rules.may_edit(T0, T0 + dt.timedelta(minutes=15), deleted=False)
    assert not rules.may_edit(T0, T0 + dt.timedelta(minutes=16), deleted=False)
    assert not rules.may_edit(T0, T0, deleted=True)


def test_hiding_starts_at_the_threshold() -> None:
    assert not rules.should_hide(2, 3)
    assert rules.should_hide(3, 3)


def _nodes() -> list[rules.Node]:
    minute = dt.timedelta(minutes=1)
    return [
        rules.Node(1, None, T0, 0),
        rules.Node(2, None, T0 + minute, 5),
        rules.Node(3, None, T0 + 2 * minute, 1),
        rules.Node(4, 1, T0 + 3 * minute, 9),
        rules.Node(5, 1, T0 + 4 * minute, 0),
        rules.Node(6, 99, T0 + 5 * minute, 0),  # its parent is gone: shown at the top
    ]


def test_threads_sort_top_level_and_keep_replies_in_order() -> None:
    best = rules.build_tree(_nodes(), "best")
    assert [n.id for n in best] == [2, 3, 1, 6]
    assert [n.id for n in best[2].replies] == [4, 5]  # replies oldest first
    assert [n.id for n in rules.build_tree(_nodes(), "oldest")] == [1, 2, 3, 6]
    newest = rules.build_tree(_nodes(), "newest")
    assert [n.id for n in newest] == [6, 3, 2, 1]
    assert [n.id for n in newest[-1].replies] == [5, 4]
