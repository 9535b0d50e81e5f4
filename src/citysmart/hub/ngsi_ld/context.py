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

The work is split by concern: :mod:`.jsonld_terms` (term definitions, the active context,
the core context), :mod:`.context_errors`, :mod:`.context_fetch` (fetchers),
:mod:`.context_cache` (the document store), :mod:`.context_registry` (/jsonldContexts and
preloading), :mod:`.context_resolver`, :mod:`.context_request` (Link header and content
types) and :mod:`.context_entity` (entity expand/compact). This module is the import
surface: it re-exports their public names.
"""

from __future__ import annotations

from citysmart.hub.ngsi_ld.context_cache import ContextKind, ContextSettings
from citysmart.hub.ngsi_ld.context_entity import compact_entity, expand_entity
from citysmart.hub.ngsi_ld.context_errors import (
    BadContextRequest,
    ContextError,
    ContextNotAvailable,
    ContextNotFound,
    ContextOperationNotSupported,
    InvalidContext,
)
from citysmart.hub.ngsi_ld.context_fetch import ContextFetcher, FetchedDocument, HttpxFetcher
from citysmart.hub.ngsi_ld.context_registry import ContextInfo
from citysmart.hub.ngsi_ld.context_request import (
    context_for_request,
    context_from_link_header,
    contexts_for_batch,
)
from citysmart.hub.ngsi_ld.context_resolver import ContextResolver
from citysmart.hub.ngsi_ld.jsonld_terms import (
    ACCEPT_CONTEXT,
    CORE_CONTEXT_URL,
    DEFAULT_VOCAB,
    JSONLD_CONTEXT_REL,
    ActiveContext,
    ContextReference,
    TermDefinition,
    core_context,
    is_core_context,
)

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
