"""Every write route checks who is asking: walk the real app's routes and try each one.

Three passes over every unsafe method (POST, PUT, PATCH, DELETE) of every route the app
serves, with path parameters filled with 1 and a body that passes validation:

1. anonymous (no cookie, no token): refused (401/403, or a 303 to /signin), unless the route
   is in PUBLIC (each with its reason);
2. a signed-in citizen: refused with 403 unless the route is in CITIZEN_MAY (routes any
   signed-in user may call);
3. a signed-in citizen's session cookie without the CSRF token: refused with 403, unless
   the route is in NO_SESSION (routes that never take the session cookie).

A new route that is in none of the lists and not refused fails the test, so whoever adds
it must decide (and write down) who may call it. A listed route that disappears also fails,
so the lists stay true. A self-test adds two careless routes and checks they are caught.

SQLite only: these are checks of HTTP handling, not of storage, and the passes send some
600 requests (about 75 s here; PostgreSQL would add over two minutes to every run).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.params import Form
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import text
from starlette.routing import Mount

from citysmart.core.auth import CurrentPrincipal
from citysmart.core.config import Settings
from citysmart.core.db import Base
from citysmart.core.time import utcnow
from citysmart.hub.runtime import HubRuntime
from citysmart.portal.app import create_app
from tests.factories import create_user_with_token
from tests.portal.route_security_lists import (
    CITIZEN_MAY,
    DEVICE_ONLY,
    INPUT_FIRST,
    NO_SESSION,
    OPERATOR_REFUSED,
    OWNED_BY_AUTHOR,
    PUBLIC,
    VALIDATES_FIRST,
    VERIFIED_ONLY,
)
from tests.services.participation.proposal_fixtures import make_process, make_proposal

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
PASSWORD = "correct horse battery"
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')
PATH_PARAM = re.compile(r"\{([^}:]+)(?::[^}]+)?\}")


@dataclass(frozen=True)
class WriteRoute:
    """One unsafe method of one route, with what it takes as body."""

    method: str
    path: str
    form_fields: tuple[str, ...]  # required form fields
    is_form: bool  # a page's form POST rather than a JSON API call
    body: Any = None  # a JSON body that passes validation (from the OpenAPI schema)

    @property
    def key(self) -> tuple[str, str]:
        """The (method, path template) this route is listed under."""
        return (self.method, self.path)

    def url(self, values: dict[str, str]) -> str:
        """The path with each parameter filled from ``values``, else with 1."""
        return PATH_PARAM.sub(lambda m: values.get(m.group(1), "1"), self.path)


def _body_fields(dependant: Dependant) -> Iterator[Any]:
    """Yield the body fields of a dependant and of its dependencies."""
    yield from dependant.body_params
    for sub in dependant.dependencies:
        yield from _body_fields(sub)


def _form_fields(route: Any) -> list[Any]:
    """Return the route's form fields (from its parameters and its dependencies)."""
    original = route.original_route
    if not isinstance(original, APIRoute):
        return []
    return [f for f in _body_fields(original.dependant) if isinstance(f.field_info, Form)]


def sample(schema: dict[str, Any], spec: dict[str, Any]) -> Any:
    """Return the smallest value that ``schema`` accepts (a guess good for most bodies)."""
    if "$ref" in schema:
        return sample(spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]], spec)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [o for o in schema[key] if o.get("type") != "null"]
            return sample(options[0], spec) if options else None
    if "default" in schema:
        return schema["default"]
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "object")
    if kind == "object":
        props = schema.get("properties", {})
        return {name: sample(props.get(name, {}), spec) for name in schema.get("required", ())}
    if kind == "array":
        return [sample(schema.get("items", {}), spec)] * schema.get("minItems", 0)
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "number":
        return max(1.0, schema.get("minimum", 1.0))
    if kind == "boolean":
        return False
    if schema.get("format") == "date-time":
        return utcnow().isoformat()
    if schema.get("format") == "date":
        return utcnow().date().isoformat()
    return "x" * max(schema.get("minLength", 1), 1)


def _json_body(app: FastAPI, method: str, path: str) -> Any:
    spec = app.openapi()
    operation = spec["paths"].get(path.replace(":path}", "}"), {}).get(method.lower(), {})
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return {}
    return sample(content["application/json"].get("schema", {}), spec)


def write_routes(app: FastAPI) -> list[WriteRoute]:
    """Every unsafe method of every route the app serves (included routers, plain routes)."""
    found: dict[tuple[str, str], WriteRoute] = {}
    for route in iter_route_contexts(app.router.routes):
        if isinstance(route.original_route, Mount):
            continue  # /static: StaticFiles answers 405 to writes
        for method in sorted(set(route.methods or ()) & set(UNSAFE)):
            path = str(route.path)
            required = tuple(f.alias for f in _form_fields(route) if f.field_info.is_required())
            # Pages take forms (some read request.form() themselves); the APIs take JSON.
            is_form = not path.startswith(("/api/", "/ngsi-ld/"))
            body = None if is_form else _json_body(app, method, path)
            found.setdefault((method, path), WriteRoute(method, path, required, is_form, body))
    return list(found.values())


@pytest.fixture
def app(settings: Settings, runtime: HubRuntime) -> Iterator[FastAPI]:
    """The real app with every service; every table is emptied afterwards."""
    app = create_app(settings, runtime=runtime, start_mqtt=False, migrate=False)
    yield app
    with runtime.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(text(f"DELETE FROM {table.name}"))


def send(
    client: TestClient,
    route: WriteRoute,
    csrf: str | None = None,
    token: str | None = None,
    values: dict[str, str] | None = None,
    empty: bool = False,
) -> Response:
    """Send ``route`` a minimal valid-looking request (or an empty one), with what is given."""
    url = route.url(values or {})
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if csrf:
        headers["X-CSRF-Token"] = csrf
    if route.is_form:
        form = {} if empty else {name: "1" for name in route.form_fields}
        if csrf:
            form["csrf"] = csrf
        return client.request(route.method, url, data=form, headers=headers, follow_redirects=False)
    return client.request(
        route.method, url, json={} if empty else route.body, headers=headers, follow_redirects=False
    )


def refused(response: Response) -> bool:
    """Whether the answer refuses the caller: 401, 403 or a redirect to sign in."""
    if response.status_code in (401, 403):
        return True
    return response.status_code in (302, 303) and response.headers.get("location", "").startswith(
        "/signin"
    )


def csrf_of(client: TestClient, page: str = "/signin") -> str:
    """Open a page and return the session's CSRF token from its form."""
    match = CSRF_FIELD.search(client.get(page).text)
    assert match, f"no CSRF field on {page}"
    return match.group(1)


def sign_in(client: TestClient, username: str) -> str:
    """Sign ``username`` in through the form; return the session's CSRF token."""
    token = csrf_of(client)
    response = client.post(
        "/signin",
        data={"username": username, "password": PASSWORD, "csrf": token},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return csrf_of(client, "/account")


def seed(client: TestClient, runtime: HubRuntime) -> dict[str, str]:
    """Create a published process with a proposal; return path values that name them.

    Some page routes look the proposal up before checking the role (a 404 would hide
    whether the role is checked), so the role passes run on things that exist.
    """
    operator = {"Authorization": "Bearer " + create_user_with_token(runtime, "seeder", "operator")}
    author = {"Authorization": "Bearer " + create_user_with_token(runtime, "author", "citizen")}
    process = make_process(client, operator)
    proposal = make_proposal(client, author, process["slug"])
    return {"slug": process["slug"], "ref": process["slug"], "proposal_id": str(proposal["id"])}


def describe(route: WriteRoute, response: Response) -> str:
    """One line for a failure message."""
    return f"{route.method} {route.path} -> {response.status_code} {response.text[:160]!r}"


def test_the_walk_finds_every_documented_route(app: FastAPI) -> None:
    """Every unsafe operation in the OpenAPI document is among the routes walked."""
    walked = {r.key for r in write_routes(app)}
    documented = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
        if method.upper() in UNSAFE
    }
    normalised = {(m, PATH_PARAM.sub("{}", p)) for m, p in walked}
    missing = {(m, p) for m, p in documented if (m, PATH_PARAM.sub("{}", p)) not in normalised}
    assert not missing
    assert len(walked) > 100  # every service is mounted


def test_the_lists_name_only_existing_routes(app: FastAPI) -> None:
    """A listed route that no longer exists fails, so the lists stay true."""
    walked = {r.key for r in write_routes(app)}
    lists = {
        "PUBLIC": PUBLIC,
        "INPUT_FIRST": INPUT_FIRST,
        "DEVICE_ONLY": DEVICE_ONLY,
        "CITIZEN_MAY": CITIZEN_MAY,
        "NO_SESSION": NO_SESSION,
        "OPERATOR_REFUSED": OPERATOR_REFUSED,
        "VALIDATES_FIRST": VALIDATES_FIRST,
        "VERIFIED_ONLY": VERIFIED_ONLY,
    }
    for name, listed in lists.items():
        gone = sorted(set(listed) - walked)
        assert not gone, f"{name} lists routes that are gone: {gone}"


def anonymous_problems(app: FastAPI, routes: list[WriteRoute]) -> list[str]:
    """Return the routes not in PUBLIC that an anonymous caller is not refused on."""
    problems = []
    bare_client = TestClient(app)  # shares the app (and lifespan) of ``client``
    with TestClient(app) as client:
        for route in routes:
            if route.key in PUBLIC:
                continue
            # Without a session, form routes refuse on the CSRF check alone; with a session
            # that holds a CSRF token (but no user) the sign-in check itself is what is tested.
            bare_client.cookies.clear()
            bare = send(bare_client, route)
            response = send(client, route, csrf=csrf_of(client))
            empty = send(client, route, csrf=csrf_of(client), empty=True)
            answers = (("no cookie", bare), ("anonymous session", response), ("empty body", empty))
            for who, answer in answers:
                if who == "empty body" and route.key in VALIDATES_FIRST:
                    ok = answer.status_code == 422 or refused(answer)
                elif route.key in INPUT_FIRST:
                    ok = 400 <= answer.status_code < 500 or refused(answer)
                else:
                    ok = refused(answer)
                if not ok:
                    problems.append(f"{who}: {describe(route, answer)}")
    return problems


def citizen_problems(app: FastAPI, runtime: HubRuntime, routes: list[WriteRoute]) -> list[str]:
    """Return the routes not in CITIZEN_MAY on which a signed-in citizen is not refused."""
    token = create_user_with_token(runtime, "cit", "citizen", PASSWORD)
    problems = []
    with TestClient(app) as client:
        values = seed(client, runtime)
        csrf = sign_in(client, "cit")
        for route in routes:
            if route.key in PUBLIC or route.key in CITIZEN_MAY:
                continue
            bearer = None if route.is_form else token
            response = send(client, route, csrf=csrf, token=bearer, values=values)
            if response.status_code != (401 if route.key in DEVICE_ONLY else 403) and not (
                route.key in VERIFIED_ONLY and response.status_code == 404
            ):
                problems.append(describe(route, response))
    return problems


def test_anonymous_writes_are_refused(app: FastAPI) -> None:
    """No cookie, no token: every write route not in PUBLIC refuses, even with a CSRF token."""
    problems = anonymous_problems(app, write_routes(app))
    assert not problems, "\n".join(problems)


def test_citizens_cannot_use_role_routes(app: FastAPI, runtime: HubRuntime) -> None:
    """A signed-in citizen (token or session) gets 403 on every route not in CITIZEN_MAY."""
    problems = citizen_problems(app, runtime, write_routes(app))
    assert not problems, "\n".join(problems)


def test_an_unprotected_route_is_caught(app: FastAPI, runtime: HubRuntime) -> None:
    """The checks above fail for a new write route that forgets its sign-in or role check."""

    @app.post("/api/v1/canary/open")
    def open_write() -> dict[str, str]:
        """A write anyone may call: the mistake the test is for."""
        return {"ok": "yes"}

    @app.post("/api/v1/canary/admin")
    def admin_write(principal: CurrentPrincipal) -> dict[str, str]:
        """An admin-looking write that checks sign-in but no role."""
        return {"ok": principal.username}

    canaries = [r for r in write_routes(app) if r.path.startswith("/api/v1/canary/")]
    assert [c.path for c in canaries] == ["/api/v1/canary/open", "/api/v1/canary/admin"]
    assert [p.split(" ")[3] for p in anonymous_problems(app, canaries)] == [
        "/api/v1/canary/open",  # with no cookie
        "/api/v1/canary/open",  # with an anonymous session
        "/api/v1/canary/open",  # with an empty body
    ]
    found = citizen_problems(app, runtime, canaries)
    assert [p.split(" ")[1] for p in found] == ["/api/v1/canary/open", "/api/v1/canary/admin"]


def test_session_writes_need_the_csrf_token(app: FastAPI, runtime: HubRuntime) -> None:
    """An admin's session cookie without the CSRF token is refused (403, CSRF) everywhere.

    An admin, so that no role check answers 403 first and hides a missing CSRF check.
    """
    create_user_with_token(runtime, "boss", "admin", PASSWORD)
    problems = []
    with TestClient(app) as client:
        sign_in(client, "boss")
        for route in write_routes(app):
            if route.key in NO_SESSION:
                continue
            response = send(client, route)
            if response.status_code != 403 or "CSRF" not in response.text:
                problems.append(describe(route, response))
    assert not problems, "\n".join(problems)


def test_operators_pass_the_role_checks_citizens_fail(app: FastAPI, runtime: HubRuntime) -> None:
    """An operator is not refused where a citizen is (so those 403s are role checks).

    Routes for a higher or a different role are in OPERATOR_REFUSED.
    """
    token = create_user_with_token(runtime, "op", "operator", PASSWORD)
    problems = []
    with TestClient(app) as client:
        values = seed(client, runtime)
        csrf = sign_in(client, "op")
        for route in write_routes(app):
            if route.key in PUBLIC or route.key in CITIZEN_MAY or route.key in DEVICE_ONLY:
                continue
            bearer = None if route.is_form else token
            response = send(client, route, csrf=csrf, token=bearer, values=values)
            expected = route.key in OPERATOR_REFUSED or route.key in VERIFIED_ONLY
            if refused(response) != expected and not (
                route.key in VERIFIED_ONLY and response.status_code == 404
            ):
                problems.append(describe(route, response))
    assert not problems, "\n".join(problems)


def test_citizens_cannot_change_someone_elses_proposal(app: FastAPI, runtime: HubRuntime) -> None:
    """Routes open to citizens for their own things refuse another citizen's (403)."""
    token = create_user_with_token(runtime, "cit", "citizen", PASSWORD)
    problems = []
    with TestClient(app) as client:
        values = seed(client, runtime)  # the proposal's author is "author", not "cit"
        routes = [r for r in write_routes(app) if r.key in OWNED_BY_AUTHOR]
        assert len(routes) == len(OWNED_BY_AUTHOR)
        for route in routes:
            body = {"title": "Taken over"} if route.method == "PATCH" else None
            response = client.request(
                route.method,
                route.url(values),
                json=body,
                files=None if body else {"image": ("a.jpg", b"\xff\xd8\xff", "image/jpeg")},
                headers={"Authorization": f"Bearer {token}"},
            )
            if response.status_code != 403 or "author" not in response.text:
                problems.append(describe(route, response))
    assert not problems, "\n".join(problems)
