"""NGSI-LD routes served in one thread hop, without the framework's dependency machinery.

FastAPI solves each synchronous dependency of a route (the session, the tenant's session,
the writer) in a thread of its own, then runs the route in another: four hops and their
context switches per write, more than the write's own Python on a busy machine. Here the
same route function runs with the same arguments, built in one thread: the route stays
declared once, with its OpenAPI entry, and these plain routes, placed before the API's
own, answer in its place with the same checks in the same order (the writer is
authenticated before the body is read into JSON, as FastAPI solves the parameters).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final

from fastapi import Request
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.routing import Route

from citysmart.core.accounts import record_token_use
from citysmart.hub.ngsi_ld.http import (
    JSON,
    LD_JSON,
    MERGE_PATCH,
    Announcements,
    current_operator,
    current_writer,
    decode_body,
    ngsi_state,
    receive_body,
    tenant_of,
)

Endpoint = Callable[[Request], Awaitable[Response]]
_BODY_TYPES: Final = {"BodyDep": (JSON, LD_JSON), "PatchBodyDep": (JSON, LD_JSON, MERGE_PATCH)}
_BUILT: Final = {"request", "writer", "db", "ann", "body"}


def lean_routes(prefix: str, routes: list[Any]) -> list[Route]:
    """Return a plain route for each write route (a writer, a session, announcements)."""
    lean = []
    for route in routes:
        if not isinstance(route, APIRoute):
            continue
        names = set(inspect.signature(route.endpoint).parameters)
        if not {"writer", "db", "ann"} <= names:
            continue
        lean.append(
            Route(prefix + route.path, lean_endpoint(route.endpoint), methods=route.methods)
        )
    return lean


def lean_endpoint(work: Callable[..., Response]) -> Endpoint:
    """Wrap a write route function: the body is received here, the rest runs in a thread."""
    parameters = inspect.signature(work).parameters
    body = parameters.get("body")
    body_types = _BODY_TYPES.get(str(body.annotation)) if body is not None else None
    operator_only = str(parameters["writer"].annotation) == "OperatorDep"
    path_names = [n for n in parameters if n not in _BUILT]

    async def endpoint(request: Request) -> Response:
        received = await receive_body(request) if body_types is not None else None
        path = {n: request.path_params[n] for n in path_names}
        return await run_in_threadpool(
            _run, work, request, received, body_types, operator_only, path
        )

    endpoint.__name__ = work.__name__
    endpoint.__doc__ = work.__doc__
    return endpoint


def _run(
    work: Callable[..., Response],
    request: Request,
    received: tuple[bytes, bool] | None,
    body_types: tuple[str, ...] | None,
    operator_only: bool,
    path: dict[str, str],
) -> Response:
    """Authenticate, decode the body, run the route in the tenant's session, commit."""
    factory = request.app.state.sessions
    with factory() as session:
        writer = current_writer(request, session)
        if operator_only:
            writer = current_operator(writer)
        kwargs: dict[str, Any] = dict(path, request=request, writer=writer)
        if body_types is not None and received is not None:
            kwargs["body"] = decode_body(request, *received, body_types)
        with _tenant_session(request, session) as db:
            response = work(db=db, ann=Announcements(tenant_of(request)), **kwargs)
        session.commit()
        record_token_use(session)
        return response


@contextmanager
def _tenant_session(request: Request, default: Session) -> Iterator[Session]:
    """Yield the default session, or the tenant's own (made on first use)."""
    tenant = tenant_of(request)
    if not tenant:
        yield default
        return
    with ngsi_state(request).tenants.sessions(tenant, create=True)() as session:
        yield session


__all__ = ["lean_endpoint", "lean_routes"]
