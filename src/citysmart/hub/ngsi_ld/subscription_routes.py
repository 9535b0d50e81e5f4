"""NGSI-LD subscription routes (clause 5.8): create, query, retrieve, update, delete.

A subscription is kept expanded with the @context it was made with, in the database of
the request's tenant (``NGSILD-Tenant``); see ``subscription_store``. Matching and
sending happen in the notifier, never in these routes. Decisions:

- Every subscription route needs an operator: a subscription's ``receiverInfo`` may carry
  a receiver's credentials, so reading subscriptions is not public either.
- A read is compacted with the request's @context when it sends one (``Link``), else with
  the @context the subscription was made with, which the response then names. In a list
  without ``Link`` whose subscriptions were made with different contexts, each item
  carries its own ``@context`` and the ``Link`` header names the core context.
- An update's names are expanded with the update's @context; a PATCH that names a context
  (``Link`` or an ld+json ``@context``) also makes it the subscription's context for
  notifications, one that names none keeps the old one.
- ``limit`` defaults to 20 and is at most the API's maximum; ``count=true`` gives
  ``NGSILD-Results-Count``; a ``Link rel="next"`` points to the next page.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Final

from fastapi import APIRouter, Request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse, Response

from citysmart.core.time import utcnow
from citysmart.hub.ngsi_ld.context import CORE_CONTEXT_URL, ContextError
from citysmart.hub.ngsi_ld.http import (
    BodyDep,
    OperatorDep,
    Output,
    PatchBodyDep,
    ReadDb,
    RequestContext,
    WriteDb,
    expand_attribute,
    flag,
    int_param,
    ngsi_state,
    no_content,
    not_found,
    output,
    request_context,
    respond,
    tenant_of,
)
from citysmart.hub.ngsi_ld.model import NgsiLdError, bad_request
from citysmart.hub.ngsi_ld.notifier import Notifier
from citysmart.hub.ngsi_ld.subscription_store import (
    StoredSubscription,
    fill_row,
    from_row,
    new_row,
    page,
)
from citysmart.hub.ngsi_ld.subscriptions import (
    apply_update,
    parse_subscription,
    parse_update,
    render_subscription,
)
from citysmart.hub.ngsi_ld.tables import SubscriptionRow

logger = logging.getLogger(__name__)
router = APIRouter()

DEFAULT_LIMIT: Final = 20


def _notifier(request: Request) -> Notifier | None:
    """Return the runtime's notifier, given the app's resolver, or None."""
    runtime = getattr(request.app.state, "runtime", None)
    notifier = getattr(runtime, "notifier", None)
    if not isinstance(notifier, Notifier):
        return None
    notifier.bind(ngsi_state(request))
    return notifier


def _changed(request: Request) -> None:
    """Tell the notifier that the tenant's subscriptions changed."""
    notifier = _notifier(request)
    if notifier is not None:
        notifier.invalidate(tenant_of(request))


def _expanders(rc: RequestContext) -> dict[str, Any]:
    return {
        "expand_term": lambda t: expand_attribute(rc.ctx, t),
        "expand_type": rc.ctx.expand_type,
    }


def _names_context(request: Request, body: Any) -> bool:
    """Tell whether a request names an @context (Link header or ld+json body)."""
    has_link = bool(request.headers.getlist("link"))
    return has_link or (isinstance(body, dict) and "@context" in body)


def _existing(db: Session, subscription_id: str) -> SubscriptionRow:
    row = db.get(SubscriptionRow, subscription_id)
    if row is None:
        raise not_found(f"no subscription {subscription_id}")
    return row


@router.post("/subscriptions", status_code=201, summary="Create a subscription (NGSI-LD)")
def create_subscription(
    request: Request, writer: OperatorDep, body: BodyDep, db: WriteDb
) -> Response:
    """Validate and store a subscription; 201 with its Location."""
    rc = request_context(request, body)
    sub = parse_subscription(body, now=utcnow(), **_expanders(rc))
    if db.get(SubscriptionRow, sub.id) is not None:
        raise NgsiLdError("AlreadyExists", None, f"a subscription {sub.id} exists already")
    db.add(new_row(sub, rc.reference))
    try:
        db.commit()
    except IntegrityError:
        raise NgsiLdError(
            "AlreadyExists", None, f"a subscription {sub.id} exists already"
        ) from None
    _changed(request)
    logger.info("%s created subscription %s", writer.actor, sub.id)
    return Response(status_code=201, headers={"Location": f"{request.url.path}/{sub.id}"})


@router.get("/subscriptions", summary="Query subscriptions (NGSI-LD)")
def query_subscriptions(request: Request, writer: OperatorDep, db: ReadDb) -> JSONResponse:
    """Return a page of subscriptions."""
    out = output(request)
    limit = int_param(request, "limit", DEFAULT_LIMIT)
    offset = int_param(request, "offset", 0)
    max_limit = ngsi_state(request).max_limit
    if not 0 <= limit <= max_limit:
        raise bad_request(f"limit: must be between 0 and {max_limit}, not {limit}")
    if offset < 0:
        raise bad_request(f"offset: must not be negative, not {offset}")
    rows, total = page(db, limit, offset)
    subs = [from_row(r) for r in rows]
    body, out = _render_list(request, subs, out)
    links = []
    if limit and offset + limit < total:
        nxt = request.url.include_query_params(offset=offset + limit, limit=limit)
        links.append(f'<{nxt.path}?{nxt.query}>; rel="next"')
    response = respond(body, out, links)
    if flag(request, "count"):
        response.headers["NGSILD-Results-Count"] = str(total)
    return response


@router.get("/subscriptions/{subscription_id:path}", summary="Retrieve a subscription (NGSI-LD)")
def retrieve_subscription(
    subscription_id: str, request: Request, writer: OperatorDep, db: ReadDb
) -> JSONResponse:
    """Return one subscription."""
    out = output(request)
    stored = from_row(_existing(db, subscription_id))
    out = _output_for(request, out, stored.context)
    return respond(_render(stored, out), out)


@router.patch(
    "/subscriptions/{subscription_id:path}",
    status_code=204,
    summary="Update a subscription (NGSI-LD)",
)
def update_subscription(
    subscription_id: str, request: Request, writer: OperatorDep, body: PatchBodyDep, db: ReadDb
) -> Response:
    """Apply a fragment to a subscription; 204."""
    rc = request_context(request, body)
    now = utcnow()
    fragment = parse_update(body, now=now, **_expanders(rc))
    row = _existing(db, subscription_id)
    stored = from_row(row)
    sub = apply_update(stored.sub, fragment, now)
    context = rc.reference if _names_context(request, body) else stored.context
    fill_row(row, sub, context)
    db.commit()
    _changed(request)
    return no_content()


@router.delete(
    "/subscriptions/{subscription_id:path}",
    status_code=204,
    summary="Delete a subscription (NGSI-LD)",
)
def delete_subscription(
    subscription_id: str, request: Request, writer: OperatorDep, db: ReadDb
) -> Response:
    """Delete a subscription and its pending notifications; 204."""
    db.delete(_existing(db, subscription_id))
    db.commit()
    _changed(request)
    return no_content()


# --- output --------------------------------------------------------------------------------


def _stored_context(request: Request, reference: Any) -> RequestContext:
    """Resolve the context a subscription was made with (the core one if unavailable)."""
    resolver = ngsi_state(request).resolver
    reference = reference if reference is not None else CORE_CONTEXT_URL
    try:
        return RequestContext(resolver.resolve(reference), reference)
    except ContextError as exc:
        logger.warning("rendering a subscription with the core @context: %s", exc)
        return RequestContext(resolver.core, CORE_CONTEXT_URL)


def _output_for(request: Request, out: Output, reference: Any) -> Output:
    """Return the output options with the context a subscription is compacted with."""
    if request.headers.getlist("link"):
        return out
    return replace(out, context=_stored_context(request, reference))


def _render(stored: StoredSubscription, out: Output) -> dict[str, Any]:
    ctx = out.ctx
    body = render_subscription(
        stored.sub, ctx.compact_iri, ctx.compact_type, utcnow(), sys_attrs=out.sys_attrs
    )
    if out.ld_json:
        body["@context"] = out.context.reference
    return body


def _render_list(
    request: Request, subs: list[StoredSubscription], out: Output
) -> tuple[list[dict[str, Any]], Output]:
    """Render a page; return the output options naming the context of the response."""
    if request.headers.getlist("link"):
        return [_render(s, out) for s in subs], out
    references = {repr(s.context): s.context for s in subs}
    if len(references) <= 1:
        shared = _output_for(request, out, next(iter(references.values()), None))
        return [_render(s, shared) for s in subs], shared
    body = []
    for stored in subs:
        own = _output_for(request, out, stored.context)
        item = _render(stored, own)
        item["@context"] = own.context.reference
        body.append(item)
    return body, out


__all__ = ["router"]
