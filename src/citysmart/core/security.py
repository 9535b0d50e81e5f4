"""Password hashing (argon2) and random secrets stored as digests."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """Hash a password with argon2id."""
    if len(password) < 8:
        raise ValueError("a password needs at least 8 characters")
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check a password against its argon2 hash; a missing hash never matches."""
    if not password_hash:
        # Spend the same time as a real check so that unknown users cannot be told apart.
        _hasher.hash(password)
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def digest_secret(secret: str) -> str:
    """Return the SHA-256 hex digest under which a random key or token is stored.

    Keys and tokens are 256-bit random values, so a fast digest is safe (nothing to guess);
    passwords, chosen by people, get argon2 instead.
    """
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret(kind: str) -> tuple[str, str, str]:
    """Return a new secret ``<kind>_<random>``, its digest and a short prefix to show."""
    secret = f"{kind}_{secrets.token_urlsafe(32)}"
    return secret, digest_secret(secret), secret[: len(kind) + 7]


def same_digest(a: str, b: str) -> bool:
    """Compare two digests in constant time."""
    return hmac.compare_digest(a, b)
