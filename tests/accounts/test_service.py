from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select, text

from threatfeed.accounts import AccountService, AuthenticationError, InvalidInput, Role
from threatfeed.config import Settings
from threatfeed.errors import Conflict, NotFound
from threatfeed.store import Database
from threatfeed.store.models import ApiKey

if TYPE_CHECKING:
    from tests.accounts.conftest import Clock


def _reason(service: AccountService, token: str) -> str:
    with pytest.raises(AuthenticationError) as caught:
        service.authenticate(token)
    return caught.value.reason


def test_a_new_key_authenticates_as_its_account(service: AccountService) -> None:
    principal, key = service.add("alice", "researcher")

    assert key.startswith("tf_")
    assert len(key) >= 40
    assert principal.name == "alice"
    assert principal.role is Role.RESEARCHER
    assert principal.subscribed
    assert service.authenticate(key) == principal


def test_the_database_holds_the_hash_of_a_key_never_the_key(
    service: AccountService, database: Database
) -> None:
    _, key = service.add("alice", "subscriber")

    with database.session() as session:
        stored = session.scalars(select(ApiKey)).one()
        dump = repr(session.execute(text("select * from api_keys")).all())
        dump += repr(session.execute(text("select * from accounts")).all())
    assert key not in dump
    assert key[len(stored.prefix) :] not in dump
    assert key.startswith(stored.prefix)
    assert len(stored.key_hash) == 64


def test_account_names_are_unique_and_validated(service: AccountService) -> None:
    service.add("alice", "subscriber")
    with pytest.raises(Conflict, match="already exists"):
        service.add("alice", "admin")
    with pytest.raises(InvalidInput, match="account name"):
        service.add("bad name\n", "subscriber")
    with pytest.raises(InvalidInput, match="unknown role"):
        service.add("bob", "root")
    assert [account.name for account in service.list()] == ["alice"]


def test_unknown_and_malformed_tokens_are_refused(service: AccountService) -> None:
    service.add("alice", "subscriber")

    assert _reason(service, "tf_" + "A" * 43) == "unknown API key"
    assert _reason(service, "not-a-token") == "malformed token"
    assert _reason(service, "") == "malformed token"
    assert _reason(service, "tf_" + "A" * 600) == "malformed token"
    assert _reason(service, "tf_\u00e9t\u00e9") == "malformed token"


def test_revoking_one_key_by_prefix_leaves_the_others(service: AccountService) -> None:
    service.add("alice", "subscriber")
    second = service.new_key("alice")
    third = service.new_key("alice")

    assert service.revoke_key(second[:11]) == "alice"

    assert _reason(service, second) == "API key revoked"
    assert service.authenticate(third).name == "alice"
    with pytest.raises(NotFound):
        service.revoke_key(second[:11])


def test_revoking_an_account_s_keys_revokes_all_of_them(service: AccountService) -> None:
    _, first = service.add("alice", "subscriber")
    second = service.new_key("alice")
    _, other = service.add("bob", "subscriber")

    assert service.revoke_keys("alice") == 2
    assert service.revoke_keys("alice") == 0

    assert _reason(service, first) == "API key revoked"
    assert _reason(service, second) == "API key revoked"
    assert service.authenticate(other).name == "bob"
    [alice, _] = service.list()
    assert alice.active_keys == ()
    assert len(alice.keys) == 2


def test_a_disabled_account_authenticates_nowhere(service: AccountService) -> None:
    principal, key = service.add("alice", "admin")
    bearer, _ = service.issue_bearer(principal)
    service.set_password("alice", "correct horse battery")

    service.disable("alice")

    assert _reason(service, key) == "account disabled"
    assert _reason(service, bearer) == "account disabled"
    with pytest.raises(AuthenticationError):
        service.verify_password("alice", "correct horse battery")
    with pytest.raises(Conflict, match="disabled"):
        service.new_key("alice")
    assert service.list()[0].disabled_at is not None


def test_the_subscription_is_a_switch_independent_of_the_role(service: AccountService) -> None:
    principal, key = service.add("root", "admin", subscribed=False)
    assert not principal.can_read_feed
    assert principal.can_admin

    service.set_subscription("root", True)
    assert service.authenticate(key).can_read_feed
    service.set_subscription("root", False)
    assert not service.authenticate(key).can_read_feed


@pytest.mark.parametrize(
    "operation",
    [
        lambda s: s.new_key("ghost"),
        lambda s: s.revoke_keys("ghost"),
        lambda s: s.disable("ghost"),
        lambda s: s.set_subscription("ghost", True),
        lambda s: s.set_password("ghost", "long enough password"),
    ],
)
def test_operations_on_an_unknown_account_say_so(service: AccountService, operation) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotFound, match="ghost"):
        operation(service)


def test_a_bearer_token_stands_for_its_api_key_until_it_expires(
    service: AccountService, clock: Clock
) -> None:
    principal, _ = service.add("alice", "subscriber")
    bearer, expires_at = service.issue_bearer(principal)

    assert bearer.startswith("tfb.")
    assert expires_at.timestamp() == int(clock.now) + 60
    assert service.authenticate(bearer) == principal

    clock.advance(59)
    assert service.authenticate(bearer) == principal
    clock.advance(1)
    assert _reason(service, bearer) == "bearer token expired"


def test_a_tampered_bearer_token_is_refused(service: AccountService) -> None:
    alice, _ = service.add("alice", "subscriber")
    bob, _ = service.add("bob", "admin")
    alice_token, _ = service.issue_bearer(alice)
    bob_token, _ = service.issue_bearer(bob)

    prefix, payload, signature = alice_token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    bob_payload = bob_token.split(".")[1]

    assert _reason(service, f"{prefix}.{payload}.{flipped}") == "invalid bearer token signature"
    assert _reason(service, f"{prefix}.{bob_payload}.{signature}") == (
        "invalid bearer token signature"
    )


def test_a_bearer_token_from_another_server_secret_is_refused(
    service: AccountService, database: Database, settings: Settings
) -> None:
    principal, _ = service.add("alice", "subscriber")
    other = AccountService(database, dataclasses.replace(settings, secret_key="another"))
    token, _ = other.issue_bearer(principal)

    assert _reason(service, token) == "invalid bearer token signature"


def test_revoking_the_key_kills_its_bearer_tokens(service: AccountService) -> None:
    principal, _ = service.add("alice", "subscriber")
    other_key = service.new_key("alice")
    bearer, _ = service.issue_bearer(principal)

    service.revoke_key(service.list()[0].keys[0].prefix)

    assert _reason(service, bearer) == "API key revoked"
    assert service.authenticate(other_key).name == "alice"


def test_bearer_tokens_derive_only_from_api_keys(service: AccountService) -> None:
    service.add("alice", "researcher")
    service.set_password("alice", "correct horse battery")
    principal = service.verify_password("alice", "correct horse battery")

    assert principal.key_id is None
    with pytest.raises(AuthenticationError, match="API key"):
        service.issue_bearer(principal)


def test_cached_principals_see_another_process_s_revocation_within_the_ttl(
    database: Database, settings: Settings, clock: Clock
) -> None:
    server = AccountService(database, settings, cache_ttl=5, clock=clock)
    operator = AccountService(database, settings, cache_ttl=0, clock=clock)  # e.g. the CLI
    principal, key = operator.add("alice", "subscriber")
    bearer, _ = server.issue_bearer(principal)
    assert server.authenticate(key) == principal
    assert server.authenticate(bearer) == principal

    operator.revoke_keys("alice")

    clock.advance(4.9)
    assert server.authenticate(key) == principal  # still cached: this is what the TTL bounds
    clock.advance(0.1)
    assert _reason(server, key) == "API key revoked"
    assert _reason(server, bearer) == "API key revoked"


def test_the_cache_alone_answers_only_for_tokens_it_has_seen(
    database: Database, settings: Settings, clock: Clock
) -> None:
    server = AccountService(database, settings, cache_ttl=5, clock=clock)
    principal, key = server.add("alice", "subscriber")
    bearer, _ = server.issue_bearer(principal)
    assert server.authenticate_cached(key) is None
    assert server.authenticate_cached(bearer) is None
    assert server.authenticate(key) == principal
    assert server.authenticate_cached(key) == principal
    assert server.authenticate_cached(bearer) is None  # cached under its key id on first use
    assert server.authenticate(bearer) == principal
    assert server.authenticate_cached(bearer) == principal
    clock.advance(5)
    assert server.authenticate_cached(key) is None
    with pytest.raises(AuthenticationError):
        server.authenticate_cached("not-a-token")


def test_revocations_through_the_same_service_apply_at_once(
    database: Database, settings: Settings, clock: Clock
) -> None:
    server = AccountService(database, settings, cache_ttl=60, clock=clock)
    _, key = server.add("alice", "subscriber")
    assert server.authenticate(key).subscribed

    server.set_subscription("alice", False)
    assert not server.authenticate(key).subscribed
    server.disable("alice")
    assert _reason(server, key) == "account disabled"


def test_passwords_verify_and_are_stored_hashed(
    service: AccountService, database: Database
) -> None:
    service.add("alice", "researcher")
    service.set_password("alice", "correct horse battery")

    principal = service.verify_password("alice", "correct horse battery")
    assert principal.name == "alice"
    assert principal.can_triage
    with pytest.raises(AuthenticationError, match="wrong password"):
        service.verify_password("alice", "correct horse batterY")
    with pytest.raises(AuthenticationError, match="wrong password"):
        service.verify_password("nobody", "correct horse battery")
    with pytest.raises(InvalidInput, match="at least"):
        service.set_password("alice", "short")
    with database.session() as session:
        stored = session.execute(text("select password_hash from accounts")).scalar_one()
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    assert service.list()[0].has_password


def test_an_account_without_a_password_cannot_log_in_with_one(service: AccountService) -> None:
    service.add("alice", "researcher")
    with pytest.raises(AuthenticationError):
        service.verify_password("alice", "")
    with pytest.raises(AuthenticationError):
        service.verify_password("alice", "threatfeed: no such account")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # timing is not about the DB
def test_an_unknown_name_costs_about_as_much_as_a_wrong_password(
    service: AccountService,
) -> None:
    service.add("alice", "researcher")
    service.set_password("alice", "correct horse battery")

    def fastest(name: str) -> float:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            with pytest.raises(AuthenticationError):
                service.verify_password(name, "wrong password here")
            times.append(time.perf_counter() - start)
        return min(times)

    known, unknown = fastest("alice"), fastest("nobody")
    assert unknown > known / 3, (known, unknown)


def test_listing_shows_roles_keys_and_no_secret(service: AccountService) -> None:
    _, key = service.add("bob", "subscriber")
    service.add("alice", "admin", subscribed=False)

    accounts = service.list()

    assert [(a.name, a.role, a.subscribed) for a in accounts] == [
        ("alice", Role.ADMIN, False),
        ("bob", Role.SUBSCRIBER, True),
    ]
    assert accounts[1].keys[0].prefix == key[:11]
    assert key not in repr(accounts)


def test_a_login_upgrades_a_hash_made_with_weaker_parameters(
    service: AccountService, database: Database
) -> None:
    from argon2 import PasswordHasher

    service.add("alice", "researcher")
    weak = PasswordHasher(time_cost=1, memory_cost=8192).hash("old pw")  # an older policy
    with database.session() as session:
        session.execute(text("update accounts set password_hash = :h"), {"h": weak})

    service.verify_password("alice", "old pw")

    with database.session() as session:
        stored = session.execute(text("select password_hash from accounts")).scalar_one()
    assert stored != weak
    assert not PasswordHasher().check_needs_rehash(stored)
    assert service.verify_password("alice", "old pw").name == "alice"
