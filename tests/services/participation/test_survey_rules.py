"""Survey answers: checking a response and aggregating results, without a database."""

from __future__ import annotations

import re

import pytest

from citysmart.services.participation.survey_rules import (
    AnswerInvalid,
    Checked,
    Given,
    QuestionSpec,
    aggregate,
    check_response,
    clean_text,
)

COLOUR = QuestionSpec(1, 1, "single", "Favourite park?", required=True, option_ids=(11, 12, 13))
TOPICS = QuestionSpec(2, 2, "multiple", "Which topics?", max_choices=2, option_ids=(21, 22, 23))
IDEA = QuestionSpec(3, 3, "text", "Any idea?")
RATING = QuestionSpec(4, 4, "scale", "How satisfied?")
SURVEY = [COLOUR, TOPICS, IDEA, RATING]


def test_a_full_response_is_checked_into_answers() -> None:
    answers = check_response(
        SURVEY,
        {
            1: Given(option_ids=(12,)),
            2: Given(option_ids=(21, 23, 21)),
            3: Given(text="  More shade\x07 trees  "),
            4: Given(value=4),
        },
    )
    assert answers == [
        Checked(1, option_id=12),
        Checked(2, option_id=21),
        Checked(2, option_id=23),
        Checked(3, text="More shade trees"),
        Checked(4, value=4),
    ]


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({}, "question 1 ('Favourite park?') is required"),
        ({1: Given(option_ids=(99,))}, "question 1 ('Favourite park?'): option 99 is not one"),
        ({1: Given(option_ids=(11, 12))}, "takes one choice; 2 were given"),
        ({1: Given(option_ids=(11,)), 2: Given(option_ids=(21, 22, 23))}, "at most 2 choices; 3"),
        ({1: Given(text="park")}, "takes options, not text"),
        ({1: Given(option_ids=(11,)), 4: Given(value=6)}, "from 1 to 5; 6 was given"),
        ({1: Given(option_ids=(11,)), 3: Given(option_ids=(11,))}, "takes text, not options"),
        ({1: Given(option_ids=(11,)), 7: Given(text="x")}, "question 7 is not in this survey"),
    ],
)
def test_a_bad_response_is_refused_saying_what_was_wrong(
    given: dict[int, Given], message: str
) -> None:
    with pytest.raises(AnswerInvalid, match=re.escape(message)):
        check_response(SURVEY, given)


def test_a_required_text_question_needs_more_than_blanks() -> None:
    required = QuestionSpec(5, 1, "text", "Why?", required=True)
    with pytest.raises(AnswerInvalid, match="is required"):
        check_response([required], {5: Given(text=" \n ")})


def test_results_count_each_option_over_those_who_answered() -> None:
    responses = [
        [Checked(1, option_id=11), Checked(2, option_id=21), Checked(2, option_id=22)],
        [Checked(1, option_id=11), Checked(3, text="benches"), Checked(4, value=5)],
        [Checked(1, option_id=12), Checked(2, option_id=21), Checked(4, value=2)],
        [Checked(1, option_id=13)],
    ]
    results = aggregate(SURVEY, responses)
    assert results[1].answered == 4
    assert results[1].counts == {11: 2, 12: 1, 13: 1}
    assert results[1].percent(11) == 50.0
    assert results[2].answered == 2  # two of four answered the optional question
    assert results[2].percent(21) == 100.0
    assert results[2].percent(23) == 0.0
    assert results[3].texts == ["benches"]
    assert results[4].mean() == 3.5
    public = results[3].public(with_texts=False)
    assert "texts" not in public
    assert public["text_count"] == 1
    assert results[3].public(with_texts=True)["texts"] == ["benches"]


def test_clean_text_normalises_and_limits() -> None:
    assert clean_text("e\u0301\x00 ok", 3) == "\u00e9 o"
