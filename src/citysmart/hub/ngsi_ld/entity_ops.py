"""NGSI-LD entity writes (clauses 5.6.1-5.6.6, 5.6.17, 5.6.18), shared by single and batch routes.

A write is decided, then stored. Each operation takes the entity as it is stored now
(``current``, loaded by the caller with :func:`load` or ``entity_store.load_entities``, so
a batch loads all its entities in one query), applies one operation of ``model.py`` and
returns a :class:`Written`: the entity before and after, the attribute instances that
changed and those not updated; it raises :class:`NgsiLdError` when the write cannot be
done. :func:`save` stores one write and :func:`save_all` many in a few statements (the
batch fast path). Nothing here commits or speaks HTTP: the route modules turn a
:class:`Written` into a status code and announce :meth:`Written.events` after commit.

Decisions where the specification leaves room:

- Types: create takes the body's types; merge, update and append add the fragment's
  types to the entity's (``add_types``); replace and upsert-replace set them.
- Scope: create, replace, merge, update and append replace the scope when the body has
  one; append with ``noOverwrite`` adds to it; NGSI-LD Null removes it (merge, update).
- A write that touches an entity of a type some service keeps private, or would give an
  entity such a type, is BadRequestData (the type is reserved), whether or not the
  entity exists, so writes never reveal those entities.
- A write that changes nothing (every attribute not updated, no new type or scope)
  stores nothing: modifiedAt stays.
- Partial Attribute Update with a body holding several instances (by datasetId) updates
  each; when any instance is missing it is ResourceNotFound and nothing is written, as
  for a single instance.
- Entity ids must not be ``urn:ngsi-ld:null`` or longer than the store's 256 characters.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Final

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from citysmart.hub.ngsi_ld import entity_store
from citysmart.hub.ngsi_ld.codec import stored_type
from citysmart.hub.ngsi_ld.model import (
    NGSI_LD_NULL,
    AttributeInstance,
    Change,
    Deletion,
    EntityFragment,
    NgsiLdError,
    NotUpdated,
    Outcome,
    add_types,
    append_attributes,
    bad_request,
    merge_attributes,
    merge_scopes,
    replace_entity,
    update_attributes,
)
from citysmart.hub.ngsi_ld.model import delete_attribute as delete_instances
from citysmart.hub.ngsi_ld.model import patch_attribute as patch_instance

MAX_ID_LENGTH: Final = 256
_SCOPE: Final = "scope"


@dataclass(frozen=True, slots=True)
class Rules:
    """What every write of a request shares: its time and the stored types it may not touch."""

    now: dt.datetime
    private_types: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Written:
    """What one write did to one entity (names expanded)."""

    entity_id: str
    before: EntityFragment | None
    after: EntityFragment | None
    changes: tuple[Change, ...] = ()
    not_updated: tuple[NotUpdated, ...] = ()
    stored: bool = True  # False when nothing changed: nothing to store

    @property
    def created(self) -> bool:
        """Tell whether the write created the entity."""
        return self.before is None and self.after is not None

    @property
    def updated(self) -> tuple[str, ...]:
        """Return the names of the attributes that changed, each once."""
        return tuple(dict.fromkeys(c.name for c in self.changes))

    def events(self) -> list[tuple[str, tuple[str, ...]]]:
        """Return the (trigger, attribute names) to announce, one per kind of change."""
        if self.after is None:
            return [("entityDeleted", ())]
        if self.before is None:
            return [("entityCreated", tuple(dict.fromkeys(a.name for a in self.after.attributes)))]
        out = []
        for action in ("created", "updated", "deleted"):
            names = tuple(dict.fromkeys(c.name for c in self.changes if c.action == action))
            if names:
                out.append((f"attribute{action.capitalize()}", names))
        if not out and _entity_members_changed(self.before, self.after):
            out.append(("entityUpdated", ()))
        return out


def already_exists(entity_id: str) -> NgsiLdError:
    """Return an AlreadyExists error."""
    return NgsiLdError("AlreadyExists", None, f"entity {entity_id} already exists")


def missing(entity_id: str) -> NgsiLdError:
    """Return a ResourceNotFound error for an entity."""
    return NgsiLdError("ResourceNotFound", None, f"no entity {entity_id}")


def check_entity_id(entity_id: str) -> str:
    """Refuse an id the store cannot keep (the model checks it is a URI)."""
    if entity_id == NGSI_LD_NULL or len(entity_id) > MAX_ID_LENGTH:
        raise bad_request(f"an entity id must be a URI of at most {MAX_ID_LENGTH} characters")
    return entity_id


def check_same_id(fragment: EntityFragment, entity_id: str) -> None:
    """Refuse a body whose id is not the entity's in the path."""
    if fragment.id is not None and fragment.id != entity_id:
        raise bad_request(f"the body's id {fragment.id} is not the entity's id {entity_id}")


def load(session: Session, entity_id: str) -> EntityFragment | None:
    """Return one entity as stored, locked for the write, or None."""
    return entity_store.load_entities(session, [entity_id], lock=True).get(entity_id)


# --- operations ----------------------------------------------------------------------------


def create(rules: Rules, entity: EntityFragment, exists: bool) -> Written:
    """Create Entity (clause 5.6.1): AlreadyExists when the id is taken."""
    assert entity.id is not None
    check_entity_id(entity.id)
    if exists:
        raise already_exists(entity.id)
    _check_private(rules, entity.types)
    after = _fresh(entity, rules.now)
    changes = tuple(Change(a.name, a.dataset_id, None, a) for a in after.attributes)
    return Written(entity.id, None, after, changes)


def merge(
    rules: Rules,
    entity_id: str,
    current: EntityFragment | None,
    fragment: EntityFragment,
    *,
    lang: str | None = None,
    observed_at: dt.datetime | None = None,
) -> Written:
    """Merge Entity (clause 5.6.17): merge into, append, or delete on NGSI-LD Null."""
    before = _existing(rules, entity_id, current, fragment)
    outcome = merge_attributes(
        before.attributes,
        _patch_items(fragment),
        lang=lang,
        observed_at=observed_at,
        now=rules.now,
    )
    return _decided(rules, before, _after(before, fragment, outcome, True), outcome)


def update(
    rules: Rules,
    entity_id: str,
    current: EntityFragment | None,
    fragment: EntityFragment,
) -> Written:
    """Update Entity Attributes (clause 5.6.2, V1.8): replace or delete existing ones only."""
    before = _existing(rules, entity_id, current, fragment)
    outcome = update_attributes(before.attributes, _patch_items(fragment), now=rules.now)
    return _decided(rules, before, _after(before, fragment, outcome, True), outcome)


def append(
    rules: Rules,
    entity_id: str,
    current: EntityFragment | None,
    fragment: EntityFragment,
    *,
    no_overwrite: bool = False,
) -> Written:
    """Append Entity Attributes (clause 5.6.3): add, and replace unless ``no_overwrite``."""
    before = _existing(rules, entity_id, current, fragment)
    outcome = append_attributes(before.attributes, fragment.attributes, no_overwrite, now=rules.now)
    after = _after(before, fragment, outcome, not no_overwrite)
    return _decided(rules, before, after, outcome)


def replace_all(
    rules: Rules,
    entity_id: str,
    current: EntityFragment | None,
    entity: EntityFragment,
) -> Written:
    """Replace Entity (clause 5.6.18): everything but the id and createdAt is the body's."""
    before = _existing(rules, entity_id, current, entity)
    after, outcome = replace_entity(before, entity, now=rules.now)
    return _decided(rules, before, after, outcome)


def upsert(
    rules: Rules,
    entity: EntityFragment,
    current: EntityFragment | None,
    *,
    replace_existing: bool = True,
) -> Written:
    """Upsert one entity of a batch (clause 5.6.8): create, else replace or append."""
    assert entity.id is not None
    if current is None:
        return create(rules, entity, exists=False)
    if replace_existing:
        return replace_all(rules, entity.id, current, entity)
    return append(rules, entity.id, current, entity)


def patch_attribute(
    rules: Rules,
    entity_id: str,
    current: EntityFragment | None,
    items: Sequence[AttributeInstance | Deletion],
) -> Written:
    """Partial Attribute Update (clause 5.6.4): ResourceNotFound when an instance is missing."""
    before = _existing(rules, entity_id, current, None)
    attributes: Iterable[AttributeInstance] = before.attributes
    changes: list[Change] = []
    for item in items:
        outcome = patch_instance(attributes, item, now=rules.now)
        if outcome.not_updated:
            raise NgsiLdError("ResourceNotFound", None, outcome.not_updated[0].reason)
        attributes = outcome.attributes
        changes.extend(outcome.changes)
    outcome = Outcome(tuple(attributes), tuple(changes))
    return _decided(rules, before, replace(before, attributes=outcome.attributes), outcome)


def delete_attribute(
    rules: Rules,
    entity_id: str,
    current: EntityFragment | None,
    name: str,
    *,
    dataset_id: str | None = None,
    delete_all: bool = False,
) -> Written:
    """Delete Attribute (clause 5.6.5): one instance, or all with ``delete_all``; else 404."""
    before = _existing(rules, entity_id, current, None)
    outcome = delete_instances(before.attributes, name, dataset_id, delete_all)
    if outcome.not_updated:
        raise NgsiLdError("ResourceNotFound", None, outcome.not_updated[0].reason)
    return _decided(rules, before, replace(before, attributes=outcome.attributes), outcome)


def delete(rules: Rules, entity_id: str, current: EntityFragment | None) -> Written:
    """Delete Entity (clause 5.6.6): its attributes go too, its history stays."""
    before = _existing(rules, entity_id, current, None)
    changes = tuple(Change(a.name, a.dataset_id, a, None) for a in before.attributes)
    return Written(entity_id, before, None, changes)


# --- helpers -------------------------------------------------------------------------------


def _check_private(rules: Rules, types: Iterable[str]) -> None:
    for entity_type in types:
        if stored_type(entity_type) in rules.private_types:
            raise bad_request(
                f"entity type {entity_type} is reserved by a service of the hub and cannot "
                "be written over NGSI-LD"
            )


def _existing(
    rules: Rules, entity_id: str, current: EntityFragment | None, body: EntityFragment | None
) -> EntityFragment:
    """Return the stored entity a write changes, checking ids and reserved types."""
    if body is not None:
        check_same_id(body, entity_id)
        _check_private(rules, body.types)
    if current is None:
        raise missing(entity_id)
    _check_private(rules, current.types)
    return current


def _fresh(entity: EntityFragment, now: dt.datetime) -> EntityFragment:
    """Return a new entity with its attributes and itself stamped with ``now``."""
    attributes = append_attributes((), entity.attributes, now=now).attributes
    return replace(entity, attributes=attributes, created_at=now, modified_at=now)


def _patch_items(fragment: EntityFragment) -> list[AttributeInstance | Deletion]:
    """Return a patch body's attributes and deletions, without the scope's."""
    return [*fragment.attributes, *(d for d in fragment.deletions if d.name != _SCOPE)]


def _after(
    before: EntityFragment, fragment: EntityFragment, outcome: Outcome, overwrite_scope: bool
) -> EntityFragment:
    """Return the entity after an attribute operation: types added, scope merged."""
    if any(d.name == _SCOPE for d in fragment.deletions):
        scope = None
    else:
        scope = merge_scopes(before.scope, fragment.scope, overwrite_scope)
    return replace(
        before,
        types=add_types(before.types, fragment.types),
        scope=scope,
        attributes=outcome.attributes,
    )


def _entity_members_changed(before: EntityFragment, after: EntityFragment) -> bool:
    return before.types != after.types or before.scope != after.scope


def _decided(
    rules: Rules, before: EntityFragment, after: EntityFragment, outcome: Outcome
) -> Written:
    """Return what an operation on an existing entity changed (nothing, possibly)."""
    assert before.id is not None
    _check_private(rules, after.types)
    if not outcome.changes and not _entity_members_changed(before, after):
        return Written(before.id, before, before, (), outcome.not_updated, stored=False)
    after = replace(after, modified_at=rules.now)
    return Written(before.id, before, after, outcome.changes, outcome.not_updated)


# --- storing -------------------------------------------------------------------------------


def save(session: Session, written: Written, now: dt.datetime) -> None:
    """Store one write; AlreadyExists if its entity was created meanwhile by someone else."""
    try:
        save_all(session, [written], now)
    except IntegrityError:
        if written.created:
            raise already_exists(written.entity_id) from None
        raise


def save_all(session: Session, writes: Sequence[Written], now: dt.datetime) -> None:
    """Store writes of distinct entities in a few statements."""
    stored = [(w.before, w.after, w.changes) for w in writes if w.stored]
    if stored:
        entity_store.write_entities(session, stored, now)
        session.flush()


__all__ = [
    "Rules",
    "Written",
    "already_exists",
    "append",
    "check_entity_id",
    "check_same_id",
    "create",
    "delete",
    "delete_attribute",
    "load",
    "merge",
    "missing",
    "patch_attribute",
    "replace_all",
    "save",
    "save_all",
    "update",
    "upsert",
]
