"""NGSI-LD @context handling: resolution, caching, Link headers, entity expansion."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from citysmart.hub.ngsi_ld.context import (
    CORE_CONTEXT_URL,
    DEFAULT_VOCAB,
    BadContextRequest,
    ContextKind,
    ContextNotAvailable,
    ContextNotFound,
    ContextOperationNotSupported,
    ContextResolver,
    ContextSettings,
    FetchedDocument,
    HttpxFetcher,
    InvalidContext,
    compact_entity,
    context_for_request,
    context_from_link_header,
    contexts_for_batch,
    core_context,
    expand_entity,
)

NGSI_LD = "https://uri.etsi.org/ngsi-ld/"
SDM = "https://smartdatamodels.org/"
ENV = "https://smartdatamodels.org/dataModel.Environment/"
USER_URL = "https://contexts.example.org/sejong/air-quality.jsonld"
LINK = f'<{USER_URL}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'

USER_CONTEXT: dict[str, Any] = {
    "sdm": SDM,
    "schema": "https://schema.org/",
    "AirQualityObserved": ENV + "AirQualityObserved",
    "Device": "https://smartdatamodels.org/dataModel.Device/Device",
    "pm10": ENV + "pm10",
    "pm25": "sdm:pm25",
    "name": "schema:name",
    "airQualityLevel": {"@id": "sdm:airQualityLevel", "@type": "@vocab"},
    "moderate": "sdm:moderate",
    "refDevice": {"@id": "sdm:refDevice", "@type": "@id"},
    "measurementMethod": "sdm:measurementMethod",
    "reliability": "sdm:reliability",
    "temperature": "sdm:temperature",
}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_790_000_000.0

    def __call__(self) -> float:
        return self.now


class FakeFetcher:
    """Serve documents from a dict and count every fetch; unknown URLs are unreachable."""

    def __init__(self, documents: dict[str, Any] | None = None) -> None:
        self.documents = dict(documents or {})
        self.calls: list[str] = []

    def __call__(self, url: str, *, timeout: float, max_bytes: int) -> FetchedDocument:
        self.calls.append(url)
        found = self.documents.get(url)
        if found is None:
            raise ConnectionError("connection refused")
        if isinstance(found, FetchedDocument):
            return found
        return FetchedDocument(json.dumps(found).encode())


class NoFetch:
    def __call__(self, url: str, *, timeout: float, max_bytes: int) -> FetchedDocument:
        raise AssertionError(f"fetched {url}")


def resolver(
    fetcher: Any = None, clock: FakeClock | None = None, **settings: Any
) -> ContextResolver:
    return ContextResolver(
        fetcher=fetcher if fetcher is not None else NoFetch(),
        settings=ContextSettings(**settings),
        clock=clock or FakeClock(),
    )


# --- the core context -------------------------------------------------------------------------


def test_core_terms_expand_and_compact_to_themselves() -> None:
    core = core_context()
    expected = {
        "type": "@type",
        "id": "@id",
        "value": NGSI_LD + "hasValue",
        "object": NGSI_LD + "hasObject",
        "observedAt": NGSI_LD + "observedAt",
        "languageMap": NGSI_LD + "hasLanguageMap",
        "location": NGSI_LD + "location",
        "Property": NGSI_LD + "Property",
        "Point": "https://purl.org/geojson/vocab#Point",
    }
    for term, iri in expected.items():
        assert core.expand_term(term) == iri
        assert core.compact_iri(iri) == term
    assert core.term("observedAt") is not None
    assert core.term("observedAt").type_mapping == NGSI_LD + "DateTime"  # type: ignore[union-attr]
    assert core.term("createdAt").type_mapping == NGSI_LD + "DateTime"  # type: ignore[union-attr]


def test_unknown_terms_use_the_default_vocabulary_and_compact_back() -> None:
    core = core_context()
    assert core.vocab == DEFAULT_VOCAB
    assert core.expand_term("stationCode") == DEFAULT_VOCAB + "stationCode"
    assert core.expand_type("Vehicle") == DEFAULT_VOCAB + "Vehicle"
    assert core.compact_type(DEFAULT_VOCAB + "Vehicle") == "Vehicle"
    # A core term whose value is a relative IRI expands against the core's own @vocab.
    assert core.expand_term("attributeCount") == DEFAULT_VOCAB + "attributeCount"


def test_compact_iris_and_absolute_iris() -> None:
    core = core_context()
    assert core.expand_term("ngsi-ld:madeUp") == NGSI_LD + "madeUp"
    assert core.compact_iri(NGSI_LD + "madeUp") == "ngsi-ld:madeUp"
    for iri in ("https://example.org/a", "urn:ngsi-ld:Thing:1", "_:b0"):
        assert core.expand_term(iri) == iri
        assert core.compact_iri(iri) == iri


def test_core_context_and_its_aliases_need_no_fetch() -> None:
    contexts = resolver()  # NoFetch: any download fails the test
    for reference in (
        None,
        [],
        CORE_CONTEXT_URL,
        "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld",
        ["https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.6.jsonld"],
        "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.7.jsonld",
    ):
        assert contexts.resolve(reference) is contexts.core


# --- user contexts ----------------------------------------------------------------------------


def test_user_terms_and_prefixes_round_trip() -> None:
    ctx = resolver().resolve(USER_CONTEXT)
    assert ctx.expand_type("AirQualityObserved") == ENV + "AirQualityObserved"
    assert ctx.expand_term("pm10") == ENV + "pm10"
    assert ctx.expand_term("pm25") == SDM + "pm25"  # through the "sdm" prefix
    assert ctx.expand_term("sdm:no2") == SDM + "no2"
    for term in ("AirQualityObserved", "pm10", "pm25", "name", "sdm:no2", "unknownThing"):
        assert ctx.compact_iri(ctx.expand_term(term)) == term
    # Core terms still work beside the user's, and unknown ones use the default vocabulary.
    assert ctx.expand_term("observedAt") == NGSI_LD + "observedAt"
    assert ctx.expand_term("unknownThing") == DEFAULT_VOCAB + "unknownThing"


def test_compaction_prefers_the_shortest_term() -> None:
    ctx = resolver().resolve({"particulates10": ENV + "pm10", "pm10": ENV + "pm10", "sdm": SDM})
    assert ctx.compact_iri(ENV + "pm10") == "pm10"
    assert ctx.compact_iri(SDM + "no2") == "sdm:no2"


def test_the_core_context_wins_over_user_redefinitions() -> None:
    ctx = resolver().resolve(
        {"value": "https://example.org/myValue", "type": "https://example.org/myType"}
    )
    assert ctx.expand_term("value") == NGSI_LD + "hasValue"
    assert ctx.expand_term("type") == "@type"


def test_a_user_vocab_shapes_its_own_terms_but_the_core_vocab_wins() -> None:
    # Like Orion-LD, Scorpio and Stellio: the core context, applied last, sets @vocab.
    ctx = resolver().resolve({"@vocab": "https://example.org/", "level": {"@type": "@vocab"}})
    assert ctx.expand_term("level") == "https://example.org/level"
    assert ctx.expand_term("other") == DEFAULT_VOCAB + "other"


def test_user_contexts_may_use_core_prefixes_without_defining_them() -> None:
    ctx = resolver().resolve({"battery": "ngsi-ld:battery", "seen": {"@type": "DateTime"}})
    assert ctx.expand_term("battery") == NGSI_LD + "battery"
    assert ctx.term("seen").type_mapping == NGSI_LD + "DateTime"  # type: ignore[union-attr]


def test_arrays_apply_in_order_and_null_resets() -> None:
    contexts = resolver()
    later_wins = contexts.resolve([{"pm10": "https://a.example/pm10"}, {"pm10": ENV + "pm10"}])
    assert later_wins.expand_term("pm10") == ENV + "pm10"
    reset = contexts.resolve([{"pm10": "https://a.example/pm10"}, None, {"sdm": SDM}])
    assert reset.expand_term("pm10") == DEFAULT_VOCAB + "pm10"


@pytest.mark.parametrize(
    "bad",
    [
        {"a": "b", "b": "a"},  # cyclic IRI mapping
        {"pm10": {"@id": ENV + "pm10", "@container": "@bag"}},
        {"pm10": 42},
        {"pm10": {"@id": ENV + "pm10", "@colour": "blue"}},
        {"@version": 1.0},
        {"@id": "https://example.org/id"},  # redefining a keyword
        {"sdm:pm25": "https://elsewhere.example/pm25", "sdm": SDM},  # contradicts its prefix
        42,
        [{"ok": SDM + "ok"}, 7],
    ],
)
def test_invalid_contexts_are_refused(bad: Any) -> None:
    with pytest.raises(InvalidContext):
        resolver().resolve(bad)


def test_a_relative_context_url_without_a_base_is_refused() -> None:
    with pytest.raises(InvalidContext, match="relative"):
        resolver().resolve("contexts/air-quality.jsonld")


# --- Link headers and where the @context comes from ------------------------------------------


def test_link_header_gives_the_context_url() -> None:
    assert context_from_link_header(LINK) == USER_URL
    unquoted = f"<{USER_URL}>; rel=http://www.w3.org/ns/json-ld#context"
    assert context_from_link_header(unquoted) == USER_URL
    other_links = f'<https://example.org/page/2>; rel="next", {LINK}'
    assert context_from_link_header(other_links) == USER_URL
    assert context_from_link_header(["<https://example.org/x>; rel=next", LINK]) == USER_URL
    assert context_from_link_header(None) is None
    assert context_from_link_header('<https://example.org/page/2>; rel="next"') is None


@pytest.mark.parametrize(
    "header",
    [
        f"<{USER_URL}>",  # no rel
        f'<{USER_URL}>; type="application/ld+json"',  # no rel either
        f'{LINK}, <https://other.example/ctx.jsonld>; rel="http://www.w3.org/ns/json-ld#context"',
        USER_URL,  # no angle brackets
        '<relative/ctx.jsonld>; rel="http://www.w3.org/ns/json-ld#context"',
        f'<{USER_URL}>; rel="http://www.w3.org/ns/json-ld#context" garbage',
    ],
)
def test_bad_link_headers_are_refused(header: str) -> None:
    with pytest.raises(BadContextRequest):
        context_from_link_header(header)


def test_context_rules_per_content_type() -> None:
    body = {"id": "urn:ngsi-ld:AirQualityObserved:1", "type": "AirQualityObserved"}
    # GET and DELETE: the Link header, else the core context alone.
    assert context_for_request(None, LINK, None) == [USER_URL, CORE_CONTEXT_URL]
    assert context_for_request(None, None, None) == [CORE_CONTEXT_URL]
    # application/json (and merge-patch): only from the Link header.
    assert context_for_request("application/json", LINK, body) == [USER_URL, CORE_CONTEXT_URL]
    assert context_for_request("application/merge-patch+json", None, body) == [CORE_CONTEXT_URL]
    with pytest.raises(BadContextRequest, match="Link header"):
        context_for_request("application/json", None, {**body, "@context": USER_URL})
    # application/ld+json: only from the body, and a context Link is an error.
    with_context = {**body, "@context": [USER_URL, USER_CONTEXT]}
    ld = "application/ld+json; charset=utf-8"
    assert context_for_request(ld, None, with_context) == [USER_URL, USER_CONTEXT, CORE_CONTEXT_URL]
    assert context_for_request(ld, '<https://x.example/2>; rel="next"', with_context)
    with pytest.raises(BadContextRequest, match="not in a Link header"):
        context_for_request(ld, LINK, with_context)
    with pytest.raises(BadContextRequest, match="must carry an @context"):
        context_for_request(ld, None, body)
    with pytest.raises(InvalidContext):
        context_for_request(ld, None, {**body, "@context": 42})


def test_a_core_context_the_client_names_last_is_not_repeated() -> None:
    body = {"id": "urn:x:1", "type": "T", "@context": [USER_URL, CORE_CONTEXT_URL]}
    assert context_for_request("application/ld+json", None, body) == [USER_URL, CORE_CONTEXT_URL]


def test_batches_carry_one_context_per_item() -> None:
    first = {"id": "urn:x:1", "type": "T", "@context": USER_URL}
    second = {"id": "urn:x:2", "type": "T", "@context": USER_CONTEXT}
    ld = "application/ld+json"
    assert contexts_for_batch(ld, None, [first, second]) == [
        [USER_URL, CORE_CONTEXT_URL],
        [USER_CONTEXT, CORE_CONTEXT_URL],
    ]
    assert context_for_request(ld, None, [first, {**second, "@context": USER_URL}]) == [
        USER_URL,
        CORE_CONTEXT_URL,
    ]
    with pytest.raises(BadContextRequest, match="different"):
        context_for_request(ld, None, [first, second])
    plain = [{"id": "urn:x:1", "type": "T"}]
    assert contexts_for_batch("application/json", LINK, plain) == [[USER_URL, CORE_CONTEXT_URL]]


# --- remote contexts and the cache -------------------------------------------------------------


def test_a_remote_context_is_fetched_once_and_cached() -> None:
    fetcher = FakeFetcher({USER_URL: {"@context": USER_CONTEXT}})
    contexts = resolver(fetcher)
    first = contexts.resolve(USER_URL)
    second = contexts.resolve([USER_URL, CORE_CONTEXT_URL])
    third = contexts.resolve([USER_URL, {"extra": SDM + "extra"}])  # another reference, same URL
    assert fetcher.calls == [USER_URL]
    assert first.expand_term("pm25") == second.expand_term("pm25") == SDM + "pm25"
    assert third.expand_term("extra") == SDM + "extra"


def test_an_expired_context_is_fetched_again() -> None:
    clock = FakeClock()
    fetcher = FakeFetcher({USER_URL: {"@context": USER_CONTEXT}})
    contexts = resolver(fetcher, clock, ttl=600.0)
    contexts.resolve(USER_URL)
    clock.now += 599
    contexts.resolve(USER_URL)
    assert len(fetcher.calls) == 1
    clock.now += 2
    fetcher.documents[USER_URL] = {"@context": {**USER_CONTEXT, "pm10": SDM + "pm10"}}
    assert contexts.resolve(USER_URL).expand_term("pm10") == SDM + "pm10"
    assert len(fetcher.calls) == 2


def test_cache_control_max_age_shortens_the_ttl_but_not_below_the_minimum() -> None:
    clock = FakeClock()
    body = json.dumps({"@context": USER_CONTEXT}).encode()
    other = "https://contexts.example.org/no-cache.jsonld"
    fetcher = FakeFetcher(
        {USER_URL: FetchedDocument(body, max_age=120.0), other: FetchedDocument(body, 0.0)}
    )
    contexts = resolver(fetcher, clock, ttl=3600.0, min_ttl=60.0)
    contexts.resolve(USER_URL)
    contexts.resolve(other)
    clock.now += 61
    contexts.resolve(USER_URL)
    contexts.resolve(other)
    assert fetcher.calls == [USER_URL, other, other]
    clock.now += 60
    contexts.resolve(USER_URL)
    assert fetcher.calls.count(USER_URL) == 2


def test_an_oversized_context_is_refused() -> None:
    big = {"@context": {f"term{i}": f"https://example.org/{i}" for i in range(5000)}}
    fetcher = FakeFetcher({USER_URL: big})
    with pytest.raises(ContextNotAvailable, match="larger than 65536 bytes"):
        resolver(fetcher, max_bytes=65536).resolve(USER_URL)


def test_a_failed_fetch_is_not_available_and_not_retried_at_once() -> None:
    clock = FakeClock()
    fetcher = FakeFetcher()
    contexts = resolver(fetcher, clock, failure_ttl=10.0)
    with pytest.raises(ContextNotAvailable) as raised:
        contexts.resolve(USER_URL)
    assert raised.value.url == USER_URL
    assert "connection refused" in raised.value.reason
    assert raised.value.status == 503
    assert raised.value.problem_type.endswith("/LdContextNotAvailable")
    with pytest.raises(ContextNotAvailable):
        contexts.resolve(USER_URL)
    assert len(fetcher.calls) == 1
    clock.now += 11
    fetcher.documents[USER_URL] = {"@context": USER_CONTEXT}
    assert contexts.resolve(USER_URL).expand_term("pm25") == SDM + "pm25"
    assert len(fetcher.calls) == 2


@pytest.mark.parametrize(
    "document",
    [FetchedDocument(b"<html>not json</html>"), {"pm10": ENV + "pm10"}, ["a", "b"]],
)
def test_a_document_without_a_context_is_not_available(document: Any) -> None:
    with pytest.raises(ContextNotAvailable):
        resolver(FakeFetcher({USER_URL: document})).resolve(USER_URL)


def test_an_expired_copy_is_used_while_the_origin_is_down() -> None:
    clock = FakeClock()
    fetcher = FakeFetcher({USER_URL: {"@context": USER_CONTEXT}})
    contexts = resolver(fetcher, clock, ttl=600.0, stale_if_error=3600.0)
    contexts.resolve(USER_URL)
    del fetcher.documents[USER_URL]
    clock.now += 700
    assert contexts.resolve(USER_URL).expand_term("pm10") == ENV + "pm10"
    clock.now += 3600
    with pytest.raises(ContextNotAvailable):
        contexts.resolve(USER_URL)


def test_the_least_recently_used_context_is_evicted() -> None:
    urls = [f"https://contexts.example.org/{n}.jsonld" for n in range(3)]
    fetcher = FakeFetcher({url: {"@context": {"t": url + "#t"}} for url in urls})
    contexts = resolver(fetcher, max_entries=2)
    for url in urls:
        contexts.resolve(url)
    contexts.resolve(urls[2])
    contexts.resolve(urls[0])  # evicted by the third: fetched again
    assert fetcher.calls == [*urls, urls[0]]


def test_preloaded_contexts_are_used_without_any_fetch(tmp_path: Path) -> None:
    path = tmp_path / "air-quality.jsonld"
    path.write_text(json.dumps({"@context": USER_CONTEXT}), encoding="utf-8")
    contexts = resolver(NoFetch(), allow_remote=True)
    info = contexts.preload(USER_URL, path)
    assert contexts.resolve(USER_URL).expand_term("pm25") == SDM + "pm25"
    assert info.kind == ContextKind.CACHED
    assert info.origin == "preloaded"
    assert info.expires_at is None


def test_a_mapping_file_preloads_a_folder_of_contexts(tmp_path: Path) -> None:
    (tmp_path / "aq.jsonld").write_text(json.dumps({"@context": USER_CONTEXT}), "utf-8")
    (tmp_path / "bare.json").write_text(json.dumps({"bare": SDM + "bare"}), "utf-8")
    other = "https://contexts.example.org/bare.jsonld"
    mapping = tmp_path / "contexts.json"
    mapping.write_text(json.dumps({USER_URL: "aq.jsonld", other: "bare.json"}), "utf-8")
    contexts = resolver()
    assert [info.url for info in contexts.preload_mapping(mapping)] == [USER_URL, other]
    ctx = contexts.resolve([USER_URL, other])
    assert (ctx.expand_term("pm25"), ctx.expand_term("bare")) == (SDM + "pm25", SDM + "bare")


def test_nested_remote_contexts_resolve_relative_urls() -> None:
    base = "https://contexts.example.org/sejong/"
    fetcher = FakeFetcher(
        {
            base + "all.jsonld": {"@context": ["terms/air.jsonld", {"sdm": SDM}]},
            base + "terms/air.jsonld": {"@context": {"pm10": ENV + "pm10"}},
        }
    )
    ctx = resolver(fetcher).resolve(base + "all.jsonld")
    assert ctx.expand_term("pm10") == ENV + "pm10"
    assert ctx.compact_iri(SDM + "no2") == "sdm:no2"


def test_recursive_contexts_are_refused() -> None:
    a, b = "https://contexts.example.org/a.jsonld", "https://contexts.example.org/b.jsonld"
    fetcher = FakeFetcher({a: {"@context": [b]}, b: {"@context": [{"x": SDM + "x"}, a]}})
    with pytest.raises(InvalidContext, match="recursive"):
        resolver(fetcher).resolve(a)


def test_too_deep_or_too_many_remote_contexts_are_refused() -> None:
    chain = [f"https://contexts.example.org/{n}.jsonld" for n in range(6)]
    documents: dict[str, Any] = {
        url: {"@context": [nxt]} for url, nxt in zip(chain, chain[1:], strict=False)
    }
    documents[chain[-1]] = {"@context": {"x": SDM + "x"}}
    with pytest.raises(InvalidContext, match="deeper than 3"):
        resolver(FakeFetcher(documents), max_depth=3).resolve(chain[0])
    with pytest.raises(InvalidContext, match="more than 4 remote"):
        resolver(FakeFetcher(documents), max_remote_contexts=4).resolve(chain[0])
    assert resolver(FakeFetcher(documents)).resolve(chain[0]).expand_term("x") == SDM + "x"


def test_import_merges_a_remote_context_under_the_local_one() -> None:
    fetcher = FakeFetcher({USER_URL: {"@context": USER_CONTEXT}})
    ctx = resolver(fetcher).resolve({"@import": USER_URL, "pm10": SDM + "pm10"})
    assert ctx.expand_term("pm10") == SDM + "pm10"
    assert ctx.expand_term("pm25") == SDM + "pm25"


def test_remote_fetching_can_be_limited() -> None:
    with pytest.raises(ContextNotAvailable, match="does not fetch"):
        resolver(NoFetch(), allow_remote=False).resolve(USER_URL)
    allowed = frozenset({"uri.fiware.org"})
    with pytest.raises(ContextNotAvailable, match="not allowed"):
        resolver(NoFetch(), allowed_hosts=allowed).resolve(USER_URL)


def test_concurrent_requests_fetch_a_context_once() -> None:
    class SlowFetcher(FakeFetcher):
        def __call__(self, url: str, *, timeout: float, max_bytes: int) -> FetchedDocument:
            time.sleep(0.05)
            return super().__call__(url, timeout=timeout, max_bytes=max_bytes)

    fetcher = SlowFetcher({USER_URL: {"@context": USER_CONTEXT}})
    contexts = ContextResolver(fetcher=fetcher)
    results: list[str] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(contexts.resolve(USER_URL).expand_term("pm25"))
        )
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [SDM + "pm25"] * 8
    assert fetcher.calls == [USER_URL]


# --- the default fetcher ----------------------------------------------------------------------


def test_httpx_fetcher_reads_the_document_and_its_max_age() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/missing.jsonld":
            return httpx.Response(404)
        if request.url.path == "/huge.jsonld":
            return httpx.Response(200, content=b"x" * 5000)
        return httpx.Response(
            200,
            json={"@context": USER_CONTEXT},
            headers={"Cache-Control": "public, max-age=300"},
        )

    fetcher = HttpxFetcher(transport=httpx.MockTransport(handler))
    try:
        fetched = fetcher(USER_URL, timeout=2.0, max_bytes=65536)
        assert json.loads(fetched.body) == {"@context": USER_CONTEXT}
        assert fetched.max_age == 300.0
        assert seen[0].headers["Accept"] == "application/ld+json, application/json"
        with pytest.raises(ContextNotAvailable, match="HTTP 404"):
            fetcher("https://contexts.example.org/missing.jsonld", timeout=2.0, max_bytes=65536)
        with pytest.raises(ContextNotAvailable, match="larger than 1000 bytes"):
            fetcher("https://contexts.example.org/huge.jsonld", timeout=2.0, max_bytes=1000)
    finally:
        fetcher.close()


# --- entities -----------------------------------------------------------------------------------

OBSERVED = "2025-11-24T09:00:00Z"
ENTITY: dict[str, Any] = {
    "id": "urn:ngsi-ld:AirQualityObserved:Sejong:Hansol-dong",
    "type": "AirQualityObserved",
    "pm10": {
        "type": "Property",
        "value": 41.0,
        "unitCode": "GQ",
        "observedAt": OBSERVED,
        "measurementMethod": {"type": "Property", "value": "beta attenuation"},
        "reliability": {"type": "Property", "value": 0.9},
    },
    "pm25": {"type": "Property", "value": 17.0, "unitCode": "GQ", "observedAt": OBSERVED},
    "airQualityLevel": {"type": "Property", "value": "moderate"},
    "refDevice": {
        "type": "Relationship",
        "object": "urn:ngsi-ld:Device:aq-0024befffe804ff1",
        "objectType": "Device",
        "observedAt": OBSERVED,
    },
    "name": {
        "type": "LanguageProperty",
        "languageMap": {"ko": "한솔동 대기질 측정소", "en": "Hansol-dong air quality station"},
    },
    "location": {
        "type": "GeoProperty",
        "value": {"type": "Point", "coordinates": [127.2577, 36.4801]},
    },
    "temperature": [
        {"type": "Property", "value": 3.5, "datasetId": "urn:ngsi-ld:Dataset:sensor"},
        {"type": "Property", "value": 4.0, "datasetId": "urn:ngsi-ld:Dataset:forecast"},
    ],
    "stationCode": {"type": "Property", "value": "SJ-0001"},
    "category": {"type": "VocabProperty", "vocab": ["moderate", "urban"]},
}
EXPANDED: dict[str, Any] = {
    "id": "urn:ngsi-ld:AirQualityObserved:Sejong:Hansol-dong",
    "type": ENV + "AirQualityObserved",
    ENV + "pm10": {
        "type": "Property",
        "value": 41.0,
        "unitCode": "GQ",
        "observedAt": OBSERVED,
        SDM + "measurementMethod": {"type": "Property", "value": "beta attenuation"},
        SDM + "reliability": {"type": "Property", "value": 0.9},
    },
    SDM + "pm25": {"type": "Property", "value": 17.0, "unitCode": "GQ", "observedAt": OBSERVED},
    # "@type": "@vocab" in the user context: the value expands like a term.
    SDM + "airQualityLevel": {"type": "Property", "value": SDM + "moderate"},
    SDM + "refDevice": {
        "type": "Relationship",
        "object": "urn:ngsi-ld:Device:aq-0024befffe804ff1",
        "objectType": "https://smartdatamodels.org/dataModel.Device/Device",
        "observedAt": OBSERVED,
    },
    "https://schema.org/name": ENTITY["name"],
    "location": ENTITY["location"],
    SDM + "temperature": ENTITY["temperature"],
    DEFAULT_VOCAB + "stationCode": ENTITY["stationCode"],
    DEFAULT_VOCAB + "category": {
        "type": "VocabProperty",
        "vocab": [SDM + "moderate", DEFAULT_VOCAB + "urban"],
    },
}


def test_entity_expands_and_compacts_back() -> None:
    ctx = resolver().resolve(USER_CONTEXT)
    expanded = expand_entity({**ENTITY, "@context": [USER_CONTEXT, CORE_CONTEXT_URL]}, ctx)
    assert expanded == EXPANDED
    assert compact_entity(expanded, ctx) == ENTITY


def test_another_client_sees_the_entity_through_its_own_context() -> None:
    compacted = compact_entity(EXPANDED, core_context())
    assert compacted["type"] == ENV + "AirQualityObserved"
    assert compacted[SDM + "airQualityLevel"]["value"] == SDM + "moderate"
    assert compacted["stationCode"] == ENTITY["stationCode"]
    assert compacted["category"]["vocab"] == [SDM + "moderate", "urban"]
    assert compacted["location"] == ENTITY["location"]


def test_core_members_given_as_iris_are_recognised() -> None:
    entity = {
        "id": "urn:x:1",
        NGSI_LD + "location": ENTITY["location"],
        "pm10": {"type": "Property", NGSI_LD + "hasValue": 3, NGSI_LD + "observedAt": OBSERVED},
    }
    expanded = expand_entity(entity, resolver().resolve(USER_CONTEXT))
    assert expanded["location"] == ENTITY["location"]
    assert expanded[ENV + "pm10"] == {"type": "Property", "value": 3, "observedAt": OBSERVED}


def test_two_names_for_one_attribute_are_refused() -> None:
    entity = {"id": "urn:x:1", "type": "T", "pm10": {"value": 1}, ENV + "pm10": {"value": 2}}
    with pytest.raises(BadContextRequest, match="already present"):
        expand_entity(entity, resolver().resolve(USER_CONTEXT))


# --- /jsonldContexts --------------------------------------------------------------------------


def test_the_registry_lists_built_in_and_cached_contexts() -> None:
    clock = FakeClock()
    contexts = resolver(FakeFetcher({USER_URL: {"@context": USER_CONTEXT}}), clock, ttl=600.0)
    contexts.resolve(USER_URL)
    contexts.resolve([USER_URL, {"x": SDM + "x"}])
    listed = {info.url: info for info in contexts.list_contexts()}
    assert set(listed) == {CORE_CONTEXT_URL, USER_URL}
    assert listed[CORE_CONTEXT_URL].origin == "built-in"
    details = listed[USER_URL].as_json()
    assert details["kind"] == "Cached"
    assert details["localId"].startswith("urn:ngsi-ld:jsonldContext:")
    assert details["createdAt"] == "2026-09-21T14:13:20Z"
    assert details["expiresAt"] == "2026-09-21T14:23:20Z"
    assert details["numberOfHits"] == 2
    assert contexts.context_info(details["localId"]).url == USER_URL
    assert [i.url for i in contexts.list_contexts("Hosted")] == []
    with pytest.raises(BadContextRequest):
        contexts.list_contexts("Borrowed")


def test_cached_contexts_are_described_not_served() -> None:
    contexts = resolver(FakeFetcher({USER_URL: {"@context": USER_CONTEXT}}))
    contexts.resolve(USER_URL)
    with pytest.raises(ContextOperationNotSupported):
        contexts.serve_context(USER_URL)
    with pytest.raises(ContextOperationNotSupported):
        contexts.serve_context(CORE_CONTEXT_URL)
    with pytest.raises(ContextNotFound):
        contexts.context_info("urn:ngsi-ld:jsonldContext:nope")


def test_hosted_contexts_are_served_and_resolved_locally() -> None:
    contexts = resolver(NoFetch())
    info = contexts.host_context({"@context": USER_CONTEXT, "ignored": True})
    assert info.kind == ContextKind.HOSTED
    assert info.url == "http://localhost:8000/ngsi-ld/v1/jsonldContexts/" + info.local_id
    assert contexts.serve_context(info.local_id) == {"@context": USER_CONTEXT}
    assert contexts.resolve(info.url).expand_term("pm25") == SDM + "pm25"
    contexts.delete_context(info.local_id)
    with pytest.raises(ContextNotAvailable, match="no @context is hosted"):
        contexts.resolve(info.url)
    with pytest.raises(ContextNotFound):
        contexts.serve_context(info.local_id)


def test_implicit_contexts_host_an_array_under_one_url() -> None:
    contexts = resolver(NoFetch())
    info = contexts.create_implicit_context([USER_CONTEXT, CORE_CONTEXT_URL])
    assert info.kind == ContextKind.IMPLICITLY_CREATED
    assert contexts.resolve(info.url).expand_term("pm10") == ENV + "pm10"


def test_deleting_and_reloading_cached_contexts() -> None:
    fetcher = FakeFetcher({USER_URL: {"@context": USER_CONTEXT}})
    contexts = resolver(fetcher)
    contexts.resolve(USER_URL)
    local_id = contexts.context_info(USER_URL).local_id
    fetcher.documents[USER_URL] = {"@context": {**USER_CONTEXT, "pm10": SDM + "pm10"}}
    contexts.delete_context(local_id, reload=True)
    assert contexts.context_info(USER_URL).local_id == local_id
    assert contexts.resolve(USER_URL).expand_term("pm10") == SDM + "pm10"
    del fetcher.documents[USER_URL]
    with pytest.raises(ContextNotAvailable):
        contexts.delete_context(USER_URL, reload=True)
    assert contexts.resolve(USER_URL).expand_term("pm10") == SDM + "pm10"  # old copy kept
    contexts.delete_context(USER_URL)
    with pytest.raises(ContextNotAvailable):
        contexts.resolve(USER_URL)
    assert len(fetcher.calls) == 4


def test_pinned_contexts_cannot_be_deleted(tmp_path: Path) -> None:
    contexts = resolver()
    contexts.preload(USER_URL, {"@context": USER_CONTEXT})
    hosted = contexts.host_context({"@context": {"x": SDM + "x"}})
    for context_id in (CORE_CONTEXT_URL, USER_URL):
        with pytest.raises(ContextOperationNotSupported):
            contexts.delete_context(context_id)
    with pytest.raises(BadContextRequest, match="only Cached"):
        contexts.delete_context(hosted.local_id, reload=True)
