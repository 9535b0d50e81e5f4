"""Fetching remote @context documents: the fetcher protocol and the httpx default."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

import httpx

from citysmart.hub.ngsi_ld.context_errors import ContextNotAvailable
from citysmart.hub.ngsi_ld.jsonld_terms import ACCEPT_CONTEXT


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
