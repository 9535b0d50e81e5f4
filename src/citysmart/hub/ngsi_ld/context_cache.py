"""The store of @context documents: remote ones fetched, cached, expired and refreshed."""

from __future__ import annotations

import enum
import json
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from citysmart.hub.ngsi_ld.context_errors import ContextNotAvailable, InvalidContext
from citysmart.hub.ngsi_ld.context_fetch import ContextFetcher, HttpxFetcher
from citysmart.hub.ngsi_ld.jsonld_terms import (
    CORE_CONTEXT_URL,
    ActiveContext,
    _core_document,
    core_context,
)

# The logger keeps the name it had before context.py was split, so logging configs still match.
logger = logging.getLogger("citysmart.hub.ngsi_ld.context")


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


class _ContextCache:
    """The stored documents behind a resolver, and the fetching that fills the store."""

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


def _new_local_id() -> str:
    return f"urn:ngsi-ld:jsonldContext:{uuid.uuid4()}"
