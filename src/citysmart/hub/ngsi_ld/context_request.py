"""Where a request's @context comes from: Link header or body (clause 6.3.5)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from citysmart.hub.ngsi_ld.context_errors import BadContextRequest, InvalidContext
from citysmart.hub.ngsi_ld.jsonld_terms import (
    CORE_CONTEXT_URL,
    JSONLD_CONTEXT_REL,
    ContextReference,
    _as_list,
    is_core_context,
)

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
