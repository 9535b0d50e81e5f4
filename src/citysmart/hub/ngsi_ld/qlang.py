r"""The NGSI-LD query language (the ``q`` parameter, ETSI GS CIM 009 clause 4.9).

Pure functions: :func:`parse_q` turns the text into a small immutable AST,
:func:`map_attribute_names` expands its names with the caller's @context, and
:func:`evaluate` tests it on one entity in normalized form. No database, no HTTP.

Where the clause leaves room, this module decides as follows:

- ``!attr`` (a bare path after ``!``) holds when ``attr`` has no target; ``!`` applies to
  existence only, not to comparisons or groups.
- Parentheses nest freely (the ABNF allows one level; its own example 6 uses two).
- Whitespace between tokens is skipped; the ABNF has none, but it costs nothing.
- A full IRI as an attribute name (``https://ex.org/ns#temp``) keeps its dots,
  except those after its last ``/`` or ``#``, which start sub-property names.
- An unquoted value that is no number, date-time, date, time, ``true`` or ``false``
  is a URI; a bare term (``gender==Male``, example 12) counts as one. Unquoted URIs
  end at ``,`` ``;`` ``|`` ``)`` ``..`` or whitespace; quote anything else.
- A regular expression (``~=``) may be quoted, where only ``\"`` is unescaped
  so ``"\d+"`` means ``\d+``; unquoted, it ends at a ``;``, ``|`` or ``)`` outside
  its own groups. It is searched (``re.search``), like POSIX ``regexec``.
- Brackets address members of a compound value: ``[a.b]`` and ``[a][b]`` are the
  same path. On a LanguageProperty one bracket picks a language (``[*]`` any).
- Strings in the entity count as date-times, dates or times when the query value is
  one and they parse as one; naive date-times are taken as UTC.
- A term matches when any instance of a multi-attribute matches. Within one value,
  an array matches ``==``, ``>``, ``~=`` ... when any element does, and ``!=`` or
  ``!~=`` when no element does (the clause says so for ``==`` and ``!=``).
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from enum import StrEnum
from functools import lru_cache
from typing import Any, Final, NamedTuple

MAX_NESTING: Final = 32  # parentheses deeper than this are refused, not recursed into


class QSyntaxError(ValueError):
    """A ``q`` text that does not follow the NGSI-LD query grammar."""

    def __init__(self, detail: str, position: int) -> None:
        super().__init__(f"q: {detail} at {position}")
        self.detail = detail
        self.position = position


class Op(StrEnum):
    """A comparison operator of a query term."""

    EQ = "=="
    NE = "!="
    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="
    MATCH = "~="
    NO_MATCH = "!~="


class Kind(StrEnum):
    """The data type of a literal in a query."""

    NUMBER = "number"
    STRING = "string"
    BOOLEAN = "boolean"
    DATETIME = "date-time"
    DATE = "date"
    TIME = "time"
    URI = "URI"


ORDERED_KINDS: Final = frozenset({Kind.NUMBER, Kind.STRING, Kind.DATETIME, Kind.DATE, Kind.TIME})
EQUALITY_OPS: Final = frozenset({Op.EQ, Op.NE})


@dataclass(frozen=True, slots=True)
class Path:
    """An attribute path: ``attr.sub.sub[key.key]``."""

    attr: str
    subpath: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Value:
    """A literal; date-times, dates, times and URIs keep their text."""

    kind: Kind
    value: int | float | str | bool


@dataclass(frozen=True, slots=True)
class Range:
    """An inclusive range ``low..high`` of one ordered kind."""

    low: Value
    high: Value


@dataclass(frozen=True, slots=True)
class ValueList:
    """Values ``a,b,c``: equal to any of them."""

    items: tuple[Value, ...]


@dataclass(frozen=True, slots=True)
class Pattern:
    """A regular expression for ``~=`` and ``!~=``."""

    regex: str


Operand = Value | Range | ValueList | Pattern


@dataclass(frozen=True, slots=True)
class Comparison:
    """A query term with an operator: ``path op value``."""

    path: Path
    op: Op
    value: Operand


@dataclass(frozen=True, slots=True)
class Existence:
    """A bare attribute path: the target element exists (``!path``: it does not)."""

    path: Path
    negated: bool = False


@dataclass(frozen=True, slots=True)
class And:
    """All terms hold (``;``)."""

    terms: tuple[QExpr, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """Any term holds (``|``)."""

    terms: tuple[QExpr, ...]


QExpr = And | Or | Comparison | Existence

# -- parsing ---------------------------------------------------------------------------

_CLOCK = r"[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?"
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME = re.compile(_DATE.pattern + "T" + _CLOCK)
_TIME = re.compile(_CLOCK)
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_BARE = re.compile(r'(?:[^\s;|(),".]|\.(?!\.))+')  # up to a delimiter or ".."
_IRI_START = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_IRI = re.compile(r'[^\s=!<>~\[\]{};|(),"]+')
_ESCAPED_CHAR = re.compile(r"\\(.)", re.DOTALL)  # one backslash pair, left to right
_OPERATORS: Final = sorted(Op, key=lambda op: len(op.value), reverse=True)  # "!~=" before "!="
_TERM_END: Final = ";|)"
_STRING_DECODER = json.JSONDecoder(strict=False)


def parse_q(text: str) -> QExpr:
    """Parse a ``q`` expression, or raise :class:`QSyntaxError`."""
    return _Parser(text).parse()


def _is_name_char(char: str) -> bool:
    """Tell whether ``char`` may follow the first letter of a name or compact IRI."""
    return char.isalnum() or char in "_-:"


def _join(cls: type[And] | type[Or], terms: list[QExpr]) -> QExpr:
    """Combine terms, flattening nested groups of the same operator."""
    if len(terms) == 1:
        return terms[0]
    flat: list[QExpr] = []
    for term in terms:
        flat.extend(term.terms if isinstance(term, cls) else (term,))
    return cls(tuple(flat))


class _Parser:
    """A recursive-descent parser over the text; values are lexed in context."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.depth = 0

    def error(self, detail: str, position: int | None = None) -> QSyntaxError:
        """Build the error for ``detail`` at ``position`` (default: here)."""
        return QSyntaxError(detail, self.pos if position is None else position)

    def skip_space(self) -> None:
        """Move past whitespace."""
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self, token: str) -> bool:
        """Tell whether the text continues with ``token``."""
        return self.text.startswith(token, self.pos)

    def at_term_end(self) -> bool:
        """Tell whether a query term may end here."""
        return self.pos >= len(self.text) or self.text[self.pos] in _TERM_END

    def parse(self) -> QExpr:
        """Parse the whole text."""
        self.skip_space()
        if self.pos >= len(self.text):
            raise self.error("the expression is empty")
        expr = self.parse_or(None)
        if self.pos < len(self.text):  # only a stray ')' can stop the loops early
            raise self.error("unexpected ')' without a matching '('")
        return expr

    def parse_or(self, after: str | None) -> QExpr:
        """Parse terms joined by ``|``: AND binds tighter, so they are AND groups."""
        terms = [self.parse_and(after)]
        while self.peek("|"):
            self.pos += 1
            terms.append(self.parse_and("|"))
        return _join(Or, terms)

    def parse_and(self, after: str | None) -> QExpr:
        """Parse terms joined by ``;``."""
        terms = [self.parse_primary(after)]
        while self.peek(";"):
            self.pos += 1
            terms.append(self.parse_primary(";"))
        return _join(And, terms)

    def parse_primary(self, after: str | None) -> QExpr:
        """Parse a parenthesised group or one query term."""
        self.skip_space()
        if self.peek("("):
            return self.parse_group()
        negated = self.peek("!")
        self.pos += negated
        if self.pos >= len(self.text) or not self.text[self.pos].isalpha():
            where = " after '!'" if negated else f" after '{after}'" if after else ""
            raise self.error(f"expected an attribute name or '('{where}")
        term = self.parse_term()
        self.skip_space()
        if not negated:
            return term
        if not isinstance(term, Existence):
            raise self.error("'!' only negates an attribute's existence ('!attr')")
        return replace(term, negated=True)

    def parse_group(self) -> QExpr:
        """Parse ``( ... )``."""
        opening = self.pos
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.error(f"parentheses nest deeper than {MAX_NESTING}")
        self.pos += 1
        expr = self.parse_or("(")
        if not self.peek(")"):
            raise self.error(f"expected ')' to close the '(' at {opening}")
        self.pos += 1
        self.depth -= 1
        self.skip_space()
        return expr

    def parse_term(self) -> QExpr:
        """Parse ``path`` or ``path op value``."""
        start = self.pos
        path = self.parse_path()
        path_end = self.pos
        self.skip_space()
        op = self.parse_op()
        if op is None:
            if self.at_term_end():
                return Existence(path)
            name = self.text[start:path_end]
            raise self.error(f"expected an operator after '{name}'", path_end)
        self.skip_space()
        value = self.parse_pattern(op) if op in (Op.MATCH, Op.NO_MATCH) else self.parse_operand(op)
        self.skip_space()
        if not self.at_term_end():
            raise self.error("expected ';', '|', ')' or the end after the value")
        return Comparison(path, op, value)

    def parse_op(self) -> Op | None:
        """Consume an operator if one is here."""
        for op in _OPERATORS:
            if self.peek(op.value):
                self.pos += len(op.value)
                return op
        return None

    # -- attribute paths

    def parse_path(self) -> Path:
        """Parse ``name(.name)*`` and an optional trailing ``[key.key]`` part."""
        names = self.parse_names()
        while self.peek("."):
            self.pos += 1
            names.extend(self.parse_names())
        if self.peek("{"):
            raise self.error("linked-entity paths ('{...}') are not supported")
        keys: list[str] = []
        while self.peek("["):
            keys.extend(self.parse_keys())
        return Path(names[0], tuple(names[1:]), tuple(keys))

    def parse_names(self) -> list[str]:
        """Parse one name; a full IRI may carry sub-property names after its last / or #."""
        start = self.pos
        iri = _IRI.match(self.text, start) if _IRI_START.match(self.text, start) else None
        if iri is not None:
            tail_at = max(iri.group().rfind("/"), iri.group().rfind("#")) + 1
            names = iri.group()[tail_at:].split(".")
            names[0] = iri.group()[:tail_at] + names[0]
            dot = start + len(names[0])
            for name in names[1:]:
                if not name or not name[0].isalpha():
                    raise self.error("expected a name after '.'", dot + 1)
                dot += len(name) + 1
            self.pos = iri.end()
            return names
        end = start
        if end < len(self.text) and self.text[end].isalpha():
            end += 1
            while end < len(self.text) and _is_name_char(self.text[end]):
                end += 1
        if end == start:
            raise self.error("expected a name after '.'")
        self.pos = end
        return [self.text[start:end]]

    def parse_keys(self) -> list[str]:
        """Parse one ``[a.b]`` part into its member names."""
        opening = self.pos
        closing = self.text.find("]", opening)
        if closing < 0:
            raise self.error(f"expected ']' to close the '[' at {opening}", len(self.text))
        keys = self.text[opening + 1 : closing].split(".")
        if any(not key or "[" in key for key in keys):
            raise self.error("expected member names separated by '.' inside '[...]'", opening + 1)
        self.pos = closing + 1
        return keys

    # -- values

    def parse_operand(self, op: Op) -> Value | Range | ValueList:
        """Parse a value, a range ``a..b`` or a list ``a,b,c``."""
        start = self.pos
        first = self.parse_value(op, op.value)
        self.skip_space()
        if self.peek(".."):
            dots = self.pos
            self.pos += 2
            self.skip_space()
            return _make_range(op, first, self.parse_value(op, ".."), dots)
        if not self.peek(","):
            return first
        if op not in EQUALITY_OPS:
            raise self.error(f"a list of values needs '==' or '!=', not '{op}'", start)
        items = [first]
        while self.peek(","):
            self.pos += 1
            self.skip_space()
            items.append(self.parse_value(op, ","))
            self.skip_space()
        return ValueList(tuple(items))

    def parse_value(self, op: Op, after: str) -> Value:
        """Parse one literal; ordering operators take only ordered kinds."""
        start = self.pos
        if self.pos >= len(self.text) or self.text[self.pos] in ";|),":
            raise self.error(f"expected a value after '{after}'")
        value = self.parse_string() if self.peek('"') else self.parse_unquoted()
        if op not in EQUALITY_OPS and value.kind not in ORDERED_KINDS:
            raise self.error(
                f"expected a number, a quoted string, a date-time, a date or a time after '{op}'",
                start,
            )
        return value

    def parse_string(self) -> Value:
        """Parse a JSON string literal."""
        start = self.pos
        end = self.closing_quote(start)
        try:
            text = _STRING_DECODER.decode(self.text[start : end + 1])
        except json.JSONDecodeError as exc:
            raise self.error(f"invalid string: {exc.msg}", start) from exc
        self.pos = end + 1
        return Value(Kind.STRING, text)

    def closing_quote(self, start: int) -> int:
        """Find the ``"`` that ends the string opened at ``start``."""
        index = start + 1
        while index < len(self.text):
            if self.text[index] == "\\":
                index += 2
            elif self.text[index] == '"':
                return index
            else:
                index += 1
        raise self.error(f"expected '\"' to end the string that starts at {start}", len(self.text))

    def parse_unquoted(self) -> Value:
        """Parse a number, date-time, date, time, boolean or URI."""
        start = self.pos
        for kind, pattern in _UNQUOTED_KINDS:
            match = pattern.match(self.text, start)
            if match and self.ends_token(match.end()):
                try:
                    value = _literal(kind, match.group())
                except ValueError as exc:
                    raise self.error(f"invalid {kind} '{match.group()}'", start) from exc
                self.pos = match.end()
                return value
        bare = _BARE.match(self.text, start)
        token = bare.group() if bare else self.text[start]
        if not token[0].isalpha():
            raise self.error(f"invalid value '{token}'")
        self.pos = start + len(token)
        if token in ("true", "false"):
            return Value(Kind.BOOLEAN, token == "true")
        return Value(Kind.URI, token)

    def ends_token(self, index: int) -> bool:
        """Tell whether an unquoted value may end at ``index``."""
        return (
            index >= len(self.text)
            or self.text[index].isspace()
            or self.text[index] in ";|),"
            or self.text.startswith("..", index)
        )

    def parse_pattern(self, op: Op) -> Pattern:
        """Parse the regular expression after ``~=`` or ``!~=``."""
        start = self.pos
        if self.peek('"'):
            end = self.closing_quote(start)
            source = self.text[start + 1 : end]
            self.pos = end + 1
        else:
            source = self.text[start : _unquoted_regex_end(self.text, start)].rstrip()
            self.pos = start + len(source)
        # \" means " to a regex too; dropping its backslash lets format_q quote any pattern
        regex = _ESCAPED_CHAR.sub(lambda m: '"' if m.group(1) == '"' else m.group(), source)
        if not regex:
            raise self.error(f"expected a regular expression after '{op}'", start)
        try:
            re.compile(regex)
        except re.error as exc:
            raise self.error(f"invalid regular expression: {exc.msg}", start) from exc
        return Pattern(regex)


_UNQUOTED_KINDS: Final = (
    (Kind.DATETIME, _DATETIME),
    (Kind.DATE, _DATE),
    (Kind.TIME, _TIME),
    (Kind.NUMBER, _NUMBER),
)


def _literal(kind: Kind, text: str) -> Value:
    """Build a checked literal; numbers become int or float, the rest keep their text."""
    if kind is not Kind.NUMBER:
        _native(Value(kind, text))  # raises ValueError for 2018-02-30 and the like
        return Value(kind, text)
    if text.lstrip("-").isdigit():
        return Value(kind, int(text))
    number = float(text)
    if not math.isfinite(number):  # 1e999: JSON has no infinity to compare with
        raise ValueError(text)
    return Value(kind, number)


def _make_range(op: Op, low: Value, high: Value, position: int) -> Range:
    """Check and build ``low..high``."""
    if op not in EQUALITY_OPS:
        raise QSyntaxError(f"a range needs '==' or '!=', not '{op}'", position)
    if low.kind is not high.kind:
        raise QSyntaxError(f"a range from a {low.kind} to a {high.kind}", position)
    if low.kind not in ORDERED_KINDS:
        raise QSyntaxError(f"a range of {low.kind} values has no order", position)
    if _native(low) > _native(high):
        raise QSyntaxError("the range starts after it ends", position)
    return Range(low, high)


def _unquoted_regex_end(text: str, start: int) -> int:
    """Find where an unquoted regex ends: ``;``, ``|`` or ``)`` outside its groups."""
    index, depth, in_class = start, 0, False
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            index += 2 if text.startswith("]", index + 1) else 1  # "[]...]" lists a "]"
            continue
        elif char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif char in ";|)" and not depth:
            return index
        index += 1
    return len(text)


# -- names -----------------------------------------------------------------------------

METADATA_MEMBERS: Final = frozenset(
    {"observedAt", "createdAt", "modifiedAt", "deletedAt", "unitCode", "datasetId"}
)


def map_attribute_names(expr: QExpr, expand: Callable[[str], str]) -> QExpr:
    """Return a copy with attribute and sub-property names passed through ``expand``.

    Bracket keys are JSON member names and metadata (``observedAt`` ...) are core
    members, so neither is expanded.
    """
    if isinstance(expr, And | Or):
        return type(expr)(tuple(map_attribute_names(term, expand) for term in expr.terms))

    def name(text: str) -> str:
        return text if text in METADATA_MEMBERS else expand(text)

    path = expr.path
    return replace(
        expr, path=replace(path, attr=name(path.attr), subpath=tuple(map(name, path.subpath)))
    )


def format_q(expr: QExpr) -> str:
    """Write an expression back as ``q`` text that parses to the same AST."""
    if isinstance(expr, Or):
        return "|".join(format_q(term) for term in expr.terms)
    if isinstance(expr, And):
        return ";".join(
            f"({format_q(t)})" if isinstance(t, Or) else format_q(t) for t in expr.terms
        )
    path = ".".join((expr.path.attr, *expr.path.subpath))
    if expr.path.keys:
        path += "[" + ".".join(expr.path.keys) + "]"
    if isinstance(expr, Existence):
        return "!" + path if expr.negated else path
    return f"{path}{expr.op}{_format_operand(expr.value)}"


def _format_operand(operand: Operand) -> str:
    """Write a value, range, list or pattern."""
    if isinstance(operand, Range):
        return f"{_format_value(operand.low)}..{_format_value(operand.high)}"
    if isinstance(operand, ValueList):
        return ",".join(map(_format_value, operand.items))
    if isinstance(operand, Pattern):
        return '"' + operand.regex.replace('"', '\\"') + '"'
    return _format_value(operand)


def _format_value(value: Value) -> str:
    """Write one literal."""
    if value.kind in (Kind.NUMBER, Kind.STRING, Kind.BOOLEAN):
        return json.dumps(value.value, ensure_ascii=False)
    return str(value.value)


# -- evaluation ------------------------------------------------------------------------

_NGSI_LD: Final = "https://uri.etsi.org/ngsi-ld/"
_PAYLOAD_MEMBER: Final = {
    "Property": "value",
    "GeoProperty": "value",
    "LanguageProperty": "languageMap",
    "ListProperty": "valueList",
    "VocabProperty": "vocab",
    "JsonProperty": "json",
    "Relationship": "object",
    "ListRelationship": "objectList",
}
_STRUCTURAL: Final = frozenset(_PAYLOAD_MEMBER.values()) | {"type"}
_RELATIONSHIPS: Final = frozenset({"Relationship", "ListRelationship"})
_ENTITY_METADATA: Final = frozenset({"createdAt", "modifiedAt", "deletedAt"})
_ORDERING: Final[dict[Op, Callable[[Any, Any], bool]]] = {
    Op.GT: operator.gt,
    Op.GE: operator.ge,
    Op.LT: operator.lt,
    Op.LE: operator.le,
}
_MISSING: Final = object()


class _Target(NamedTuple):
    """The values one attribute instance offers to a term."""

    atoms: tuple[Any, ...]
    relationship: bool


def evaluate(expr: QExpr, entity: Mapping[str, Any]) -> bool:
    """Tell whether a normalized entity (names already expanded) matches ``expr``."""
    if isinstance(expr, And):
        return all(evaluate(term, entity) for term in expr.terms)
    if isinstance(expr, Or):
        return any(evaluate(term, entity) for term in expr.terms)
    targets = _resolve(entity, expr.path)
    if isinstance(expr, Existence):
        return bool(targets) != expr.negated
    return any(_target_matches(target, expr.op, expr.value) for target in targets)


def _resolve(entity: Mapping[str, Any], path: Path) -> list[_Target]:
    """Find the targets a path addresses, one per attribute instance."""
    top = _member(entity, path.attr) if path.attr not in ("id", "type", "@context") else None
    nodes = [
        node
        for node in _instances(top)
        if _attribute_type(node)
        or (isinstance(node, str) and _short(path.attr) in _ENTITY_METADATA)
    ]
    for name in path.subpath:
        if _short(name) in _STRUCTURAL:  # "value", "object"... are no sub-attributes
            return []
        nodes = [
            child
            for node in nodes
            if _attribute_type(node)
            for child in _instances(_member(node, name))
        ]
    return [target for node in nodes if (target := _target(node, path.keys)) is not None]


def _short(name: str) -> str:
    """Drop the NGSI-LD core namespace, so expanded core names find compact members."""
    return name.removeprefix(_NGSI_LD)


def _member(node: Mapping[str, Any], name: str) -> Any:
    """Look a member up by its name, or by its compact name if it is a core IRI."""
    if name in node:
        return node[name]
    return node.get(_short(name))


def _attribute_type(node: Any) -> str | None:
    """Return the NGSI-LD attribute type of a node, if it is an attribute."""
    if isinstance(node, dict) and isinstance(node.get("type"), str):
        kind = _short(node["type"])
        return kind if kind in _PAYLOAD_MEMBER else None
    return None


def _instances(node: Any) -> list[Any]:
    """Split a multi-attribute (a list of typed instances) into its instances."""
    if node is None:
        return []
    if isinstance(node, list) and all(_attribute_type(item) for item in node):
        return list(node)
    return [node]


def _target(node: Any, keys: tuple[str, ...]) -> _Target | None:
    """Take the target value out of an attribute instance or a metadata value."""
    kind = _attribute_type(node)
    if kind is None:  # metadata such as observedAt: a plain JSON value
        return None if keys else _Target(_atoms(node), relationship=False)
    payload = _member(node, _PAYLOAD_MEMBER[kind])
    if kind in _RELATIONSHIPS:
        if keys:
            return None
        objects = payload if isinstance(payload, list) else [payload]
        return _Target(tuple(_object_of(item) for item in objects), relationship=True)
    if kind == "LanguageProperty":
        return _language_target(payload, keys)
    for key in keys:  # an ECMAScript member expression on the compound value
        payload = payload.get(key, _MISSING) if isinstance(payload, dict) else _MISSING
    return None if payload is _MISSING else _Target(_atoms(payload), relationship=False)


def _language_target(language_map: Any, keys: tuple[str, ...]) -> _Target | None:
    """Offer the strings of one language (``[ko]``) or of all of them (none, or ``[*]``)."""
    if not isinstance(language_map, dict) or len(keys) > 1:
        return None
    if keys and keys[0] != "*":
        wanted = keys[0].lower()  # BCP 47 tags are case-insensitive
        chosen = [text for tag, text in language_map.items() if tag.lower() == wanted]
        if not chosen:
            return None
    else:
        chosen = list(language_map.values())
    return _Target(tuple(atom for text in chosen for atom in _atoms(text)), relationship=False)


def _unwrap(value: Any) -> Any:
    """Unwrap JSON-LD value and list objects (``{"@value": ...}``, ``{"@list": [...]}``)."""
    if isinstance(value, dict):
        for key in ("@value", "@list"):
            if key in value:
                return value[key]
    return value


def _atoms(value: Any) -> tuple[Any, ...]:
    """Split a value into the items a term is tested on: an array's elements, or itself."""
    value = _unwrap(value)
    return tuple(map(_unwrap, value)) if isinstance(value, list) else (value,)


def _object_of(item: Any) -> Any:
    """Return the URI of a relationship object, bare or as ``{"object": ...}``."""
    if isinstance(item, dict):
        return item.get("object", item.get("@id"))
    return item


def _target_matches(target: _Target, op: Op, operand: Operand) -> bool:
    """Test one target; negative operators hold when no item matches."""
    if target.relationship and op not in EQUALITY_OPS:
        return False  # the clause: relationships only take == and !=
    if op is Op.NE:
        return not any(_atom_matches(atom, Op.EQ, operand) for atom in target.atoms)
    if op is Op.NO_MATCH:
        texts = [atom for atom in target.atoms if isinstance(atom, str)]
        return bool(texts) and not any(_atom_matches(text, Op.MATCH, operand) for text in texts)
    return any(_atom_matches(atom, op, operand) for atom in target.atoms)


def _atom_matches(atom: Any, op: Op, operand: Operand) -> bool:
    """Test one item of a target with ``==``, an ordering operator or ``~=``."""
    if isinstance(operand, Pattern):
        return isinstance(atom, str) and _compiled(operand.regex).search(atom) is not None
    if isinstance(operand, ValueList):
        return any(_atom_matches(atom, Op.EQ, item) for item in operand.items)
    if isinstance(operand, Range):
        found = _coerce(atom, operand.low.kind)
        return found is not None and _native(operand.low) <= found <= _native(operand.high)
    found = _coerce(atom, operand.kind)
    if found is None:
        return False  # different data types never match
    wanted = _native(operand)
    return found == wanted if op is Op.EQ else _ORDERING[op](found, wanted)


@lru_cache(maxsize=256)
def _compiled(regex: str) -> re.Pattern[str]:
    """Compile a pattern once."""
    return re.compile(regex)


def _coerce(atom: Any, kind: Kind) -> Any:
    """Read an entity value as ``kind``, or return None if it is of another type."""
    if kind is Kind.NUMBER:
        return atom if isinstance(atom, int | float) and not isinstance(atom, bool) else None
    if kind is Kind.BOOLEAN:
        return atom if isinstance(atom, bool) else None
    if not isinstance(atom, str):
        return None
    if kind in (Kind.STRING, Kind.URI):
        return atom
    pattern = {Kind.DATETIME: _DATETIME, Kind.DATE: _DATE, Kind.TIME: _TIME}[kind]
    if not pattern.fullmatch(atom):
        return None
    try:
        return _native(Value(kind, atom))
    except ValueError:
        return None


@lru_cache(maxsize=1024)
def _native(value: Value) -> Any:
    """Turn a literal into a Python value that compares as the clause asks."""
    if value.kind is Kind.DATETIME:
        moment = datetime.fromisoformat(str(value.value))
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if value.kind is Kind.DATE:
        return date.fromisoformat(str(value.value))
    if value.kind is Kind.TIME:
        clock = time.fromisoformat(str(value.value))
        if clock.tzinfo is None:
            return clock
        # move to UTC via an arbitrary day; times near midnight wrap around
        return datetime.combine(date(2000, 1, 3), clock).astimezone(UTC).time()
    return value.value
