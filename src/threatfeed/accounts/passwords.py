"""Passwords of researchers and admins for the triage UI, hashed with argon2id.

A failed lookup still pays for one argon2 verification against a fixed dummy
hash, so response time does not tell an attacker which account names exist.
"""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from threatfeed.accounts.errors import InvalidInput

MIN_LENGTH = 12
MAX_LENGTH = 1024
"""Beyond this a password is a denial-of-service payload, not a secret."""

_hasher = PasswordHasher()


def check_policy(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise InvalidInput(f"a password has at most {MAX_LENGTH} characters")


def hash_password(password: str) -> str:
    check_policy(password)
    return _hasher.hash(password)


@cache
def _dummy_hash() -> str:
    return _hasher.hash("threatfeed: no such account")


def verify(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; a missing hash costs the same time and never matches."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def upgraded(password_hash: str, password: str) -> str | None:
    """A new hash of a just-verified password if ``password_hash`` used weaker parameters.

    The policy is not applied: a password set under an older policy still logs in.
    """
    return _hasher.hash(password) if _hasher.check_needs_rehash(password_hash) else None
