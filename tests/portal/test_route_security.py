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
from httpx import Response
from sqlalchemy import text
from starlette.routing import Mount

from citysmart.core.auth import CurrentPrincipal
from citysmart.core.config import Settings
from citysmart.core.db import Base
from citysmart.core.time import utcnow
from citysmart.hub.runtime import HubRuntime
from citysmart.portal.app import create_app
from tests.factories import create_user_with_token
from tests.services.participation.proposal_fixtures import make_process, make_proposal

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
PASSWORD = "correct horse battery"
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')
PATH_PARAM = re.compile(r"\{([^}:]+)(?::[^}]+)?\}")

# Routes anyone may call without signing in, each with why.
PUBLIC: dict[tuple[str, str], str] = {
    ("POST", "/signin"): "signing in is how one stops being anonymous (CSRF-checked)",
    ("POST", "/signup"): "creating an account (CSRF-checked, rate-limited)",
    ("POST", "/password/forgot"): "asks for a reset link by email; reveals nothing",
    ("POST", "/password/reset"): "the emailed one-time reset token is the credential",
    ("POST", "/oidc/token"): "OIDC clients authenticate with their client secret + code/PKCE",
    ("POST", "/oidc/userinfo"): "OIDC: the access token in the request is the credential",
    ("POST", "/ngsi-ld/v1/entityOperations/query"): "NGSI-LD query by POST: a read, public",
    ("POST", "/signout"): "ends one's own session; anonymous it changes nothing (CSRF-checked)",
}

# Routes that check their input before the caller; anonymous they must still not succeed.
INPUT_FIRST: dict[tuple[str, str], str] = {
    ("POST", "/oidc/authorize"): "consent: checks the client first (400), sends users to /signin",
}

# Routes only a device may call: a user's token or session is refused with 401.
DEVICE_ONLY: dict[tuple[str, str], str] = {
    ("POST", "/api/v1/ingest"): "readings are sent with the device's own key",
}

P = "/api/v1/participation"
# Routes a signed-in citizen (no special role) may call; all other writes need a role.
CITIZEN_MAY: dict[tuple[str, str], str] = {
    ("POST", "/api/v1/air/follows"): "follow a dong's air quality",
    ("DELETE", "/api/v1/air/follows/{follow_id}"): "stop following (own follows only)",
    ("POST", "/api/v1/air/notifications/{notification_id}/read"): "own notifications",
    ("POST", "/api/v1/air/notifications/read"): "own notifications",
    ("POST", "/air/alerts/follows"): "follow a dong (form)",
    ("POST", "/air/alerts/follows/{follow_id}/delete"): "stop following (form, own only)",
    ("POST", "/air/alerts/read"): "own notifications (form)",
    ("POST", P + "/processes/{ref}/proposals"): "citizens propose",
    ("PATCH", P + "/proposals/{proposal_id}"): "authors edit their own proposal",
    ("POST", P + "/proposals/{proposal_id}/images"): "authors add images to their proposal",
    ("PUT", P + "/follows/{target_type}/{target_id}"): "follow a process or proposal",
    ("DELETE", P + "/follows/{target_type}/{target_id}"): "unfollow",
    ("POST", P + "/comments"): "citizens comment",
    ("PATCH", P + "/comments/{comment_id}"): "authors edit their own comment",
    ("DELETE", P + "/comments/{comment_id}"): "authors (or moderators) delete a comment",
    ("PUT", P + "/comments/{comment_id}/vote"): "vote on a comment",
    ("POST", P + "/reports"): "report content to moderators",
    ("POST", P + "/debates"): "citizens open debates",
    ("POST", P + "/surveys/{survey_id}/responses"): "answer a survey",
    ("POST", P + "/opinions"): "citizens send opinions (civil complaints)",
    ("POST", P + "/opinions/{opinion_id}/follow"): "follow an opinion",
    ("DELETE", P + "/opinions/{opinion_id}/follow"): "unfollow an opinion",
    ("DELETE", P + "/sandbox/projects/{project_id}/signup"): "withdraw from a trial",
    ("POST", "/participation/processes/{slug}/follow"): "follow a process (form)",
    ("POST", "/participation/processes/{slug}/proposals"): "propose (form)",
    ("POST", "/participation/proposals/{proposal_id}/follow"): "follow (form)",
    ("POST", "/participation/comments"): "comment (form)",
    ("POST", "/participation/comments/{comment_id}/vote"): "vote on a comment (form)",
    ("POST", "/participation/comments/{comment_id}/edit"): "authors edit (form)",
    ("POST", "/participation/comments/{comment_id}/delete"): "authors delete (form)",
    ("POST", "/participation/reports"): "report content (form)",
    ("POST", "/participation/debates"): "open a debate (form)",
    ("POST", "/participation/surveys/{survey_id}"): "answer a survey (form)",
    ("POST", "/participation/opinions/new"): "send an opinion (form)",
    ("POST", "/participation/opinions/{opinion_id}/follow"): "follow an opinion (form)",
    ("POST", "/signout"): "end one's own session",
    ("POST", "/api/v1/me/notifications/read"): "own notifications",
    ("POST", "/notifications/{note_id}/read"): "own notifications (form)",
    ("POST", "/notifications/read-all"): "own notifications (form)",
    ("POST", "/notifications/digest"): "own digest choice (form)",
    ("POST", "/oidc/authorize"): "consent (or not) to a client signing oneself in",
    ("POST", "/account"): "edit one's own profile",
    ("POST", "/account/password"): "change one's own password",
    ("POST", "/account/verify/census"): "verify one's own residence",
    ("POST", "/account/verify/code"): "verify one's own residence with a code",
}

# Routes for verified residents only (support, vote, ballots, trials): a citizen who is not
# verified is refused with 403 (and so is an operator who never verified), whatever the role.
# The pages look the budget or trial up first, so without one they answer 404.
VERIFIED_ONLY: dict[tuple[str, str], str] = {
    ("POST", P + "/proposals/{proposal_id}/support"): "support a proposal",
    ("DELETE", P + "/proposals/{proposal_id}/support"): "withdraw support",
    ("POST", P + "/proposals/{proposal_id}/vote"): "vote on a proposal",
    ("PUT", P + "/budgets/{budget_id}/ballot"): "fill a budget ballot",
    ("POST", P + "/budgets/{budget_id}/ballot/checkout"): "cast a budget ballot",
    ("POST", P + "/sandbox/projects/{project_id}/signup"): "sign up for a trial",
    ("POST", "/participation/proposals/{proposal_id}/support"): "support (form)",
    ("POST", "/participation/proposals/{proposal_id}/vote"): "vote (form)",
    ("POST", "/participation/budgets/{budget_id}/ballot"): "fill a ballot (form)",
    ("POST", "/participation/budgets/{budget_id}/checkout"): "cast a ballot (form)",
    ("POST", "/sandbox/projects/{project_id}/signup"): "sign up for a trial (form)",
}

# Role routes an operator may not call either (they need admin or a service's own role).
OPERATOR_REFUSED: dict[tuple[str, str], str] = {
    ("POST", "/api/v1/devices"): "registering devices (and their keys) is for admins",
    ("POST", "/api/v1/devices/{device_id}/revoke"): "revoking device keys is for admins",
    ("POST", "/admin/residents/census"): "importing the census is for admins",
    ("POST", "/admin/residents/codes"): "issuing verification codes is for admins",
    ("POST", "/admin/residents/block"): "blocking accounts is for admins",
}

# Routes that never read the session cookie (so the CSRF check does not apply to them).
NO_SESSION: dict[tuple[str, str], str] = {
    **DEVICE_ONLY,
    ("POST", "/oidc/token"): "OIDC client authentication, no cookie",
    ("POST", "/oidc/userinfo"): "OIDC bearer access token, no cookie",
    ("POST", "/ngsi-ld/v1/entityOperations/query"): "a read",
}

# Form values a route needs to pass validation where "1" is not valid.
FORM_VALUES: dict[str, str] = {}


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
) -> Response:
    """Send ``route`` a minimal valid-looking request, with the CSRF token and token given."""
    url = route.url(values or {})
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if csrf:
        headers["X-CSRF-Token"] = csrf
    if route.is_form:
        form = {name: FORM_VALUES.get(name, "1") for name in route.form_fields}
        if csrf:
            form["csrf"] = csrf
        return client.request(route.method, url, data=form, headers=headers, follow_redirects=False)
    return client.request(
        route.method, url, json=route.body, headers=headers, follow_redirects=False
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
            for who, answer in (("no cookie", bare), ("anonymous session", response)):
                if route.key in INPUT_FIRST:
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
