"""The provider's RS256 signing keys: made on first use, stored in the database, rotatable."""

from __future__ import annotations

import threading
from typing import Any

from joserfc.jwk import KeyParameters, RSAKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from citysmart.core import audit
from citysmart.portal.oidc.models import OidcKey

ALG = "RS256"
KEY_BITS = 2048
# After a rotation the previous key stays published, so ID tokens it signed (valid an hour)
# still verify; older keys are dropped.
KEEP = 2
_PARAMS: KeyParameters = {"use": "sig", "alg": ALG}
_parsed: dict[str, RSAKey] = {}
_lock = threading.Lock()


def _load(row: OidcKey) -> RSAKey:
    """Return the parsed key of a row (parsing a PEM is slow enough to keep the result)."""
    with _lock:
        key = _parsed.get(row.kid)
        if key is None:
            key = RSAKey.import_key(row.private_pem, parameters={**_PARAMS, "kid": row.kid})
            _parsed[row.kid] = key
        return key


def _newest(session: Session) -> list[OidcKey]:
    return list(session.scalars(select(OidcKey).order_by(OidcKey.id.desc())).all())


def create_key(session: Session, actor: str = "system") -> OidcKey:
    """Generate a new key pair and store it; it signs from now on."""
    key = RSAKey.generate_key(KEY_BITS, parameters=_PARAMS.copy(), private=True, auto_kid=True)
    pem = key.as_pem(private=True)
    row = OidcKey(kid=key.kid or key.thumbprint(), private_pem=pem.decode("ascii"))
    session.add(row)
    session.flush()
    audit.record(session, actor, "oidc.key_created", row.kid)
    return row


def signing_key(session: Session) -> RSAKey:
    """Return the newest key, making the first one when there is none."""
    rows = _newest(session)
    row = rows[0] if rows else create_key(session)
    return _load(row)


def public_jwks(session: Session) -> dict[str, Any]:
    """Return the JSON Web Key Set of the published public keys."""
    rows = _newest(session) or [create_key(session)]
    return {"keys": [_load(row).as_dict(private=False) for row in rows]}


def rotate(session: Session, actor: str = "cli") -> str:
    """Make a new signing key, keep the previous one published, drop older ones."""
    row = create_key(session, actor)
    for old in _newest(session)[KEEP:]:
        audit.record(session, actor, "oidc.key_dropped", old.kid)
        session.delete(old)
    return row.kid
