"""JSON-LD term definitions and the active context: expand and compact IRIs.

Only the part of JSON-LD 1.1 context processing that NGSI-LD contexts use is implemented
(see :mod:`citysmart.hub.ngsi_ld.context`); remote contexts are resolved elsewhere and
reach :class:`_ContextBuilder` as plain objects.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from citysmart.hub.ngsi_ld.context_errors import InvalidContext

CORE_CONTEXT_URL = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
DEFAULT_VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"
JSONLD_CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"
ACCEPT_CONTEXT = "application/ld+json, application/json"
_CORE_FILE = "ngsi-ld-core-context-v1.8.jsonld"
# The unversioned address and every v1.x one are served from the built-in v1.8 copy.
_CORE_ALIAS = re.compile(
    r"^https?://uri\.etsi\.org/ngsi-ld/v1/ngsi-ld-core-context(?:-v1\.\d+(?:\.\d+)?)?\.jsonld$"
)

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_GEN_DELIMS = frozenset(":/?#[]@")
_KEYWORD_LIKE = re.compile(r"^@[A-Za-z]+$")
_KEYWORDS = frozenset(
    {
        "@base", "@container", "@context", "@direction", "@graph", "@id", "@import",
        "@included", "@index", "@json", "@language", "@list", "@nest", "@none", "@prefix",
        "@propagate", "@protected", "@reverse", "@set", "@type", "@value", "@version",
        "@vocab",
    }
)  # fmt: skip
# Members of a local context that configure it rather than define a term.
_CONTEXT_SETTINGS = frozenset(
    {"@base", "@direction", "@import", "@language", "@propagate", "@protected", "@version"}
)
_TERM_KEYS = frozenset(
    {
        "@id", "@reverse", "@container", "@context", "@direction", "@index", "@language",
        "@nest", "@prefix", "@protected", "@type",
    }
)  # fmt: skip
_CONTAINERS = frozenset({"@list", "@set", "@index", "@language", "@id", "@type", "@graph"})
_TYPE_KEYWORDS = frozenset({"@id", "@vocab", "@json", "@none"})

ContextReference = str | Mapping[str, Any] | Sequence[Any] | None
"""A URL, an inline context object, a list mixing both (and ``None``), or nothing."""


# --- IRIs and the active context -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TermDefinition:
    """What one term means: its IRI and how values under it are coerced."""

    iri: str
    type_mapping: str | None = None  # expanded: "@id", "@vocab", "@json", "@none" or an IRI
    container: frozenset[str] = frozenset()
    prefix: bool = False  # usable as the prefix of a compact IRI ("sdm:pm25")
    reverse: bool = False


def is_core_context(url: str) -> bool:
    """Tell whether a URL names the NGSI-LD core context (any v1.x address)."""
    return bool(_CORE_ALIAS.match(url))


def _is_keyword(value: str) -> bool:
    return value in _KEYWORDS


def _is_absolute_iri(value: str) -> bool:
    return bool(_SCHEME.match(value))


def _expand_iri(
    value: str, terms: Mapping[str, TermDefinition], vocab_iri: str | None, *, vocab: bool
) -> str:
    """Expand a term, compact IRI or IRI (JSON-LD 1.1 IRI expansion, no document base)."""
    if value.startswith("@"):
        return value  # keywords, and keyword-like strings JSON-LD leaves alone
    if vocab and value in terms:
        return terms[value].iri
    prefix, colon, suffix = value.partition(":")
    if colon:
        if prefix == "_" or suffix.startswith("//"):
            return value  # a blank node or an authority-based absolute IRI
        definition = terms.get(prefix)
        if definition is not None and definition.prefix:
            return definition.iri + suffix
        if _is_absolute_iri(value):
            return value
    if vocab and vocab_iri is not None:
        return vocab_iri + value
    return value


class ActiveContext:
    """A resolved @context: expands terms to IRIs and compacts IRIs back to terms."""

    __slots__ = ("_prefixes", "_reverse", "_terms", "_vocab")

    def __init__(self, terms: Mapping[str, TermDefinition], vocab: str | None) -> None:
        self._terms = dict(terms)
        self._vocab = vocab
        # Compaction picks the shortest term for an IRI, then the lexically least (JSON-LD).
        reverse: dict[str, str] = {}
        for term, definition in self._terms.items():
            best = reverse.get(definition.iri)
            if best is None or (len(term), term) < (len(best), best):
                reverse[definition.iri] = term
        self._reverse = reverse
        self._prefixes = [(d.iri, t) for t, d in self._terms.items() if d.prefix]

    @property
    def vocab(self) -> str | None:
        """Return the vocabulary mapping (``@vocab``) unknown terms expand against."""
        return self._vocab

    @property
    def terms(self) -> Mapping[str, TermDefinition]:
        """Return every term definition, read-only."""
        return self._terms

    def term(self, term: str) -> TermDefinition | None:
        """Return a term's definition, or ``None`` when the context does not define it."""
        return self._terms.get(term)

    def expand_iri(self, value: str, *, vocab: bool = True) -> str:
        """Expand ``value``; with ``vocab=False`` only compact IRIs expand (``@id`` values)."""
        return _expand_iri(value, self._terms, self._vocab, vocab=vocab)

    def expand_term(self, term: str) -> str:
        """Expand an attribute name: term, compact IRI or IRI; unknown ones use ``@vocab``."""
        return _expand_iri(term, self._terms, self._vocab, vocab=True)

    def expand_type(self, entity_type: str) -> str:
        """Expand an entity type: types are vocabulary-relative like attribute names."""
        return self.expand_term(entity_type)

    def compact_iri(self, iri: str, *, vocab: bool = True) -> str:
        """Compact an IRI: a term, else a ``@vocab``-relative name, else ``prefix:suffix``."""
        if vocab:
            term = self._reverse.get(iri)
            if term is not None:
                return term
            suffix = self._vocab_suffix(iri)
            if suffix is not None:
                return suffix
        return self._compact_with_prefix(iri) or iri

    def compact_type(self, iri: str) -> str:
        """Compact an entity type IRI."""
        return self.compact_iri(iri)

    def _vocab_suffix(self, iri: str) -> str | None:
        if not self._vocab or len(iri) <= len(self._vocab) or not iri.startswith(self._vocab):
            return None
        suffix = iri[len(self._vocab) :]
        # Only when it expands back to the same IRI (it is no term, compact IRI or IRI).
        if suffix in self._terms or self.expand_term(suffix) != iri:
            return None
        return suffix

    def _compact_with_prefix(self, iri: str) -> str | None:
        best: str | None = None
        for prefix_iri, term in self._prefixes:
            if len(iri) <= len(prefix_iri) or not iri.startswith(prefix_iri):
                continue
            rest = iri[len(prefix_iri) :]
            candidate = f"{term}:{rest}"
            clash = self._terms.get(candidate)
            if rest.startswith("//") or (clash is not None and clash.iri != iri):
                continue
            if best is None or (len(candidate), candidate) < (len(best), best):
                best = candidate
        return best


# --- context processing --------------------------------------------------------------------


class _ContextBuilder:
    """Mutable state while local contexts are applied one after another (JSON-LD 1.1 §4.1)."""

    def __init__(self) -> None:
        self.terms: dict[str, TermDefinition] = {}
        self.vocab: str | None = None

    def reset(self) -> None:
        """Apply a ``null`` context: forget everything so far."""
        self.terms = {}
        self.vocab = None

    def merge(self, context: ActiveContext) -> None:
        """Apply an already processed self-contained context (the core one) on top."""
        self.terms.update(context.terms)
        self.vocab = context.vocab

    def freeze(self) -> ActiveContext:
        """Return the result as an immutable active context."""
        return ActiveContext(self.terms, self.vocab)

    def apply(self, local: Mapping[str, Any]) -> None:
        """Apply one local context object (``@import`` already merged in)."""
        version = local.get("@version")
        if "@version" in local and version != 1.1:
            raise InvalidContext(f"@version must be 1.1, not {version!r}")
        if "@vocab" in local:
            self.vocab = self._vocab_mapping(local["@vocab"])
        defined: dict[str, bool] = {}
        for term in local:
            if term not in _CONTEXT_SETTINGS and term != "@vocab":
                self._define(local, term, defined)

    def _vocab_mapping(self, value: object) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise InvalidContext(f"@vocab must be an IRI, not {value!r}")
        # Resolved against contexts applied before, not this one (JSON-LD 1.1 §4.1.2 5.8).
        expanded = _expand_iri(value, self.terms, self.vocab, vocab=True)
        if not _is_absolute_iri(expanded):
            raise InvalidContext(f"@vocab {value!r} is not an absolute IRI")
        return expanded

    def _define(self, local: Mapping[str, Any], term: str, defined: dict[str, bool]) -> None:
        state = defined.get(term)
        if state is True:
            return
        if state is False:
            raise InvalidContext(f"cyclic IRI mapping: term {term!r} depends on itself")
        if term == "":
            raise InvalidContext("a term cannot be the empty string")
        defined[term] = False
        value = local[term]
        if _is_keyword(term):
            if not (term == "@type" and isinstance(value, Mapping)):
                raise InvalidContext(f"keyword {term!r} cannot be redefined")
        elif not _KEYWORD_LIKE.match(term):  # keyword-like terms are ignored, as in JSON-LD
            self.terms.pop(term, None)
            # A null definition removes the term, so the name falls back to @vocab instead
            # of being dropped as JSON-LD would: silently losing an attribute is worse.
            if value is not None:
                definition = self._term_definition(local, term, value, defined)
                if definition is not None:
                    self.terms[term] = definition
        defined[term] = True

    def _term_definition(
        self, local: Mapping[str, Any], term: str, value: object, defined: dict[str, bool]
    ) -> TermDefinition | None:
        simple = isinstance(value, str)
        spec: Mapping[str, Any]
        if isinstance(value, str):
            spec = {"@id": value}
        elif isinstance(value, Mapping):
            spec = value
        else:
            raise InvalidContext(f"term {term!r} must map to a string or an object")
        unknown = set(spec) - _TERM_KEYS
        if unknown:
            raise InvalidContext(f"term {term!r} has unknown members {sorted(unknown)}")
        iri = self._term_iri(local, term, spec, defined)
        if iri is None:
            return None
        return TermDefinition(
            iri=iri,
            type_mapping=self._type_mapping(local, term, spec, defined),
            container=_container(term, spec),
            prefix=_prefix_flag(term, spec, iri, simple),
            reverse="@reverse" in spec,
        )

    def _term_iri(
        self, local: Mapping[str, Any], term: str, spec: Mapping[str, Any], defined: dict[str, bool]
    ) -> str | None:
        target = spec.get("@reverse", spec.get("@id", term))
        if target is None:
            return None  # "@id": null decouples the term
        if not isinstance(target, str):
            raise InvalidContext(f"the @id of term {term!r} must be a string")
        if target == term:
            return self._iri_from_term(local, term, defined)
        if not _is_keyword(target) and _KEYWORD_LIKE.match(target):
            return None
        iri = self._expand(local, target, defined, vocab=True)
        if iri == "@context" or not (_is_keyword(iri) or _is_absolute_iri(iri)):
            raise InvalidContext(f"term {term!r} maps to {iri!r}, which is not an IRI")
        if ":" in term[1:-1] or "/" in term:
            # A term that looks like a compact IRI must not contradict what it expands to.
            defined[term] = True
            if self._expand(local, term, defined, vocab=True) != iri:
                raise InvalidContext(f"term {term!r} looks like an IRI but maps to {iri!r}")
        return iri

    def _iri_from_term(self, local: Mapping[str, Any], term: str, defined: dict[str, bool]) -> str:
        if ":" in term[1:] or "/" in term:
            defined[term] = True  # the term is its own IRI: a compact IRI or an IRI
            return self._expand(local, term, defined, vocab=True)
        if self.vocab is None:
            raise InvalidContext(f"term {term!r} has no @id and no @vocab applies")
        return self.vocab + term

    def _type_mapping(
        self, local: Mapping[str, Any], term: str, spec: Mapping[str, Any], defined: dict[str, bool]
    ) -> str | None:
        if "@type" not in spec:
            return None
        value = spec["@type"]
        if not isinstance(value, str):
            raise InvalidContext(f"the @type of term {term!r} must be a string")
        expanded = self._expand(local, value, defined, vocab=True)
        if expanded in _TYPE_KEYWORDS or (
            _is_absolute_iri(expanded) and not expanded.startswith("_:")
        ):
            return expanded
        raise InvalidContext(f"the @type of term {term!r} is not an IRI: {value!r}")

    def _expand(
        self, local: Mapping[str, Any], value: str, defined: dict[str, bool], *, vocab: bool
    ) -> str:
        """Expand inside a local context, defining the terms it relies on first."""
        if not value.startswith("@"):
            if value in local and defined.get(value) is not True:
                self._define(local, value, defined)
            prefix, colon, _ = value.partition(":")
            if colon and prefix in local and defined.get(prefix) is not True:
                self._define(local, prefix, defined)
        return _expand_iri(value, self.terms, self.vocab, vocab=vocab)


def _container(term: str, spec: Mapping[str, Any]) -> frozenset[str]:
    value = spec.get("@container")
    if value is None:
        return frozenset()
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(v in _CONTAINERS for v in values):
        raise InvalidContext(f"term {term!r} has an invalid @container {value!r}")
    return frozenset(values)


def _prefix_flag(term: str, spec: Mapping[str, Any], iri: str, simple: bool) -> bool:
    if "@prefix" in spec:
        flag = spec["@prefix"]
        if not isinstance(flag, bool) or ":" in term or "/" in term:
            raise InvalidContext(f"term {term!r} has an invalid @prefix")
        return flag and not _is_keyword(iri)
    # JSON-LD 1.1: only simple terms whose IRI ends in a gen-delim act as prefixes.
    return simple and ":" not in term and "/" not in term and iri[-1:] in _GEN_DELIMS


@cache
def _core_document() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("contexts", _CORE_FILE).read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


@cache
def core_context() -> ActiveContext:
    """Return the NGSI-LD core context v1.8, processed once from the built-in copy."""
    builder = _ContextBuilder()
    builder.apply(_core_document()["@context"])
    return builder.freeze()


def _as_list(reference: ContextReference) -> list[Any]:
    if reference is None:
        return []
    if isinstance(reference, str | Mapping):
        return [reference]
    if isinstance(reference, Sequence):
        return list(reference)
    raise InvalidContext(f"an @context must be a URL, an object or a list, not {reference!r}")
