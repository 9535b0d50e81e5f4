"""The resolver: @context references (URLs, objects, lists) into active contexts."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin

from citysmart.hub.ngsi_ld.context_cache import _Resolution
from citysmart.hub.ngsi_ld.context_errors import InvalidContext
from citysmart.hub.ngsi_ld.context_registry import _ContextRegistry
from citysmart.hub.ngsi_ld.jsonld_terms import (
    ActiveContext,
    ContextReference,
    _as_list,
    _ContextBuilder,
    _is_absolute_iri,
    is_core_context,
)


class ContextResolver(_ContextRegistry):
    """Resolve @context references into active contexts, caching remote documents."""

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
