"""/jsonldContexts (clause 5.13), the hub's public URL, preloaded and unreachable contexts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from citysmart.core.config import Settings
from citysmart.hub.ngsi_ld.context import (
    CORE_CONTEXT_URL,
    ContextResolver,
    ContextSettings,
    FetchedDocument,
)
from citysmart.hub.runtime import HubRuntime
from citysmart.portal.app import create_app
from tests.conftest import free_port
from tests.factories import create_user_with_token
from tests.hub.ngsi_ld.test_routes import BASE, CONTEXT_REL, ENTITY, air_quality, problem

CONTEXTS = f"{BASE}/jsonldContexts"
PM10 = "https://uri.etsi.org/ngsi-ld/default-context/pm10"
OFFLINE_CONTEXT = "https://contexts.example.org/air.jsonld"


def link(url: str) -> dict[str, str]:
    return {"Link": f'<{url}>; rel="{CONTEXT_REL}"; type="application/ld+json"'}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def operator(runtime: HubRuntime) -> dict[str, str]:
    return bearer(create_user_with_token(runtime, "ops", "operator"))


def host(client: TestClient, headers: dict[str, str], context: Any) -> str:
    response = client.post(CONTEXTS, json={"@context": context}, headers=headers)
    assert response.status_code == 201, response.text
    assert response.content == b""
    location: str = response.headers["location"]
    return location


def test_listing_and_kinds(client: TestClient) -> None:
    assert CORE_CONTEXT_URL in client.get(CONTEXTS).json()
    details = client.get(CONTEXTS, params={"details": "true"}).json()
    core = next(d for d in details if d["URL"] == CORE_CONTEXT_URL)
    assert core["kind"] == "Cached"
    assert core["localId"].startswith("urn:ngsi-ld:jsonldContext:")
    assert client.get(CONTEXTS, params={"kind": "Hosted"}).json() == []
    problem(client.get(CONTEXTS, params={"kind": "Borrowed"}), 400, "BadRequestData")
    info = client.get(f"{CONTEXTS}/{quote(CORE_CONTEXT_URL, safe='')}", params={"details": "true"})
    assert info.json()["URL"] == CORE_CONTEXT_URL
    # a cached copy is described but not served, and the built-in one cannot go
    problem(client.get(f"{CONTEXTS}/{core['localId']}"), 422, "OperationNotSupported")


def test_host_serve_use_and_delete(
    client: TestClient, runtime: HubRuntime, operator: dict[str, str]
) -> None:
    air_quality(client, runtime)
    url = host(client, operator, {"particulates10": PM10})
    assert url.startswith("http://testserver/ngsi-ld/v1/jsonldContexts/urn:ngsi-ld:jsonldContext:")
    local_id = url.rsplit("/", 1)[1]
    served = client.get(f"{CONTEXTS}/{local_id}")
    assert served.status_code == 200, served.text
    assert served.headers["content-type"].startswith("application/ld+json")
    assert served.json() == {"@context": {"particulates10": PM10}}
    assert client.get(CONTEXTS, params={"kind": "Hosted"}).json() == [url]
    info = client.get(f"{CONTEXTS}/{local_id}", params={"details": "true"}).json()
    assert info["kind"] == "Hosted"
    assert info["URL"] == url
    # clients name it by its URL, which resolves without any fetch
    entity = client.get(f"{BASE}/entities/{ENTITY}", headers=link(url))
    assert entity.json()["particulates10"]["value"] == 22.0
    attributes = client.get(f"{BASE}/attributes", headers=link(url)).json()
    assert "particulates10" in attributes["attributeList"]
    problem(client.delete(f"{CONTEXTS}/{local_id}"), 401, "Unauthorized")
    only_cached = client.delete(
        f"{CONTEXTS}/{local_id}", params={"reload": "true"}, headers=operator
    )
    problem(only_cached, 400, "BadRequestData")
    assert client.delete(f"{CONTEXTS}/{local_id}", headers=operator).status_code == 204
    problem(client.get(f"{CONTEXTS}/{local_id}"), 404, "ResourceNotFound")
    problem(client.delete(f"{CONTEXTS}/{local_id}", headers=operator), 404, "ResourceNotFound")
    problem(
        client.delete(f"{CONTEXTS}/{CORE_CONTEXT_URL}", headers=operator),
        422,
        "OperationNotSupported",
    )


def test_hosting_needs_an_operator_and_a_context(
    client: TestClient, runtime: HubRuntime, operator: dict[str, str]
) -> None:
    body = {"@context": {"a": "https://example.org/a"}}
    problem(client.post(CONTEXTS, json=body), 401, "Unauthorized")
    citizen = bearer(create_user_with_token(runtime, "jo", "citizen"))
    problem(client.post(CONTEXTS, json=body, headers=citizen), 403, "Forbidden")
    problem(client.post(CONTEXTS, json={"a": 1}, headers=operator), 400, "BadRequestData")
    problem(client.post(CONTEXTS, json=[body], headers=operator), 400, "BadRequestData")
    broken = {"@context": {"a": 5}}
    problem(client.post(CONTEXTS, json=broken, headers=operator), 400, "BadRequestData")
    assert client.get(CONTEXTS, params={"kind": "Hosted"}).json() == []


class CountingFetcher:
    """A remote @context server in memory, counting fetches."""

    def __init__(self, documents: dict[str, dict[str, Any]]) -> None:
        self.documents = documents
        self.calls: list[str] = []

    def __call__(self, url: str, *, timeout: float, max_bytes: int) -> FetchedDocument:
        self.calls.append(url)
        return FetchedDocument(json.dumps(self.documents[url]).encode())


def test_reload_and_delete_a_cached_context(client: TestClient, operator: dict[str, str]) -> None:
    remote = "https://contexts.example.org/remote.jsonld"
    fetcher = CountingFetcher({remote: {"@context": {"speed": "https://example.org/speed"}}})
    resolver = ContextResolver(fetcher=fetcher, settings=ContextSettings())
    client.app.state.ngsi_ld.resolver = resolver  # type: ignore[attr-defined]
    assert client.get(f"{BASE}/types", headers=link(remote)).status_code == 200
    assert fetcher.calls == [remote]
    assert client.get(CONTEXTS, params={"kind": "Cached"}).json() == [CORE_CONTEXT_URL, remote]
    encoded = quote(remote, safe="")
    reload = client.delete(f"{CONTEXTS}/{encoded}", params={"reload": "true"}, headers=operator)
    assert reload.status_code == 204, reload.text
    assert fetcher.calls == [remote, remote]
    assert client.delete(f"{CONTEXTS}/{encoded}", headers=operator).status_code == 204
    assert remote not in client.get(CONTEXTS).json()


@pytest.fixture
def public_client(settings: Settings, runtime: HubRuntime) -> Iterator[TestClient]:
    configured = settings.model_copy(update={"public_url": "https://hub.example.org/"})
    app = create_app(configured, services=[], runtime=runtime, start_mqtt=False, migrate=False)
    with TestClient(app) as test_client:
        yield test_client


def test_the_public_url_names_hosted_contexts(
    public_client: TestClient, runtime: HubRuntime, operator: dict[str, str]
) -> None:
    url = host(public_client, operator, {"particulates10": PM10})
    assert url.startswith("https://hub.example.org/ngsi-ld/v1/jsonldContexts/urn:")
    air_quality(public_client, runtime)
    entity = public_client.get(f"{BASE}/entities/{ENTITY}", headers=link(url))
    assert entity.json()["particulates10"]["value"] == 22.0
    served = public_client.get(f"{CONTEXTS}/{quote(url, safe='')}")
    assert served.json() == {"@context": {"particulates10": PM10}}
    # an id under the hub's own URL that is not hosted is not fetched from anywhere
    missing = public_client.get(
        f"{BASE}/types", headers=link("https://hub.example.org/ngsi-ld/v1/jsonldContexts/nope")
    )
    problem(missing, 503, "LdContextNotAvailable")


@pytest.fixture
def preload_file(tmp_path: Path) -> Path:
    folder = tmp_path / "contexts"
    folder.mkdir()
    (folder / "air.jsonld").write_text(json.dumps({"@context": {"particulates10": PM10}}))
    mapping = folder / "preload.json"
    mapping.write_text(json.dumps({OFFLINE_CONTEXT: "air.jsonld"}))
    return mapping


def test_a_preloaded_context_resolves_offline(
    settings: Settings,
    runtime: HubRuntime,
    preload_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CITYSMART_NGSI_LD_CONTEXT_PRELOAD", str(preload_file))
    monkeypatch.setenv("CITYSMART_NGSI_LD_REMOTE_CONTEXTS", "false")
    offline = Settings(
        database_url=settings.database_url,
        data_dir=settings.data_dir,
        mqtt_ingest=False,
        secret_key=settings.secret_key,
    )
    assert offline.ngsi_ld_context_preload == preload_file
    assert offline.ngsi_ld_remote_contexts is False
    app = create_app(offline, services=[], runtime=runtime, start_mqtt=False, migrate=False)
    operator = bearer(create_user_with_token(runtime, "ops", "operator"))
    with TestClient(app) as client:
        air_quality(client, runtime)
        entity = client.get(f"{BASE}/entities/{ENTITY}", headers=link(OFFLINE_CONTEXT))
        assert entity.status_code == 200, entity.text
        assert entity.json()["particulates10"]["value"] == 22.0
        info = client.get(f"{CONTEXTS}/{quote(OFFLINE_CONTEXT, safe='')}?details=true").json()
        assert info["kind"] == "Cached"
        assert info["extraInfo"]["origin"] == "preloaded"
        gone = client.delete(f"{CONTEXTS}/{quote(OFFLINE_CONTEXT, safe='')}", headers=operator)
        problem(gone, 422, "OperationNotSupported")
        other = client.get(
            f"{BASE}/types", headers=link("https://contexts.example.org/other.jsonld")
        )
        body = problem(other, 503, "LdContextNotAvailable")
        assert "does not fetch remote" in body["detail"]


def test_an_unreachable_context_is_503(client: TestClient) -> None:
    url = f"http://127.0.0.1:{free_port()}/context.jsonld"
    response = client.get(f"{BASE}/entities", params={"type": "Building"}, headers=link(url))
    body = problem(response, 503, "LdContextNotAvailable")
    assert url in body["detail"]
    problem(client.get(f"{BASE}/types", headers=link(url)), 503, "LdContextNotAvailable")
