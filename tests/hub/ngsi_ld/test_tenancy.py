"""NGSI-LD tenants (NGSILD-Tenant): one database each, on SQLite and PostgreSQL.

Tenant databases outlive a test (schemas in the run's PostgreSQL database), so every
test names its tenants afresh. Data goes in through the tenant's sessions; tenants are
created here as a first write would create them.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from citysmart.core.config import Settings
from citysmart.hub.models import Observation
from citysmart.hub.ngsi_ld.tables import SubscriptionRow
from citysmart.hub.ngsi_ld.tenancy import TENANT_HEADER, Tenants, schema_name
from citysmart.hub.runtime import HubRuntime
from citysmart.portal.app import create_app
from tests.hub.ngsi_ld.test_discovery import prop, store
from tests.hub.ngsi_ld.test_routes import BASE, add_entities, problem

SHARED_ID = "urn:ngsi-ld:Thing:shared"


def fresh(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def tenants_of(client: TestClient) -> Tenants:
    tenants: Tenants = client.app.state.ngsi_ld.tenants  # type: ignore[attr-defined]
    return tenants


def as_tenant(name: str) -> dict[str, str]:
    return {TENANT_HEADER: name}


def building(number: int, **attrs: Any) -> dict[str, Any]:
    return {"id": f"urn:ngsi-ld:Building:b{number}", "type": "Building", **attrs}


def thing(colour: str) -> dict[str, Any]:
    return {"id": SHARED_ID, "type": "Thing", "colour": prop(colour)}


def count(factory: sessionmaker[Session], model: Any, entity_id: str | None = None) -> int:
    stmt = select(func.count()).select_from(model)
    if entity_id is not None:
        stmt = stmt.where(model.entity_id == entity_id)
    with factory() as session:
        return int(session.scalar(stmt) or 0)


@pytest.fixture
def two_tenants(client: TestClient, runtime: HubRuntime) -> tuple[str, str]:
    """Tenant a has a building, tenant b a vehicle, both a Thing with one id; default lots."""
    a, b = fresh("a"), fresh("b")
    tenants = tenants_of(client)
    store(tenants.sessions(a, create=True), [building(1, height=prop(10)), thing("red")])
    vehicle = {"id": "urn:ngsi-ld:Vehicle:v1", "type": "Vehicle", "speed": prop(5)}
    store(tenants.sessions(b, create=True), [vehicle, thing("blue")])
    add_entities(runtime, 2)
    return a, b


def test_retrieve_and_query_stay_in_their_tenant(
    client: TestClient, two_tenants: tuple[str, str]
) -> None:
    a, b = two_tenants
    b1 = f"{BASE}/entities/urn:ngsi-ld:Building:b1"
    assert client.get(b1, headers=as_tenant(a)).status_code == 200
    problem(client.get(b1, headers=as_tenant(b)), 404, "ResourceNotFound")
    problem(client.get(b1), 404, "ResourceNotFound")
    lot = f"{BASE}/entities/urn:ngsi-ld:OffStreetParking:p000"
    assert client.get(lot).status_code == 200
    problem(client.get(lot, headers=as_tenant(a)), 404, "ResourceNotFound")
    # one id, two entities
    shared = f"{BASE}/entities/{SHARED_ID}"
    assert client.get(shared, headers=as_tenant(a)).json()["colour"]["value"] == "red"
    assert client.get(shared, headers=as_tenant(b)).json()["colour"]["value"] == "blue"
    problem(client.get(shared), 404, "ResourceNotFound")

    def ids(params: dict[str, str], tenant: str | None = None) -> list[str]:
        headers = as_tenant(tenant) if tenant else {}
        response = client.get(f"{BASE}/entities", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [e["id"] for e in response.json()]

    everything = {"idPattern": ".*"}
    assert ids(everything, a) == ["urn:ngsi-ld:Building:b1", SHARED_ID]
    assert ids(everything, b) == [SHARED_ID, "urn:ngsi-ld:Vehicle:v1"]
    assert ids(everything) == [f"urn:ngsi-ld:OffStreetParking:p00{i}" for i in range(2)]
    assert ids({"type": "Building"}, b) == []
    assert ids({"type": "Building"}) == []
    assert ids({"type": "Thing", "q": 'colour=="blue"'}, a) == []
    assert ids({"type": "Thing", "q": 'colour=="blue"'}, b) == [SHARED_ID]


def test_discovery_stays_in_its_tenant(client: TestClient, two_tenants: tuple[str, str]) -> None:
    a, b = two_tenants

    def listed(path: str, key: str, tenant: str | None = None) -> list[str]:
        headers = as_tenant(tenant) if tenant else {}
        response = client.get(f"{BASE}/{path}", headers=headers)
        assert response.status_code == 200, response.text
        names: list[str] = response.json()[key]
        return names

    assert listed("types", "typeList", a) == ["Building", "Thing"]
    assert listed("types", "typeList", b) == ["Thing", "Vehicle"]
    assert listed("types", "typeList") == ["OffStreetParking"]
    assert listed("attributes", "attributeList", a) == ["colour", "height"]
    assert listed("attributes", "attributeList", b) == ["colour", "speed"]
    assert "height" not in listed("attributes", "attributeList")
    problem(client.get(f"{BASE}/types/Building", headers=as_tenant(b)), 404, "ResourceNotFound")
    problem(client.get(f"{BASE}/types/Building"), 404, "ResourceNotFound")
    thing_in_a = client.get(f"{BASE}/types/Thing", headers=as_tenant(a)).json()
    assert thing_in_a["entityCount"] == 1
    problem(client.get(f"{BASE}/attributes/speed", headers=as_tenant(a)), 404, "ResourceNotFound")
    colour = client.get(f"{BASE}/attributes/colour", headers=as_tenant(b)).json()
    assert colour["attributeCount"] == 1
    assert colour["typeNames"] == ["Thing"]


def test_history_and_subscriptions_stay_in_their_tenant(
    client: TestClient, runtime: HubRuntime, two_tenants: tuple[str, str]
) -> None:
    a, b = two_tenants
    tenants = tenants_of(client)
    in_a, in_b = tenants.sessions(a), tenants.sessions(b)
    # a write's instances are its temporal history, kept in the tenant's own observation table
    assert count(in_a, Observation, "urn:ngsi-ld:Building:b1") == 1
    assert count(in_b, Observation, "urn:ngsi-ld:Building:b1") == 0
    assert count(runtime.sessions, Observation, "urn:ngsi-ld:Building:b1") == 0
    with in_a.begin() as session:
        session.add(SubscriptionRow(id="urn:ngsi-ld:Subscription:s1", body={"type": "x"}))
    assert count(in_a, SubscriptionRow) == 1
    assert count(in_b, SubscriptionRow) == 0
    assert count(runtime.sessions, SubscriptionRow) == 0


def test_a_tenant_that_does_not_exist_is_404(client: TestClient) -> None:
    ghost = fresh("ghost")
    for path in (
        "entities?type=Building",
        "entities/urn:ngsi-ld:Building:b1",
        "types",
        "types/Building",
        "attributes",
        "attributes/height",
    ):
        response = client.get(f"{BASE}/{path}", headers=as_tenant(ghost))
        body = problem(response, 404, "NonexistentTenant")
        assert ghost in body["detail"]
    assert not tenants_of(client).exists(ghost)  # reading never creates a tenant
    assert ghost not in tenants_of(client).known()


@pytest.mark.parametrize(
    "name", ["Acme", "has space", "a/b", "..", "-lead", "_lead", "x" * 49, "semi;colon"]
)
def test_invalid_tenant_names_are_400(client: TestClient, name: str) -> None:
    response = client.get(f"{BASE}/types", headers=as_tenant(name))
    body = problem(response, 400, "BadRequestData")
    assert TENANT_HEADER in body["detail"]
    with pytest.raises(Exception, match="not a tenant name"):
        tenants_of(client).sessions(name, create=True)


def test_where_tenants_live(client: TestClient, settings: Settings) -> None:
    name = fresh("home")
    tenants = tenants_of(client)
    store(tenants.sessions(name, create=True), [building(7)])
    assert tenants.exists(name)
    assert name in tenants.known()
    if tenants.is_postgresql:
        with tenants.engine.connect() as conn:
            found = conn.execute(
                text("SELECT to_regclass(:t) IS NOT NULL"),
                {"t": f'"{schema_name(name)}".entity'},
            ).scalar()
        assert found
    else:
        assert (settings.data_dir / "tenants" / f"{name}.db").is_file()


def _partition_in(tenants: Tenants, schema: str, month: str) -> bool:
    with tenants.engine.connect() as conn:
        found = conn.execute(
            text("SELECT to_regclass(:t) IS NOT NULL"), {"t": f'"{schema}".observation_{month}'}
        ).scalar()
    return bool(found)


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # partitions are PG's
def test_observation_partitions_are_made_in_the_tenant_schema(
    client: TestClient, runtime: HubRuntime
) -> None:
    tenants = tenants_of(client)
    assert tenants.is_postgresql
    name = fresh("part")
    schema = schema_name(name)
    # a month no schema has yet
    late = building(1, height=prop(1, observedAt="2031-05-04T00:00:00Z"))
    store(tenants.sessions(name, create=True), [late])
    assert _partition_in(tenants, schema, "y2031m05")
    assert not _partition_in(tenants, "public", "y2031m05")
    # a month the default tenant has already: the tenant still gets its own
    store(runtime.sessions, [building(2, height=prop(2, observedAt="2032-07-01T00:00:00Z"))])
    assert _partition_in(tenants, "public", "y2032m07")
    store(tenants.sessions(name), [building(2, height=prop(3, observedAt="2032-07-09T00:00:00Z"))])
    assert _partition_in(tenants, schema, "y2032m07")
    with tenants.sessions(name)() as session:
        values = session.scalars(select(Observation.num_value).order_by(Observation.observed_at))
        assert list(values) == [1.0, 3.0]


RACER = """
import sys
from pathlib import Path
from citysmart.core.db import make_engine, make_sessionmaker
from citysmart.hub.ngsi_ld.tenancy import Tenants
engine = make_engine(sys.argv[1])
tenants = Tenants(engine, make_sessionmaker(engine), Path(sys.argv[2]))
with tenants.sessions(sys.argv[3], create=True)() as session:
    session.connection()
tenants.dispose()
"""


def test_processes_racing_to_create_a_tenant(client: TestClient, settings: Settings) -> None:
    name = fresh("race")
    folder = str(tenants_of(client).folder)
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, settings.database_url, folder, name],
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outcomes = [(p.communicate(timeout=120)[1], p.returncode) for p in racers]
    assert [err for err, code in outcomes if code] == []
    tenants = tenants_of(client)
    store(tenants.sessions(name), [building(1)])
    assert count(tenants.sessions(name), Observation) == 0


def test_tenant_engines_are_disposed_at_shutdown(settings: Settings, runtime: HubRuntime) -> None:
    app = create_app(settings, services=[], runtime=runtime, start_mqtt=False, migrate=False)
    name = fresh("bye")
    with TestClient(app) as client:
        tenants = tenants_of(client)
        factory = tenants.sessions(name, create=True)
        store(factory, [building(1)])
        assert client.get(f"{BASE}/types", headers=as_tenant(name)).json()["typeList"] == [
            "Building"
        ]
    assert tenants.sessions(name) is not factory  # closed at shutdown, opened again on use
    tenants.dispose()
