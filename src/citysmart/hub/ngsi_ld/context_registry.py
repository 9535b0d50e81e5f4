"""The /jsonldContexts operations (clause 5.13) and preloading, on top of the store."""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from citysmart.core.time import isoformat
from citysmart.hub.ngsi_ld.context_cache import ContextKind, _ContextCache, _Entry, _new_local_id
from citysmart.hub.ngsi_ld.context_errors import (
    BadContextRequest,
    ContextNotFound,
    ContextOperationNotSupported,
    InvalidContext,
)
from citysmart.hub.ngsi_ld.jsonld_terms import (
    CORE_CONTEXT_URL,
    ActiveContext,
    ContextReference,
    _is_absolute_iri,
    is_core_context,
)


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


class _ContextRegistry(_ContextCache):
    """Preloading and the /jsonldContexts operations of a resolver."""

    # Declared for the type checker; ContextResolver, the only concrete class, defines it.
    resolve: Callable[[ContextReference], ActiveContext]

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
