"""Survey answers: checking a response against its questions, and aggregating results.

Pure functions on plain values (no database): the store turns rows into
:class:`QuestionSpec` and back.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

TEXT_LIMIT: Final = 2000
SCALE: Final = (1, 2, 3, 4, 5)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(text: str, limit: int) -> str:
    """Return user text as stored: NFC, control characters dropped, trimmed, length-limited."""
    return _CONTROL.sub("", unicodedata.normalize("NFC", text)).strip()[:limit]


class AnswerInvalid(ValueError):
    """A response that does not fit its survey: the message says what was wrong."""


@dataclass(frozen=True, slots=True)
class QuestionSpec:
    """What a question accepts."""

    id: int
    position: int
    kind: str  # "single", "multiple", "text" or "scale"
    prompt: str
    required: bool = False
    max_choices: int | None = None
    option_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Given:
    """What a respondent gave for one question."""

    option_ids: tuple[int, ...] = ()
    text: str | None = None
    value: int | None = None

    def empty(self) -> bool:
        """Whether nothing was given."""
        return not self.option_ids and not (self.text or "").strip() and self.value is None


@dataclass(frozen=True, slots=True)
class Checked:
    """One answer to store: an option, a text or a scale value."""

    question_id: int
    option_id: int | None = None
    text: str | None = None
    value: int | None = None


def _name(question: QuestionSpec) -> str:
    return f"question {question.position} ({question.prompt[:60]!r})"


def _check_one(question: QuestionSpec, given: Given) -> list[Checked]:
    name = _name(question)
    if question.kind in ("single", "multiple"):
        if given.text or given.value is not None:
            raise AnswerInvalid(f"{name} takes options, not text or a number")
        unknown = [o for o in given.option_ids if o not in question.option_ids]
        if unknown:
            raise AnswerInvalid(f"{name}: option {unknown[0]} is not one of its options")
        chosen = tuple(dict.fromkeys(given.option_ids))  # repeats count once
        if question.kind == "single" and len(chosen) > 1:
            raise AnswerInvalid(f"{name} takes one choice; {len(chosen)} were given")
        limit = question.max_choices
        if question.kind == "multiple" and limit is not None and len(chosen) > limit:
            raise AnswerInvalid(f"{name} takes at most {limit} choices; {len(chosen)} were given")
        return [Checked(question.id, option_id=o) for o in chosen]
    if question.kind == "text":
        if given.option_ids or given.value is not None:
            raise AnswerInvalid(f"{name} takes text, not options or a number")
        text = clean_text(given.text or "", TEXT_LIMIT)
        return [Checked(question.id, text=text)] if text else []
    if given.option_ids or given.text:
        raise AnswerInvalid(f"{name} takes a number from 1 to 5")
    if given.value is not None and given.value not in SCALE:
        raise AnswerInvalid(f"{name} takes a number from 1 to 5; {given.value} was given")
    return [] if given.value is None else [Checked(question.id, value=given.value)]


def check_response(questions: Sequence[QuestionSpec], given: Mapping[int, Given]) -> list[Checked]:
    """Return the answers to store, or raise :class:`AnswerInvalid` saying what was wrong."""
    known = {q.id for q in questions}
    stray = sorted(set(given) - known)
    if stray:
        raise AnswerInvalid(f"question {stray[0]} is not in this survey")
    answers: list[Checked] = []
    for question in sorted(questions, key=lambda q: q.position):
        answer = _check_one(question, given.get(question.id, Given()))
        if question.required and not answer:
            raise AnswerInvalid(f"{_name(question)} is required")
        answers += answer
    return answers


@dataclass
class QuestionResult:
    """The results of one question: counts and percentages, or the texts given."""

    question_id: int
    answered: int = 0  # respondents who answered this question
    counts: dict[int, int] = field(default_factory=dict)  # option id or scale value -> count
    texts: list[str] = field(default_factory=list)

    def percent(self, key: int) -> float:
        """Return the share of this question's respondents who chose ``key`` (0-100, 1 dp)."""
        if not self.answered:
            return 0.0
        return round(100.0 * self.counts.get(key, 0) / self.answered, 1)

    def mean(self) -> float | None:
        """Return the mean of a scale question's values, or None without answers."""
        total = sum(self.counts.values())
        if not total:
            return None
        return round(sum(k * n for k, n in self.counts.items()) / total, 2)

    def public(self, with_texts: bool) -> dict[str, Any]:
        """Return the result as JSON: texts only for operators, else just how many."""
        body: dict[str, Any] = {
            "question_id": self.question_id,
            "answered": self.answered,
            "counts": [
                {"key": k, "count": n, "percent": self.percent(k)}
                for k, n in sorted(self.counts.items())
            ],
            "text_count": len(self.texts),
        }
        if self.counts and all(k in SCALE for k in self.counts):
            body["mean"] = self.mean()
        if with_texts:
            body["texts"] = list(self.texts)
        return body


def aggregate(
    questions: Sequence[QuestionSpec], responses: Sequence[Sequence[Checked]]
) -> dict[int, QuestionResult]:
    """Count each question's answers over all responses (each a list of checked answers)."""
    results: dict[int, QuestionResult] = {}
    for q in questions:
        keys: Sequence[int] = q.option_ids if q.kind in ("single", "multiple") else ()
        if q.kind == "scale":
            keys = SCALE
        results[q.id] = QuestionResult(q.id, counts=dict.fromkeys(keys, 0))
    for response in responses:
        seen: set[int] = set()
        for answer in response:
            result = results.get(answer.question_id)
            if result is None:
                continue
            seen.add(answer.question_id)
            key = answer.option_id if answer.option_id is not None else answer.value
            if key is not None:
                result.counts[key] = result.counts.get(key, 0) + 1
            if answer.text is not None:
                result.texts.append(answer.text)
        for qid in seen:
            results[qid].answered += 1
    return results
