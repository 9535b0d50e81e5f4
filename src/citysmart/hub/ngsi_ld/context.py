"""NGSI-LD @context handling: resolve, cache, expand and compact (ETSI GS CIM 009 V1.8.1).

A client names its vocabulary with a JSON-LD ``@context``: a URL in a ``Link`` header
(``application/json``) or an ``@context`` member of the body (``application/ld+json``),
clause 6.3.5. The broker turns that reference into an :class:`ActiveContext` (term -> IRI)
and uses it to expand entity types and attribute names on the way in and compact them on
the way out. The NGSI-LD core context is applied last, so core terms and the default
vocabulary always win, and also first, so user contexts may lean on its prefixes
(``ngsi-ld:``) and terms (``DateTime``) as many do.

Only the part of JSON-LD 1.1 context processing that NGSI-LD contexts use is implemented,
without pyld: term definitions (a string, or an object with ``@id``, ``@type``,
``@container``, ``@prefix``, ``@reverse``), compact IRIs through prefixes, ``@vocab``,
``null`` resets, arrays of contexts, remote contexts (also nested inside a remote one) and
``@import``. Property-scoped contexts, ``@language``, ``@direction``, ``@nest``, ``@base``
and ``@protected`` are accepted and ignored: they steer JSON-LD value processing, which a
broker does not do (values are stored as given), and merging the core last already keeps
its terms protected.

Remote contexts are fetched through a pluggable fetcher, cached (entry count, document
size, TTL, a short memory of failures, a stale copy kept while the origin is down), and
can be preloaded from local files so a deployment works offline. The same store backs
``/ngsi-ld/v1/jsonldContexts`` (clause 5.13). Everything here is synchronous and
thread-safe: call it from sync endpoints (FastAPI runs those in its thread pool).
"""

from __future__ import annotations

import copy
import datetime as dt
import enum
import hashlib
import json
import logging
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Protocol
from urllib.parse import urljoin, urlsplit

import httpx

from citysmart.core.time import isoformat

logger = logging.getLogger(__name__)

CORE_CONTEXT_URL = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
DEFAULT_VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"
JSONLD_CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"
ACCEPT_CONTEXT = "application/ld+json, application/json"
_CORE_FILE = "ngsi-ld-core-context-v1.8.jsonld"
# The unversioned address and every v1.x one are served from the built-in v1.8 copy.
_CORE_ALIAS = re.compile(
    r"^https?://uri\.etsi\.org/ngsi-ld/v1/ngsi-ld-core-context(?:-v1\.\d+(?:\.\d+)?)?\.jsonld$"
)
_ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
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


# --- errors ------------------------------------------------------------------------------


class ContextError(Exception):
    """An @context problem the API answers with an NGSI-LD problem document."""

    problem_type: ClassVar[str] = _ERRORS + "BadRequestData"
    title: ClassVar[str] = "Bad request data"
    status: ClassVar[int] = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidContext(ContextError):
    """The @context itself is not valid JSON-LD (clause 5.5.4: BadRequestData)."""

    title = "Invalid @context"


class BadContextRequest(ContextError):
    """The request breaks the rules for where its @context goes (clause 6.3.5)."""

    title = "Misplaced @context"


class ContextNotAvailable(ContextError):
    """A remote @context could not be obtained or used (LdContextNotAvailable)."""

    problem_type = _ERRORS + "LdContextNotAvailable"
    title = "@context not available"
    # Clause 6.3.2 (table 6.3.2-1) maps LdContextNotAvailable to 504 Gateway Timeout.
    status = 504

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot use the @context at {url}: {reason}")
        self.url = url
        self.reason = reason


class ContextNotFound(ContextError):
    """No stored @context has that id or URL (clause 5.13: ResourceNotFound)."""

    problem_type = _ERRORS + "ResourceNotFound"
    title = "No such @context"
    status = 404


class ContextOperationNotSupported(ContextError):
    """The stored @context does not allow that operation (OperationNotSupported)."""

    problem_type = _ERRORS + "OperationNotSupported"
    title = "Operation not supported"
    status = 422


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


# --- fetching ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FetchedDocument:
    """A remote context's raw bytes and, if the server said, how long it may be cached."""

    body: bytes
    max_age: float | None = None


class ContextFetcher(Protocol):
    """Fetch a URL; raise :class:`ContextNotAvailable` (or anything) when it cannot."""

    def __call__(self, url: str, *, timeout: float, max_bytes: int) -> FetchedDocument:
        """Return the document at ``url``, refusing bodies over ``max_bytes``."""
        ...


class HttpxFetcher:
    """The default fetcher: httpx GET, redirects followed, the body capped while it streams."""

    def __init__(self, *, transport: httpx.BaseTransport | None = None) -> None:
        self._client = httpx.Client(
            transport=transport,
            follow_redirects=True,
            max_redirects=5,
            headers={"Accept": ACCEPT_CONTEXT, "User-Agent": "citysmart-ngsi-ld"},
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def __call__(self, url: str, *, timeout: float, max_bytes: int) -> FetchedDocument:
        """GET ``url``; a non-200 answer, a timeout or an oversized body is not available."""
        deadline = time.monotonic() + timeout  # httpx times each read, not the whole body
        try:
            with self._client.stream("GET", url, timeout=timeout) as response:
                if response.status_code != 200:
                    raise ContextNotAvailable(
                        url, f"the server answered HTTP {response.status_code}"
                    )
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise ContextNotAvailable(url, f"larger than {max_bytes} bytes")
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > max_bytes:
                        raise ContextNotAvailable(url, f"larger than {max_bytes} bytes")
                    if time.monotonic() > deadline:
                        raise ContextNotAvailable(url, f"not received within {timeout} s")
                return FetchedDocument(bytes(body), _max_age(response.headers.get("cache-control")))
        except httpx.HTTPError as exc:
            raise ContextNotAvailable(url, f"{type(exc).__name__}: {exc}") from exc


def _max_age(cache_control: str | None) -> float | None:
    """Read how long a response may be cached from ``Cache-Control`` (RFC 9111)."""
    if not cache_control:
        return None
    directives = [d.strip().lower() for d in cache_control.split(",")]
    if "no-store" in directives or "no-cache" in directives:
        return 0.0
    for directive in directives:
        name, _, value = directive.partition("=")
        if name == "max-age" and value.strip('"').isdigit():
            return float(value.strip('"'))
    return None


# --- the store behind /jsonldContexts --------------------------------------------------------


class ContextKind(enum.StrEnum):
    """How a stored @context got there (clause 5.13.1)."""

    HOSTED = "Hosted"
    CACHED = "Cached"
    IMPLICITLY_CREATED = "ImplicitlyCreated"


@dataclass(slots=True)
class _Entry:
    url: str
    local_id: str
    kind: ContextKind
    origin: str  # built-in, preloaded, fetched, hosted or implicit
    document: dict[str, Any]
    size: int
    created_at: float
    expires_at: float | None
    generation: int
    last_usage: float | None = None
    hits: int = 0

    @property
    def pinned(self) -> bool:
        return self.origin in ("built-in", "preloaded")

    def fresh(self, now: float) -> bool:
        return self.expires_at is None or now < self.expires_at


def _instant(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC)


@dataclass(frozen=True, slots=True)
class ContextInfo:
    """Metadata about one stored @context, as ``GET /jsonldContexts?details=true`` lists it."""

    url: str
    local_id: str
    kind: ContextKind
    origin: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_usage: dt.datetime | None
    hits: int
    size: int

    @classmethod
    def of(cls, entry: _Entry) -> ContextInfo:
        """Describe a store entry."""
        return cls(
            url=entry.url,
            local_id=entry.local_id,
            kind=entry.kind,
            origin=entry.origin,
            created_at=_instant(entry.created_at),
            expires_at=None if entry.expires_at is None else _instant(entry.expires_at),
            last_usage=None if entry.last_usage is None else _instant(entry.last_usage),
            hits=entry.hits,
            size=entry.size,
        )

    def as_json(self) -> dict[str, Any]:
        """Return the clause 5.13.3.5 JSON object (field names as in GS CIM 009 V1.9.1)."""
        body: dict[str, Any] = {
            "URL": self.url,
            "localId": self.local_id,
            "kind": str(self.kind),
            "createdAt": isoformat(self.created_at),
        }
        if self.expires_at is not None:
            body["expiresAt"] = isoformat(self.expires_at)
        if self.last_usage is not None:
            body["lastUsage"] = isoformat(self.last_usage)
        body["numberOfHits"] = self.hits
        body["extraInfo"] = {"origin": self.origin, "size": self.size}
        return body


# --- the resolver ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContextSettings:
    """Limits and cache policy for remote contexts; the defaults suit a small broker."""

    timeout: float = 5.0  # seconds for one fetch
    max_bytes: int = 1024 * 1024  # one context document
    max_entries: int = 128  # fetched (Cached) documents kept
    ttl: float = 3600.0  # heuristic expiry when the server gives none (clause 5.13.1)
    min_ttl: float = 60.0  # a no-cache origin is still not fetched on every request
    stale_if_error: float = 86400.0  # keep using an expired copy this long while it fails
    failure_ttl: float = 10.0  # do not retry a failing URL on every request
    max_remote_contexts: int = 32  # per resolution, nested ones included
    max_depth: int = 8  # remote contexts inside remote contexts
    allow_remote: bool = True  # False: only built-in, preloaded and hosted contexts
    allowed_hosts: frozenset[str] | None = None  # None: any host
    hosted_base: str = "http://localhost:8000/ngsi-ld/v1/jsonldContexts/"
    max_hosted: int = 1000
    active_cache_size: int = 256  # resolved references kept


@dataclass(slots=True)
class _Resolution:
    """Book-keeping for one resolution: the remote stack, a budget, what it depended on."""

    settings: ContextSettings
    stack: list[str] = field(default_factory=list)
    remote_count: int = 0
    depends_on: dict[str, int] = field(default_factory=dict)  # URL -> store generation

    def enter(self, url: str) -> None:
        if url in self.stack:
            raise InvalidContext(f"recursive @context: {' -> '.join([*self.stack, url])}")
        if len(self.stack) >= self.settings.max_depth:
            raise InvalidContext(f"remote @contexts nested deeper than {self.settings.max_depth}")
        self.remote_count += 1
        if self.remote_count > self.settings.max_remote_contexts:
            raise InvalidContext(
                f"more than {self.settings.max_remote_contexts} remote @contexts in one request"
            )
        self.stack.append(url)

    def leave(self) -> None:
        self.stack.pop()


class ContextResolver:
    """Resolve @context references into active contexts, caching remote documents."""

    _LOCK_STRIPES = 16

    def __init__(
        self,
        *,
        fetcher: ContextFetcher | None = None,
        settings: ContextSettings | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings or ContextSettings()
        self._owned_fetcher: HttpxFetcher | None = None
        if fetcher is None:
            fetcher = self._owned_fetcher = HttpxFetcher()
        self._fetcher = fetcher
        self._clock = clock
        self._core = core_context()
        self._lock = threading.RLock()
        # One fetch per URL at a time, with a fixed number of locks however many URLs come.
        self._fetch_locks = [threading.Lock() for _ in range(self._LOCK_STRIPES)]
        self._by_url: dict[str, _Entry] = {}
        self._by_id: dict[str, _Entry] = {}
        self._fetched: OrderedDict[str, None] = OrderedDict()  # LRU order of Cached entries
        self._failures: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._active: OrderedDict[str, tuple[ActiveContext, dict[str, int]]] = OrderedDict()
        self._generation = 0
        self._register_core()

    def close(self) -> None:
        """Close the default fetcher's connections."""
        if self._owned_fetcher is not None:
            self._owned_fetcher.close()

    # -- resolving --

    @property
    def core(self) -> ActiveContext:
        """Return the core-only active context (no user context given)."""
        return self._core

    def resolve(self, reference: ContextReference) -> ActiveContext:
        """Resolve a URL, an inline context or a list of both; the core context goes last."""
        items = _as_list(reference)
        if all(isinstance(item, str) and is_core_context(item) for item in items):
            return self._core
        key = _cache_key(items)
        cached = self._cached_active(key)
        if cached is not None:
            return cached
        resolution = _Resolution(self.settings)
        # The core goes first too, so user contexts may use its prefixes and terms
        # ("ngsi-ld:", "DateTime") as clients expect, and last, so that it always wins.
        builder = _ContextBuilder()
        builder.merge(self._core)
        self._apply(builder, items, None, resolution)
        builder.merge(self._core)
        active = builder.freeze()
        with self._lock:
            self._active[key] = (active, resolution.depends_on)
            while len(self._active) > self.settings.active_cache_size:
                self._active.popitem(last=False)
        return active

    def _cached_active(self, key: str) -> ActiveContext | None:
        """Return a resolved reference if every remote document it used is unchanged."""
        with self._lock:
            hit = self._active.get(key)
            if hit is None:
                return None
            active, depends_on = hit
            now = self._clock()
            entries = []
            for url, generation in depends_on.items():
                entry = self._by_url.get(url)
                if entry is None or entry.generation != generation or not entry.fresh(now):
                    del self._active[key]
                    return None
                entries.append(entry)
            for entry in entries:
                self._touch(entry, now)
            self._active.move_to_end(key)
            return active

    def _apply(
        self, builder: _ContextBuilder, value: object, base: str | None, res: _Resolution
    ) -> None:
        for item in value if isinstance(value, list) else [value]:
            if item is None:
                builder.reset()
            elif isinstance(item, str):
                self._apply_url(builder, _absolute_url(item, base), res)
            elif isinstance(item, Mapping):
                builder.apply(self._with_import(item, base, res))
            else:
                raise InvalidContext(
                    f"an @context entry must be a URL, an object or null, not {item!r}"
                )

    def _apply_url(self, builder: _ContextBuilder, url: str, res: _Resolution) -> None:
        if is_core_context(url):
            builder.merge(self._core)
            return
        res.enter(url)
        try:
            document = self._document(url, res)
            self._apply(builder, document["@context"], url, res)
        finally:
            res.leave()

    def _with_import(
        self, local: Mapping[str, Any], base: str | None, res: _Resolution
    ) -> Mapping[str, Any]:
        """Merge an ``@import``-ed context under the local one (JSON-LD 1.1 §4.1.2 5.6)."""
        if "@import" not in local:
            return local
        target = local["@import"]
        if not isinstance(target, str):
            raise InvalidContext("@import must be a URL")
        url = _absolute_url(target, base)
        res.enter(url)
        try:
            imported = self._document(url, res)["@context"]
        finally:
            res.leave()
        if not isinstance(imported, Mapping) or "@import" in imported:
            raise InvalidContext(f"the context imported from {url} must be one plain object")
        return {**imported, **{k: v for k, v in local.items() if k != "@import"}}

    # -- documents --

    def _document(self, url: str, res: _Resolution) -> dict[str, Any]:
        """Return the stored document for ``url``, fetching it when missing or expired."""
        entry = self._fresh_entry(url)
        if entry is None:
            with self._fetch_locks[hash(url) % self._LOCK_STRIPES]:
                entry = self._fresh_entry(url)  # another thread may have fetched it meanwhile
                if entry is None:
                    entry = self._refresh(url)
        res.depends_on[url] = entry.generation
        return entry.document

    def _fresh_entry(self, url: str) -> _Entry | None:
        with self._lock:
            entry = self._by_url.get(url)
            now = self._clock()
            if entry is None or not entry.fresh(now):
                return None
            self._touch(entry, now)
            return entry

    def _touch(self, entry: _Entry, now: float) -> None:
        entry.hits += 1
        entry.last_usage = now
        if entry.origin == "fetched":
            self._fetched.move_to_end(entry.url)

    def _refresh(self, url: str) -> _Entry:
        """Fetch ``url`` again; while it fails, fall back to a recent stale copy."""
        with self._lock:
            stale = self._by_url.get(url)
            failure = self._failures.get(url)
        now = self._clock()
        recently_failed = failure is not None and now < failure[0]
        try:
            if failure is not None and recently_failed:
                raise ContextNotAvailable(url, failure[1])
            document, size, ttl = self._download(url)
        except ContextNotAvailable as exc:
            if not recently_failed:
                self._remember_failure(url, exc.reason, now)
            if stale is not None and self._usable_when_stale(stale, now):
                logger.warning("using the expired copy of %s: %s", url, exc.reason)
                return stale
            raise
        return self._store(url, document, size, ttl, now, stale)

    def _usable_when_stale(self, entry: _Entry, now: float) -> bool:
        expired_at = entry.expires_at
        return expired_at is not None and now - expired_at <= self.settings.stale_if_error

    def _remember_failure(self, url: str, reason: str, now: float) -> None:
        logger.warning("cannot fetch @context %s: %s", url, reason)
        with self._lock:
            self._failures[url] = (now + self.settings.failure_ttl, reason)
            self._failures.move_to_end(url)
            while len(self._failures) > 1024:
                self._failures.popitem(last=False)

    def _download(self, url: str) -> tuple[dict[str, Any], int, float]:
        """Fetch and parse a remote context document; return it, its size and its TTL."""
        self._check_remote_allowed(url)
        limit = self.settings.max_bytes
        try:
            fetched = self._fetcher(url, timeout=self.settings.timeout, max_bytes=limit)
        except ContextNotAvailable:
            raise
        except Exception as exc:  # a fetcher may fail in any way; the client sees one error
            raise ContextNotAvailable(url, f"{type(exc).__name__}: {exc}") from exc
        if len(fetched.body) > limit:
            raise ContextNotAvailable(url, f"larger than {limit} bytes")
        try:
            document = json.loads(fetched.body)
        except ValueError as exc:
            raise ContextNotAvailable(url, f"not a JSON document ({exc})") from exc
        if not isinstance(document, dict) or "@context" not in document:
            raise ContextNotAvailable(url, "the document has no top-level @context")
        return document, len(fetched.body), self._ttl(fetched.max_age)

    def _ttl(self, max_age: float | None) -> float:
        if max_age is None:
            return self.settings.ttl
        return min(self.settings.ttl, max(max_age, self.settings.min_ttl))

    def _check_remote_allowed(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise ContextNotAvailable(url, "only http and https @context URLs can be fetched")
        if url.startswith(self.settings.hosted_base):
            raise ContextNotAvailable(url, "no @context is hosted here under that id")
        if not self.settings.allow_remote:
            raise ContextNotAvailable(url, "this broker does not fetch remote @contexts")
        allowed = self.settings.allowed_hosts
        if allowed is not None and (parts.hostname or "") not in allowed:
            raise ContextNotAvailable(url, f"host {parts.hostname!r} is not allowed")

    def _store(
        self,
        url: str,
        document: dict[str, Any],
        size: int,
        ttl: float,
        now: float,
        previous: _Entry | None,
    ) -> _Entry:
        with self._lock:
            self._failures.pop(url, None)
            local_id = previous.local_id if previous is not None else _new_local_id()
            entry = self._add(url, local_id, ContextKind.CACHED, "fetched", document, size, now)
            entry.expires_at = now + ttl
            self._touch(entry, now)
            while len(self._fetched) > self.settings.max_entries:
                oldest, _ = self._fetched.popitem(last=False)
                self._remove(self._by_url[oldest])
            return entry

    def _add(
        self,
        url: str,
        local_id: str,
        kind: ContextKind,
        origin: str,
        document: dict[str, Any],
        size: int,
        now: float,
    ) -> _Entry:
        """Put an entry in the store, replacing any other under the same URL."""
        with self._lock:
            previous = self._by_url.get(url)
            if previous is not None:
                self._remove(previous)
            self._generation += 1
            entry = _Entry(url, local_id, kind, origin, document, size, now, None, self._generation)
            self._by_url[url] = entry
            self._by_id[local_id] = entry
            if origin == "fetched":
                self._fetched[url] = None
            return entry

    def _remove(self, entry: _Entry) -> None:
        with self._lock:
            self._by_url.pop(entry.url, None)
            self._by_id.pop(entry.local_id, None)
            self._fetched.pop(entry.url, None)

    def _register_core(self) -> None:
        document = _core_document()
        size = len(json.dumps(document))
        local_id = "urn:ngsi-ld:jsonldContext:core-v1.8"
        self._add(CORE_CONTEXT_URL, local_id, ContextKind.CACHED, "built-in", document, size, 0.0)

    # -- preloading --

    def preload(self, url: str, source: str | Path | Mapping[str, Any]) -> ContextInfo:
        """Serve ``url`` from a local file or object, never fetching it (offline deployments).

        A document with a top-level ``@context`` is stored as is; any other object is taken
        to be the context itself. Preloaded contexts do not expire and cannot be deleted.
        """
        if is_core_context(url):
            raise ValueError(f"{url} is the built-in core context")
        if not _is_absolute_iri(url):
            raise ValueError(f"not an absolute URL: {url!r}")
        document = _load_document(source)
        size = len(json.dumps(document))
        entry = self._add(
            url, _new_local_id(), ContextKind.CACHED, "preloaded", document, size, self._clock()
        )
        return ContextInfo.of(entry)

    def preload_mapping(self, mapping_file: str | Path) -> list[ContextInfo]:
        """Preload every context listed in a JSON file mapping URL -> file path.

        Paths are relative to the mapping file's folder, e.g.
        ``{"https://smartdatamodels.org/context.jsonld": "sdm-context.jsonld"}``.
        """
        path = Path(mapping_file)
        mapping = json.loads(path.read_text("utf-8"))
        if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
            raise ValueError(f"{path} must map each context URL to a file path")
        return [self.preload(url, path.parent / file) for url, file in mapping.items()]

    # -- /jsonldContexts (clause 5.13) --

    def list_contexts(self, kind: str | None = None) -> list[ContextInfo]:
        """List stored contexts, optionally only one kind (Hosted, Cached, ImplicitlyCreated)."""
        wanted = _kind(kind) if kind is not None else None
        with self._lock:
            entries = list(self._by_id.values())
        return [ContextInfo.of(e) for e in entries if wanted is None or e.kind == wanted]

    def context_info(self, context_id: str) -> ContextInfo:
        """Describe one stored context, found by local id or URL."""
        return ContextInfo.of(self._find(context_id))

    def serve_context(self, context_id: str) -> dict[str, Any]:
        """Return a Hosted or ImplicitlyCreated context's document (clause 5.13.4)."""
        entry = self._find(context_id)
        if entry.kind == ContextKind.CACHED:
            raise ContextOperationNotSupported(
                f"{entry.url} is a cached copy of a remote @context; it is not served here"
            )
        with self._lock:
            self._touch(entry, self._clock())
        return copy.deepcopy(entry.document)  # the stored one backs every later resolution

    def delete_context(self, context_id: str, *, reload: bool = False) -> None:
        """Remove a stored context, or with ``reload`` fetch a Cached one again (5.13.5)."""
        entry = self._find(context_id)
        if entry.pinned:
            raise ContextOperationNotSupported(
                f"{entry.url} is {entry.origin} in this deployment and cannot be removed"
            )
        if not reload:
            self._remove(entry)
            return
        if entry.kind != ContextKind.CACHED:
            raise BadContextRequest("only Cached @contexts can be reloaded")
        now = self._clock()
        document, size, ttl = self._download(entry.url)  # on failure the old copy stays
        self._store(entry.url, document, size, ttl, now, entry)

    def host_context(self, document: Mapping[str, Any]) -> ContextInfo:
        """Store a client's @context as Hosted and return where it is served (5.13.2)."""
        if not isinstance(document, Mapping) or "@context" not in document:
            raise InvalidContext("the body must be a JSON object with an @context member")
        return self._host({"@context": document["@context"]}, ContextKind.HOSTED, "hosted")

    def create_implicit_context(self, context: ContextReference) -> ContextInfo:
        """Store a context the broker needs under its own URL (e.g. an array for a Link)."""
        return self._host({"@context": context}, ContextKind.IMPLICITLY_CREATED, "implicit")

    def _host(self, document: dict[str, Any], kind: ContextKind, origin: str) -> ContextInfo:
        self.resolve(document["@context"])  # validates, and fetches what it refers to
        size = len(json.dumps(document))
        if size > self.settings.max_bytes:
            raise InvalidContext(f"an @context larger than {self.settings.max_bytes} bytes")
        with self._lock:
            hosted = sum(1 for e in self._by_id.values() if e.origin in ("hosted", "implicit"))
            if hosted >= self.settings.max_hosted:
                raise ContextOperationNotSupported("this broker hosts no more @contexts")
            local_id = _new_local_id()
            url = self.settings.hosted_base + local_id
            entry = self._add(url, local_id, kind, origin, document, size, self._clock())
        return ContextInfo.of(entry)

    def _find(self, context_id: str) -> _Entry:
        if not context_id:
            raise BadContextRequest("an @context id is required")
        with self._lock:
            entry = self._by_id.get(context_id) or self._by_url.get(context_id)
            if entry is None and is_core_context(context_id):
                entry = self._by_url.get(CORE_CONTEXT_URL)
        if entry is None:
            raise ContextNotFound(f"no stored @context has the id or URL {context_id!r}")
        return entry


def _new_local_id() -> str:
    return f"urn:ngsi-ld:jsonldContext:{uuid.uuid4()}"


def _kind(value: str) -> ContextKind:
    try:
        return ContextKind(value)
    except ValueError:
        kinds = ", ".join(k.value for k in ContextKind)
        raise BadContextRequest(f"unknown @context kind {value!r} (use {kinds})") from None


def _load_document(source: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(source, Mapping):
        loaded: object = dict(source)
    else:
        loaded = json.loads(Path(source).read_text("utf-8"))
    if not isinstance(loaded, dict):
        raise InvalidContext(f"a context document must be a JSON object: {source!r}")
    if "@context" not in loaded:
        loaded = {"@context": loaded}
    return loaded


def _as_list(reference: ContextReference) -> list[Any]:
    if reference is None:
        return []
    if isinstance(reference, str | Mapping):
        return [reference]
    if isinstance(reference, Sequence):
        return list(reference)
    raise InvalidContext(f"an @context must be a URL, an object or a list, not {reference!r}")


def _cache_key(items: list[Any]) -> str:
    try:
        canonical = json.dumps(items, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise InvalidContext(f"an @context must be JSON: {exc}") from exc
    return hashlib.sha256(canonical.encode()).hexdigest()


def _absolute_url(reference: str, base: str | None) -> str:
    if _is_absolute_iri(reference):
        return reference
    if base is None:
        raise InvalidContext(f"a relative @context URL needs a base: {reference!r}")
    return urljoin(base, reference)


# --- where a request's @context comes from (clause 6.3.5) ----------------------------------

_LINK_PARAM = re.compile(r'\s*;\s*([^\s=;,"]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^\s;,"]*))?')


def _split_link_values(header: str) -> list[str]:
    """Split a Link header on the commas that separate links (not inside <> or quotes)."""
    parts: list[str] = []
    current: list[str] = []
    in_url = in_quotes = False
    escaped = False
    for char in header:
        if escaped:
            escaped = False
        elif in_quotes and char == "\\":
            escaped = True
        elif char == '"' and not in_url:
            in_quotes = not in_quotes
        elif char == "<" and not in_quotes:
            in_url = True
        elif char == ">" and not in_quotes:
            in_url = False
        elif char == "," and not (in_url or in_quotes):
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]


def _parse_link(value: str) -> tuple[str, dict[str, str]]:
    """Parse one ``<url>; name=value; name="value"`` link (RFC 8288 §3)."""
    if not value.startswith("<") or ">" not in value:
        raise BadContextRequest(f"malformed Link header (expected <url>; rel=...): {value!r}")
    url, _, rest = value[1:].partition(">")
    params: dict[str, str] = {}
    position = 0
    for match in _LINK_PARAM.finditer(rest):
        if match.start() != position:
            break
        position = match.end()
        raw = match.group(2) or ""
        text = re.sub(r"\\(.)", r"\1", raw[1:-1]) if raw.startswith('"') else raw
        params.setdefault(match.group(1).lower(), text)  # the first occurrence counts
    if rest[position:].strip():
        raise BadContextRequest(f"malformed Link header parameters: {value!r}")
    return url.strip(), params


def context_from_link_header(value: str | Sequence[str] | None) -> str | None:
    """Return the JSON-LD context URL of a Link header, or ``None`` when it names none.

    Repeated Link fields may be passed as a list. Links with other relations are ignored;
    a link without ``rel``, or more than one context link, is refused (JSON-LD 1.1 §6.1).
    """
    if value is None:
        return None
    header = value if isinstance(value, str) else ", ".join(value)
    found: list[str] = []
    for link in _split_link_values(header):
        url, params = _parse_link(link)
        rel = params.get("rel")
        if rel is None:
            raise BadContextRequest(f'a Link header needs rel="{JSONLD_CONTEXT_REL}": {link!r}')
        if JSONLD_CONTEXT_REL.casefold() in rel.casefold().split():
            found.append(url)
    if len(found) > 1:
        raise BadContextRequest("more than one JSON-LD @context Link header")
    if not found:
        return None
    url = found[0]
    if urlsplit(url).scheme not in ("http", "https"):
        raise BadContextRequest(f"the @context Link must be an absolute http(s) URL: {url!r}")
    return url


def _media_type(content_type: str | None) -> str | None:
    if content_type is None:
        return None
    return content_type.split(";", 1)[0].strip().lower() or None


def _with_core(context: ContextReference) -> list[Any]:
    """Return a request's context as a list that ends with the core context."""
    items = _as_list(context)
    if not items or not (isinstance(items[-1], str) and is_core_context(items[-1])):
        items.append(CORE_CONTEXT_URL)
    return items


def _body_context(item: object) -> ContextReference:
    if not isinstance(item, Mapping) or "@context" not in item:
        raise BadContextRequest(
            "with Content-Type application/ld+json the body must carry an @context"
        )
    context = item["@context"]
    if isinstance(context, str | Mapping | list):
        return context
    raise InvalidContext("@context must be a URL, an object or an array")


def contexts_for_batch(
    content_type: str | None, link_header: str | Sequence[str] | None, body: Sequence[Any]
) -> list[list[Any]]:
    """Return each batch item's @context list; ld+json items each carry their own."""
    link_url = context_from_link_header(link_header)
    if _media_type(content_type) == "application/ld+json":
        if link_url is not None:
            raise BadContextRequest(
                "with Content-Type application/ld+json the @context goes in the body, "
                "not in a Link header"
            )
        return [_with_core(_body_context(item)) for item in body]
    if any(isinstance(item, Mapping) and "@context" in item for item in body):
        raise BadContextRequest(
            "with Content-Type application/json the @context goes in a Link header; "
            "send application/ld+json to put it in the body"
        )
    return [_with_core(link_url) for _ in body]


def context_for_request(
    content_type: str | None, link_header: str | Sequence[str] | None, body: object
) -> list[Any]:
    """Return the @context list of a request, core context last (clause 6.3.5).

    ``content_type`` is ``None`` for requests without a body (GET, DELETE): the context
    then comes from the Link header only. ``application/json`` (and merge-patch) bodies
    take it from the Link header and must not contain ``@context``; ``application/ld+json``
    bodies must contain it and must not come with a context Link header. The API checks
    the media type (415) before calling this; any other type follows the JSON rule.
    """
    items = body if isinstance(body, list) else [] if body is None else [body]
    if not items:
        return _with_core(context_from_link_header(link_header))
    contexts = contexts_for_batch(content_type, link_header, items)
    if any(context != contexts[0] for context in contexts[1:]):
        raise BadContextRequest("the items of this request carry different @contexts")
    return contexts[0]


# --- entities (normalized representation, clause 4.5) -------------------------------------

# Entity members that are not attributes: kept as they are.
_ENTITY_MEMBERS = frozenset({"id", "scope", "createdAt", "modifiedAt", "deletedAt"})
# Core GeoProperties: stored under their short names (the core context fixes their IRI),
# their sub-attributes still expanded.
_CORE_ATTRIBUTES = frozenset({"location", "observationSpace", "operationSpace"})
# Members of an attribute that are not sub-attributes (clauses 4.5.2 to 4.5.9).
_ATTRIBUTE_MEMBERS = frozenset(
    {
        "type", "value", "object", "objectType", "objectList", "languageMap", "vocab",
        "json", "valueList", "observedAt", "unitCode", "datasetId", "createdAt",
        "modifiedAt", "deletedAt", "instanceId", "lang", "entity", "previousValue",
        "previousObject", "previousObjectList", "previousLanguageMap", "previousVocab",
        "previousJson", "previousValueList",
    }
)  # fmt: skip
_ENTITY_LEVEL = _ENTITY_MEMBERS | _CORE_ATTRIBUTES | {"type"}
_VALUE_MEMBERS = frozenset({"value", "previousValue"})
_VOCAB_MEMBERS = frozenset({"vocab", "previousVocab"})  # "@type": "@vocab" in the core


@cache
def _core_names() -> dict[str, str]:
    """Map the IRIs of the core names above back to the names ("@type" -> "type")."""
    core = core_context()
    return {core.expand_term(name): name for name in _ENTITY_LEVEL | _ATTRIBUTE_MEMBERS}


def _core_name(key: str, ctx: ActiveContext, allowed: frozenset[str]) -> str | None:
    """Return the core name a key stands for (``value``, an IRI of it...) if in ``allowed``."""
    name = key if key in allowed else _core_names().get(ctx.expand_term(key))
    return name if name in allowed else None


def _map_strings(value: Any, convert: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return convert(value)
    if isinstance(value, list):
        return [convert(v) if isinstance(v, str) else v for v in value]
    return value


def _coerced(value: Any, coercion: str | None, convert: Callable[[str, bool], str]) -> Any:
    """Expand or compact a value whose term says ``"@type": "@vocab"`` or ``"@id"``."""
    if coercion == "@vocab":
        return _map_strings(value, lambda v: convert(v, True))
    if coercion == "@id":
        return _map_strings(value, lambda v: convert(v, False))
    return value


def _put(out: dict[str, Any], name: str, value: Any, key: str) -> None:
    if name in out:
        raise BadContextRequest(f"attribute {key!r} expands to {name}, which is already present")
    out[name] = value


def expand_entity(entity: Mapping[str, Any], ctx: ActiveContext) -> dict[str, Any]:
    """Expand an entity fragment's type and attribute names (not ``id`` or core members).

    Values are kept as given, with these exceptions: the ``value`` of an attribute whose
    term says ``"@type": "@vocab"`` (strings expand like terms) or ``"@id"`` (compact IRIs
    expand), as Orion-LD does (a strict JSON-LD processor coerces only values given
    directly, as in the concise form); the ``vocab`` of a VocabProperty and a
    Relationship's ``objectType`` (the core context coerces both). ``id`` and ``object``
    are absolute URIs in NGSI-LD already. The ``@context`` member is dropped: consumed.
    """
    out: dict[str, Any] = {}
    for key, value in entity.items():
        if key == "@context":
            continue
        name = _core_name(key, ctx, _ENTITY_LEVEL)
        if name == "type":
            out["type"] = _map_strings(value, ctx.expand_type)
        elif name in _ENTITY_MEMBERS:
            out[name] = value
        elif name is not None:
            out[name] = _expand_attribute(value, ctx, None)
        else:
            definition = ctx.term(key)
            coercion = definition.type_mapping if definition else None
            _put(out, _attribute_iri(key, ctx), _expand_attribute(value, ctx, coercion), key)
    return out


def _attribute_iri(key: str, ctx: ActiveContext) -> str:
    iri = ctx.expand_term(key)
    if iri.startswith("@"):
        raise BadContextRequest(f"{key!r} maps to the keyword {iri}, not to an attribute")
    return iri


def _expand_attribute(value: Any, ctx: ActiveContext, coercion: str | None) -> Any:
    if isinstance(value, list):  # several instances, told apart by datasetId
        return [_expand_attribute(v, ctx, coercion) if isinstance(v, Mapping) else v for v in value]
    if not isinstance(value, Mapping):
        return value
    out: dict[str, Any] = {}
    for key, member in value.items():
        name = _core_name(key, ctx, _ATTRIBUTE_MEMBERS)
        if name is None:  # a sub-attribute
            definition = ctx.term(key)
            sub_coercion = definition.type_mapping if definition else None
            _put(out, _attribute_iri(key, ctx), _expand_attribute(member, ctx, sub_coercion), key)
        elif name in _VALUE_MEMBERS:
            out[name] = _coerced(member, coercion, lambda v, vocab: ctx.expand_iri(v, vocab=vocab))
        elif name in _VOCAB_MEMBERS:
            out[name] = _map_strings(member, ctx.expand_term)
        elif name == "objectType":
            out[name] = _map_strings(member, ctx.expand_type)
        else:
            out[name] = member
    return out


def compact_entity(entity: Mapping[str, Any], ctx: ActiveContext) -> dict[str, Any]:
    """Compact an expanded entity with the client's context: the reverse of expand_entity."""
    out: dict[str, Any] = {}
    for key, value in entity.items():
        if key == "@context":
            continue
        name = _core_name(key, ctx, _ENTITY_LEVEL)
        if name == "type":
            out["type"] = _map_strings(value, ctx.compact_type)
        elif name in _ENTITY_MEMBERS:
            out[name] = value
        elif name is not None:
            out[name] = _compact_attribute(value, ctx, None)
        else:
            term = ctx.compact_iri(key)
            definition = ctx.term(term)
            coercion = definition.type_mapping if definition else None
            out[term] = _compact_attribute(value, ctx, coercion)
    return out


def _compact_attribute(value: Any, ctx: ActiveContext, coercion: str | None) -> Any:
    if isinstance(value, list):
        return [
            _compact_attribute(v, ctx, coercion) if isinstance(v, Mapping) else v for v in value
        ]
    if not isinstance(value, Mapping):
        return value
    out: dict[str, Any] = {}
    for key, member in value.items():
        name = _core_name(key, ctx, _ATTRIBUTE_MEMBERS)
        if name is None:
            term = ctx.compact_iri(key)
            definition = ctx.term(term)
            sub_coercion = definition.type_mapping if definition else None
            out[term] = _compact_attribute(member, ctx, sub_coercion)
        elif name in _VALUE_MEMBERS:
            out[name] = _coerced(member, coercion, lambda v, vocab: ctx.compact_iri(v, vocab=vocab))
        elif name in _VOCAB_MEMBERS:
            out[name] = _map_strings(member, ctx.compact_iri)
        elif name == "objectType":
            out[name] = _map_strings(member, ctx.compact_type)
        else:
            out[name] = member
    return out


__all__ = [
    "ACCEPT_CONTEXT",
    "CORE_CONTEXT_URL",
    "DEFAULT_VOCAB",
    "JSONLD_CONTEXT_REL",
    "ActiveContext",
    "BadContextRequest",
    "ContextError",
    "ContextFetcher",
    "ContextInfo",
    "ContextKind",
    "ContextNotAvailable",
    "ContextNotFound",
    "ContextOperationNotSupported",
    "ContextReference",
    "ContextResolver",
    "ContextSettings",
    "FetchedDocument",
    "HttpxFetcher",
    "InvalidContext",
    "TermDefinition",
    "compact_entity",
    "context_for_request",
    "context_from_link_header",
    "contexts_for_batch",
    "core_context",
    "expand_entity",
    "is_core_context",
]
