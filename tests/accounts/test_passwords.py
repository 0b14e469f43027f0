from __future__ import annotations

import pytest

from threatfeed.accounts import InvalidInput, passwords


def test_a_hash_verifies_its_password_only() -> None:
    stored = passwords.hash_password("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert passwords.verify(stored, "correct horse battery")
    assert not passwords.verify(stored, "correct horse battery ")
    assert passwords.upgraded(stored, "correct horse battery") is None


def test_no_hash_never_verifies() -> None:
    assert not passwords.verify(None, "threatfeed: no such account")
    assert not passwords.verify("not a hash", "anything at all")


def test_the_policy_bounds_the_length() -> None:
    with pytest.raises(InvalidInput):
        passwords.hash_password("x" * (passwords.MIN_LENGTH - 1))
    with pytest.raises(InvalidInput):
        passwords.hash_password("x" * (passwords.MAX_LENGTH + 1))
    assert not passwords.verify(passwords.hash_password("x" * 12), "x" * 2000)


def test_weaker_parameters_ask_for_a_rehash() -> None:
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=8192).hash("short")
    assert passwords.verify(weak, "short")
    better = passwords.upgraded(weak, "short")  # even below today's minimum length
    assert better is not None
    assert passwords.verify(better, "short")
    assert passwords.upgraded(better, "short") is None
