"""Roles and what each one may do: a role grants itself and the roles it includes."""

from __future__ import annotations

CITIZEN, RESIDENT, MODERATOR = "citizen", "resident", "moderator"
OPERATOR, ADMIN = "operator", "admin"

# Core roles, from least to most trusted. Services add their own with ``add_role``.
# "resident" is a citizen whose residence was verified; what only verified residents may do
# (support, vote, sign up for trials) checks the verification itself (``Principal.verified``),
# so a moderator or operator who was never verified does not gain it through their role.
_INCLUDES: dict[str, set[str]] = {
    CITIZEN: set(),
    RESIDENT: {CITIZEN},
    MODERATOR: {RESIDENT, CITIZEN},
    OPERATOR: {MODERATOR, RESIDENT, CITIZEN},
    ADMIN: {OPERATOR, MODERATOR, RESIDENT, CITIZEN},
}


def add_role(role: str, includes: set[str] | None = None) -> None:
    """Declare a role a service needs; admins hold every role."""
    _INCLUDES.setdefault(role, set()).update(includes or {CITIZEN})
    _INCLUDES[ADMIN].add(role)


def known_roles() -> list[str]:
    """Return every declared role."""
    return sorted(_INCLUDES)


def grants(held: str, needed: str) -> bool:
    """Whether a user holding ``held`` may do what needs ``needed``."""
    if held == needed:
        return True
    seen: set[str] = set()
    todo = [held]
    while todo:
        role = todo.pop()
        if role in seen:
            continue
        seen.add(role)
        included = _INCLUDES.get(role, set())
        if needed in included:
            return True
        todo.extend(included)
    return False
