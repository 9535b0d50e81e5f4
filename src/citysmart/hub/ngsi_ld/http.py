"""What every NGSI-LD route shares: tenant sessions, access, bodies, @context, responses.

Routes are synchronous (FastAPI runs them in its thread pool), as the @context resolver
and the database sessions are. A write commits inside the route and only then announces
what changed on the event bus, so subscribers never hear of a change that rolled back.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Annotated, Any, Concatenate, Final, ParamSpec, TypeVar

import orjson
from fastapi import Depends, FastAPI, Request
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse, Response

from citysmart.core import roles
from citysmart.core.auth import SessionDep, optional_principal
from citysmart.core.errors import problem_response
from citysmart.core.events import EventBus, ReadingsStored
from citysmart.core.time import utcnow
from citysmart.hub.ngsi_ld.codec import canonical_name, stored_name
from citysmart.hub.ngsi_ld.context import (
    CORE_CONTEXT_URL,
    JSONLD_CONTEXT_REL,
    ActiveContext,
    ContextError,
    ContextResolver,
    context_for_request,
    context_from_link_header,
    is_core_context,
)
from citysmart.hub.ngsi_ld.model import EntityFragment, NgsiLdError, bad_request
from citysmart.hub.ngsi_ld.pg_reads import AsyncEntityReader
from citysmart.hub.ngsi_ld.render import render_entity
from citysmart.hub.ngsi_ld.tenancy import TENANT_HEADER, Tenants
from citysmart.hub.registry import find_device_by_key

LD_JSON: Final = "application/ld+json"
JSON: Final = "application/json"
MERGE_PATCH: Final = "application/merge-patch+json"
DEVICE_KEY_PREFIX: Final = "csd_"
P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class NgsiLdState:
    """The NGSI-LD API's long-lived parts, kept on ``app.state.ngsi_ld``."""

    tenants: Tenants
    resolver: ContextResolver
    events: EventBus
    private_types: frozenset[str] = frozenset()  # stored type names never served
    max_body_bytes: int = 8 * 1024 * 1024
    max_limit: int = 1000
    temporal_page_size: int = 1000
    entity_reader: AsyncEntityReader | None = None  # PostgreSQL's hot read path
    extra: dict[str, Any] = field(default_factory=dict)

    async def start(self) -> None:
        """Bind the asynchronous parts to the app's event loop (in its lifespan)."""
        if self.entity_reader is not None:
            await self.entity_reader.open()

    async def stop(self) -> None:
        """Close what ``start`` opened, and every tenant's pool."""
        if self.entity_reader is not None:
            await self.entity_reader.close()
        self.tenants.dispose()


def ngsi_state(request: Request) -> NgsiLdState:
    """Return the app's NGSI-LD state."""
    state: NgsiLdState = request.app.state.ngsi_ld
    return state


def get_resolver(request: Request) -> ContextResolver:
    """Return the app's @context resolver."""
    return ngsi_state(request).resolver


# --- errors ----------------------------------------------------------------------------------


def problem(problem_type: str, title: str, status: int, detail: str, path: str) -> JSONResponse:
    """Return an NGSI-LD problem details response (clause 6.3.2)."""
    body = {"type": problem_type, "title": title, "status": status, "detail": detail}
    return JSONResponse(
        {**body, "instance": path}, status_code=status, media_type="application/problem+json"
    )


def install_ngsi_ld_handlers(app: FastAPI) -> None:
    """Answer NGSI-LD and @context errors with NGSI-LD problem details."""

    async def on_ngsi_ld(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, NgsiLdError)
        return problem(exc.problem_type, exc.title, exc.status, exc.detail, request.url.path)

    async def on_context(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ContextError)
        return problem(exc.problem_type, exc.title, exc.status, exc.detail, request.url.path)

    app.add_exception_handler(NgsiLdError, on_ngsi_ld)
    app.add_exception_handler(ContextError, on_context)


def database_down(request: Request) -> Response:
    """Answer 503 with Retry-After, as the app does for any database outage."""
    response = problem_response(
        503, "Store unavailable", "the database cannot be reached; retry shortly", request.url.path
    )
    response.headers["Retry-After"] = "5"
    return response


def not_found(detail: str) -> NgsiLdError:
    """Return a ResourceNotFound error."""
    return NgsiLdError("ResourceNotFound", None, detail)


# --- tenants and sessions ----------------------------------------------------------------------


def tenant_of(request: Request) -> str:
    """Return the request's tenant; empty for the default one."""
    return request.headers.get(TENANT_HEADER, "").strip()


def _session(request: Request, default: Session, create: bool) -> Iterator[Session]:
    tenant = tenant_of(request)
    if not tenant:
        # The request's own session, which sign-in checks use too: one pooled connection
        # per request, so a burst of writes cannot take every connection and then wait
        # for a second one (a pool deadlock).
        yield default
        return
    factory = ngsi_state(request).tenants.sessions(tenant, create=create)
    with factory() as session:
        yield session


def read_session(request: Request, db: SessionDep) -> Iterator[Session]:
    """Yield a session on the request's tenant, which must exist."""
    yield from _session(request, db, create=False)


def write_session(request: Request, db: SessionDep) -> Iterator[Session]:
    """Yield a session on the request's tenant, creating the tenant on first use."""
    yield from _session(request, db, create=True)


def in_read_session(
    request: Request,
    work: Callable[Concatenate[Request, Session, P], R],
    *args: P.args,
    **kwargs: P.kwargs,
) -> R:
    """Run ``work(request, session, *args)`` in a session on the request's existing tenant."""
    tenant = tenant_of(request)
    factory = (
        ngsi_state(request).tenants.sessions(tenant, create=False)
        if tenant
        else request.app.state.sessions
    )
    with factory() as session:
        return work(request, session, *args, **kwargs)


ReadDb = Annotated[Session, Depends(read_session, scope="function")]  # as SessionDep
WriteDb = Annotated[Session, Depends(write_session, scope="function")]


# --- access ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Writer:
    """Who writes: an operator (any entity) or a device (only the entity it reports for)."""

    actor: str
    entity_id: str | None = None  # set for a device

    def check(self, entity_id: str) -> None:
        """Refuse a device writing to an entity other than its own."""
        if self.entity_id is not None and entity_id != self.entity_id:
            raise NgsiLdError(
                "Forbidden",
                "Forbidden",
                f"{self.actor} may only write to {self.entity_id}, not {entity_id}",
                403,
            )

    @property
    def is_operator(self) -> bool:
        """Tell whether the writer may touch any entity (and subscriptions)."""
        return self.entity_id is None


def _unauthorized(detail: str) -> NgsiLdError:
    return NgsiLdError("Unauthorized", "Not signed in", detail, 401)


def current_writer(request: Request, db: SessionDep) -> Writer:
    """Admit an operator's token or session, or a device's key."""
    scheme, _, secret = request.headers.get("authorization", "").partition(" ")
    secret = secret.strip()
    if scheme.lower() == "bearer" and secret.startswith(DEVICE_KEY_PREFIX):
        device = find_device_by_key(db, secret)
        if device is None or device.status != "active":
            raise _unauthorized("the device key is unknown or revoked")
        if tenant_of(request):
            raise NgsiLdError(
                "Forbidden", "Forbidden", "devices write to the default tenant only", 403
            )
        return Writer(f"device {device.id}", device.entity_id)
    principal = optional_principal(request, db)
    if principal is None:
        raise _unauthorized("writes need 'Authorization: Bearer <operator token or device key>'")
    if not roles.grants(principal.role, roles.OPERATOR):
        raise NgsiLdError(
            "Forbidden",
            "Forbidden",
            f"writes need the operator role; {principal.username} is {principal.role}",
            403,
        )
    return Writer(principal.username)


def current_operator(writer: Annotated[Writer, Depends(current_writer)]) -> Writer:
    """Admit operators only (subscriptions, batch deletes of any entity, ...)."""
    if not writer.is_operator:
        raise NgsiLdError("Forbidden", "Forbidden", f"{writer.actor} is not an operator", 403)
    return writer


WriterDep = Annotated[Writer, Depends(current_writer)]
OperatorDep = Annotated[Writer, Depends(current_operator)]


def is_private(request: Request, stored_types: Sequence[str]) -> bool:
    """Tell whether an entity has a type some service keeps private."""
    private = ngsi_state(request).private_types
    return bool(private) and any(t in private for t in stored_types)


# --- request bodies and @context -----------------------------------------------------------------


def media_type(request: Request) -> str:
    """Return the request's media type, lowercased, without parameters."""
    return request.headers.get("content-type", JSON).split(";", 1)[0].strip().lower()


async def read_body(request: Request, allowed: Sequence[str] = (JSON, LD_JSON)) -> Any:
    """Read a JSON body of an allowed media type, within the size limit."""
    return decode_body(request, *await receive_body(request), allowed)


async def receive_body(request: Request) -> tuple[bytes, bool]:
    """Receive a body up to the size limit; tell whether it went beyond."""
    limit = ngsi_state(request).max_body_bytes
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return b"", True
        chunks.append(chunk)
    return b"".join(chunks), False


def decode_body(request: Request, raw: bytes, too_large: bool, allowed: Sequence[str]) -> Any:
    """Check a received body's media type and size, and decode its JSON."""
    kind = media_type(request)
    if kind not in allowed:
        raise NgsiLdError(
            "UnsupportedMediaType",
            "Unsupported media type",
            f"send {' or '.join(allowed)}, not {kind}",
            415,
        )
    if too_large:
        limit = ngsi_state(request).max_body_bytes
        raise NgsiLdError(
            "RequestEntityTooLarge", "Body too large", f"the limit is {limit} bytes", 413
        )
    if not raw.strip():
        raise NgsiLdError("InvalidRequest", None, "the request needs a JSON body")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NgsiLdError("InvalidRequest", None, f"the body is not valid JSON: {exc}") from None


async def json_body(request: Request) -> Any:
    """Dependency: the JSON body (application/json or application/ld+json)."""
    return await read_body(request)


async def patch_body(request: Request) -> Any:
    """Dependency: a PATCH body, which may also be application/merge-patch+json."""
    return await read_body(request, (JSON, LD_JSON, MERGE_PATCH))


BodyDep = Annotated[Any, Depends(json_body)]
PatchBodyDep = Annotated[Any, Depends(patch_body)]


@dataclass(frozen=True, slots=True)
class RequestContext:
    """The @context a request uses, and how to name it in the response."""

    ctx: ActiveContext
    reference: Any  # a URL, a list or an object: what the client sent, core last

    @property
    def url(self) -> str:
        """Return the context URL for a Link header (the core context when inline)."""
        ref = self.reference
        if isinstance(ref, list):
            urls = [r for r in ref if isinstance(r, str)]
            return urls[0] if urls else CORE_CONTEXT_URL
        return ref if isinstance(ref, str) else CORE_CONTEXT_URL


def request_context(request: Request, body: Any = None) -> RequestContext:
    """Resolve the request's @context from its Link header or its ld+json body."""
    links = request.headers.getlist("link") or None
    content_type = media_type(request) if body is not None else None
    reference = context_for_request(content_type, links, body)
    ctx = get_resolver(request).resolve(reference)
    link_url = context_from_link_header(links)
    if content_type == LD_JSON and body is not None:
        item = body[0] if isinstance(body, list) and body else body
        ref = item.get("@context") if isinstance(item, dict) else None
        return RequestContext(ctx, ref if ref is not None else CORE_CONTEXT_URL)
    return RequestContext(ctx, link_url or CORE_CONTEXT_URL)


def core_only(request: Request) -> bool:
    """Tell whether a request uses the core @context alone (no Link to another one)."""
    url = context_from_link_header(request.headers.getlist("link") or None)
    return url is None or is_core_context(url)


def expand_attribute(ctx: ActiveContext, term: str) -> str:
    """Expand an attribute name given in a query parameter or a path."""
    return canonical_name(ctx.expand_term(term))


# --- output ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Output:
    """How to write entities back: form, sysAttrs, lang and the client's context."""

    form: str
    sys_attrs: bool
    lang: str | None
    context: RequestContext
    ld_json: bool

    @property
    def ctx(self) -> ActiveContext:
        """Return the active context to compact with."""
        return self.context.ctx


_FORMS: Final = {"keyValues", "concise", "normalized", "simplified"}


def output_options(request: Request, extra: Sequence[str] = ()) -> tuple[str, set[str]]:
    """Return the form asked by ``options``/``format`` and the other options given."""
    params = request.query_params
    options = {o.strip() for o in params.get("options", "").split(",") if o.strip()}
    unknown = options - _FORMS - {"sysAttrs", *extra}
    if unknown:
        raise bad_request(f"options: unknown {', '.join(sorted(unknown))}")
    forms = options & _FORMS
    if params.get("format"):
        forms.add(params["format"])
    forms = {"keyValues" if f == "simplified" else f for f in forms}
    if not forms <= _FORMS:
        raise bad_request(f"format: unknown {', '.join(sorted(forms - _FORMS))}")
    if len(forms) > 1:
        raise bad_request(f"options: {' and '.join(sorted(forms))} exclude each other")
    return next(iter(forms), "normalized"), options - _FORMS


def output(request: Request, extra: Sequence[str] = ()) -> Output:
    """Read the output options of a request (``options``, ``format``, ``lang``, Accept)."""
    form, options = output_options(request, extra)
    accept = request.headers.get("accept", "")
    if accept and not any(t in accept for t in (JSON, LD_JSON, "*/*", "application/*")):
        raise NgsiLdError("NotAcceptable", "Not acceptable", f"can answer {JSON} or {LD_JSON}", 406)
    return Output(
        form=form,
        sys_attrs="sysAttrs" in options,
        lang=request.query_params.get("lang"),
        context=request_context(request),
        ld_json=LD_JSON in accept and JSON not in accept.replace(LD_JSON, ""),
    )


def render(fragment: EntityFragment, out: Output, attrs: set[str] | None = None) -> dict[str, Any]:
    """Render an entity for the client: projected, compacted, in its form."""
    if attrs is not None:
        kept = tuple(a for a in fragment.attributes if a.name in attrs)
        fragment = replace(fragment, attributes=kept)
    body = render_entity(
        fragment, out.form, sys_attrs=out.sys_attrs, lang=out.lang, compact=out.ctx.compact_iri
    )
    if out.ld_json:
        body["@context"] = out.context.reference
    return body


class LdJSONResponse(JSONResponse):
    """JSON rendered by orjson: the same compact text as the standard encoder, faster."""

    def render(self, content: Any) -> bytes:
        """Encode ``content``; what orjson cannot (integers past 64 bits) goes the slow way."""
        try:
            return orjson.dumps(content)
        except orjson.JSONEncodeError:
            return super().render(content)


def respond(
    content: Any,
    out: Output | None,
    links: Sequence[str] = (),
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """Return JSON with the @context Link header (or ld+json with the context inside)."""
    if out is not None and out.ld_json:
        response = LdJSONResponse(content, status_code=status, media_type=LD_JSON)
    else:
        response = LdJSONResponse(content, status_code=status)
        url = out.context.url if out is not None else CORE_CONTEXT_URL
        response.headers.append(
            "Link", f'<{url}>; rel="{JSONLD_CONTEXT_REL}"; type="application/ld+json"'
        )
    for link in links:
        response.headers.append("Link", link)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def no_content() -> Response:
    """Return 204 No Content."""
    return Response(status_code=204)


# --- parameters --------------------------------------------------------------------------------


def split(text: str | None) -> list[str]:
    """Split a comma-separated parameter."""
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def int_param(request: Request, name: str, default: int) -> int:
    """Return an integer query parameter."""
    text = request.query_params.get(name)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise bad_request(f"{name}: {text!r} is not an integer") from None


def flag(request: Request, name: str) -> bool:
    """Return a boolean query parameter (``true``/``false``)."""
    text = request.query_params.get(name, "false").lower()
    if text not in ("true", "false"):
        raise bad_request(f"{name}: must be true or false, not {text!r}")
    return text == "true"


# --- announcing changes ------------------------------------------------------------------------


@dataclass(slots=True)
class Announcements:
    """Changes a write made, announced on the event bus once it has committed."""

    tenant: str
    items: list[ReadingsStored] = field(default_factory=list)

    def add(self, entity_id: str, names: Sequence[str], trigger: str) -> None:
        """Note that an entity changed (attribute names expanded)."""
        stored = frozenset(stored_name(n) for n in names)
        self.items.append(
            ReadingsStored(
                entity_id, stored, utcnow(), len(stored), tenant=self.tenant, trigger=trigger
            )
        )

    def commit(self, db: Session, request: Request) -> None:
        """Commit, then publish every change."""
        db.commit()
        events = ngsi_state(request).events
        for item in self.items:
            events.publish(item)
        self.items.clear()


def announcements(request: Request) -> Announcements:
    """Return a collector of the request's changes."""
    return Announcements(tenant_of(request))


AnnouncementsDep = Annotated[Announcements, Depends(announcements)]


__all__ = [
    "JSON",
    "LD_JSON",
    "MERGE_PATCH",
    "Announcements",
    "AnnouncementsDep",
    "BodyDep",
    "PatchBodyDep",
    "NgsiLdState",
    "OperatorDep",
    "Output",
    "ReadDb",
    "RequestContext",
    "WriteDb",
    "Writer",
    "WriterDep",
    "core_only",
    "current_operator",
    "current_writer",
    "decode_body",
    "database_down",
    "expand_attribute",
    "flag",
    "get_resolver",
    "in_read_session",
    "install_ngsi_ld_handlers",
    "int_param",
    "is_private",
    "ngsi_state",
    "no_content",
    "not_found",
    "output",
    "output_options",
    "problem",
    "read_body",
    "receive_body",
    "render",
    "request_context",
    "respond",
    "split",
    "tenant_of",
]
