"""Accounts, their API keys and passwords, and authentication of every request.

Authentication is on the hot path of the feed: an API key costs one SHA-256 and
one indexed lookup, and successful lookups are cached for ``cache_ttl`` seconds
(so a revocation made by another process, such as the CLI, takes effect within
that time; revocations made through this object take effect at once).
"""

from __future__ import annotations

import builtins
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Executable, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from threatfeed import errors
from threatfeed.accounts import passwords
from threatfeed.accounts.bearer import BearerSigner, is_bearer
from threatfeed.accounts.cache import TTLCache
from threatfeed.accounts.errors import AuthenticationError, InvalidInput
from threatfeed.accounts.keys import API_KEY_PREFIX, display_prefix, hash_api_key, new_api_key
from threatfeed.accounts.principal import Principal, Role
from threatfeed.config import Settings
from threatfeed.store import Database
from threatfeed.store.models import Account, ApiKey, utcnow

MAX_TOKEN_LENGTH = 512
"""Longer than any token we issue; longer input is rejected before any work."""

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}")

_KEY_AND_ACCOUNT = select(
    ApiKey.id,
    ApiKey.revoked_at,
    Account.id,
    Account.name,
    Account.role,
    Account.subscribed,
    Account.disabled_at,
).join_from(ApiKey, Account)
_KEY_BY_HASH = _KEY_AND_ACCOUNT.where(ApiKey.key_hash == bindparam("value"))
_KEY_BY_ID = _KEY_AND_ACCOUNT.where(ApiKey.id == bindparam("value"))


@dataclass(frozen=True, slots=True)
class KeyInfo:
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class AccountInfo:
    name: str
    role: Role
    subscribed: bool
    has_password: bool
    created_at: datetime
    disabled_at: datetime | None
    keys: tuple[KeyInfo, ...]

    @property
    def active_keys(self) -> tuple[KeyInfo, ...]:
        return tuple(key for key in self.keys if key.revoked_at is None)


def _role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        choices = ", ".join(r.value for r in Role)
        raise InvalidInput(f"unknown role {role!r} (choose one of: {choices})") from None


def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise InvalidInput(
            f"invalid account name {name!r}: 1 to 128 letters, digits or ._@+- "
            "starting with a letter or digit"
        )


def _principal(account: Account, key_id: int | None) -> Principal:
    return Principal(account.id, account.name, Role(account.role), account.subscribed, key_id)


class AccountService:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        cache_ttl: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = database
        self._signer = BearerSigner(settings.secret_key)
        self._bearer_ttl = int(settings.bearer_ttl_seconds)
        self._clock = clock
        self._cache: TTLCache[str, Principal] = TTLCache(cache_ttl, clock)

    @property
    def bearer_ttl(self) -> int:
        """Seconds a bearer token lives, the ``expires_in`` of the token endpoint."""
        return self._bearer_ttl

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    # -- management ---------------------------------------------------------------------------

    def add(self, name: str, role: str, *, subscribed: bool = True) -> tuple[Principal, str]:
        """Creates an account with its first API key, returned once and never stored."""
        _check_name(name)
        parsed_role = _role(role)
        try:
            with self._db.session() as session:
                if session.scalar(select(Account.id).where(Account.name == name)) is not None:
                    raise errors.Conflict(f"account {name!r} already exists")
                account = Account(
                    name=name,
                    role=parsed_role.value,
                    subscribed=subscribed,
                    created_at=self._now(),
                )
                session.add(account)
                session.flush()
                key, key_id = self._store_new_key(session, account.id)
        except IntegrityError:  # created concurrently between the check and the insert
            raise errors.Conflict(f"account {name!r} already exists") from None
        return _principal(account, key_id), key

    def new_key(self, name: str) -> str:
        """Adds an API key to an account; older keys stay valid until revoked."""
        with self._db.session() as session:
            account = self._account(session, name)
            if account.disabled_at is not None:
                raise errors.Conflict(f"account {name!r} is disabled")
            key, _ = self._store_new_key(session, account.id)
        return key

    def revoke_keys(self, name: str) -> int:
        """Revokes every active key of an account; returns how many were active."""
        with self._db.session() as session:
            account = self._account(session, name)
            active = session.scalars(
                select(ApiKey).where(ApiKey.account_id == account.id, ApiKey.revoked_at.is_(None))
            ).all()
            for key in active:
                key.revoked_at = self._now()
        self._cache.clear()
        return len(active)

    def revoke_key(self, prefix: str) -> str:
        """Revokes the one active key shown as ``prefix``; returns its account's name."""
        with self._db.session() as session:
            rows = session.execute(
                select(ApiKey, Account.name)
                .join(Account)
                .where(ApiKey.prefix == display_prefix(prefix), ApiKey.revoked_at.is_(None))
            ).all()
            if not rows:
                raise errors.NotFound(f"no active API key with prefix {prefix!r}")
            if len(rows) > 1:
                raise errors.Conflict(
                    f"{len(rows)} active keys share prefix {prefix!r}; revoke by account name"
                )
            key, name = rows[0]
            key.revoked_at = self._now()
        self._cache.clear()
        return str(name)

    def disable(self, name: str) -> None:
        """Stops an account from authenticating anywhere; its keys and verdicts are kept."""
        with self._db.session() as session:
            account = self._account(session, name)
            if account.disabled_at is None:
                account.disabled_at = self._now()
        self._cache.clear()

    def set_subscription(self, name: str, subscribed: bool) -> None:
        with self._db.session() as session:
            self._account(session, name).subscribed = subscribed
        self._cache.clear()

    def set_password(self, name: str, password: str) -> None:
        password_hash = passwords.hash_password(password)  # slow: outside the transaction
        with self._db.session() as session:
            account = self._account(session, name)
            account.password_hash = password_hash
            account.sessions_valid_from = utcnow()

    def list(self) -> builtins.list[AccountInfo]:
        with self._db.session() as session:
            accounts = session.scalars(select(Account).order_by(Account.name)).all()
            keys: dict[int, builtins.list[KeyInfo]] = {}
            for key in session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)):
                keys.setdefault(key.account_id, []).append(
                    KeyInfo(key.prefix, key.created_at, key.revoked_at)
                )
        return [
            AccountInfo(
                name=account.name,
                role=Role(account.role),
                subscribed=account.subscribed,
                has_password=account.password_hash is not None,
                created_at=account.created_at,
                disabled_at=account.disabled_at,
                keys=tuple(keys.get(account.id, ())),
            )
            for account in accounts
        ]

    # -- authentication -----------------------------------------------------------------------

    def authenticate(self, token: str) -> Principal:
        """The account behind an API key or a bearer token, or AuthenticationError."""
        cache_key, statement, value = self._identify(token)
        return self._cache.get(cache_key) or self._lookup(cache_key, statement, value)

    def authenticate_cached(self, token: str) -> Principal | None:
        """``authenticate`` without touching the database: None when the answer is not cached.

        For callers on an event loop, which then ask ``authenticate`` in a thread. A
        malformed, forged or expired token is refused here already.
        """
        return self._cache.get(self._identify(token)[0])

    def _identify(self, token: str) -> tuple[str, Executable, str | int]:
        """The cache key of a token, and the statement and value that look it up."""
        if len(token) > MAX_TOKEN_LENGTH or not token.isascii():
            raise AuthenticationError("malformed token")
        if is_bearer(token):
            key_id = self._signer.verify(token, self._clock())
            return f"kid:{key_id}", _KEY_BY_ID, key_id
        if token.startswith(API_KEY_PREFIX):
            digest = hash_api_key(token)
            return digest, _KEY_BY_HASH, digest
        raise AuthenticationError("malformed token")

    def issue_bearer(self, principal: Principal) -> tuple[str, datetime]:
        """A signed token standing for ``principal``'s API key until it expires."""
        if principal.key_id is None:
            raise AuthenticationError("a bearer token can only be derived from an API key")
        expires_at = int(self._clock()) + self._bearer_ttl
        return self._signer.issue(principal.key_id, expires_at), datetime.fromtimestamp(
            expires_at, UTC
        )

    def verify_password(self, name: str, password: str) -> Principal:
        with self._db.session() as session:
            account = session.scalar(select(Account).where(Account.name == name))
        matches = passwords.verify(account.password_hash if account else None, password)
        if not matches or account is None or account.disabled_at is not None:
            raise AuthenticationError("unknown account or wrong password")
        if account.password_hash and (
            better := passwords.upgraded(account.password_hash, password)
        ):
            with self._db.session() as session:
                self._account(session, name).password_hash = better
        return _principal(account, None)

    # -- internals ----------------------------------------------------------------------------

    def _lookup(self, cache_key: str, statement: Executable, value: str | int) -> Principal:
        with self._db.engine.connect() as connection:
            row: Any = connection.execute(statement, {"value": value}).one_or_none()
        if row is None:
            raise AuthenticationError("unknown API key")
        key_id, revoked_at, account_id, name, role, subscribed, disabled_at = row
        if revoked_at is not None:
            raise AuthenticationError("API key revoked")
        if disabled_at is not None:
            raise AuthenticationError("account disabled")
        principal = Principal(account_id, name, Role(role), subscribed, key_id)
        self._cache.put(cache_key, principal)
        return principal

    def _account(self, session: Session, name: str) -> Account:
        account = session.scalar(select(Account).where(Account.name == name))
        if account is None:
            raise errors.NotFound(f"no account named {name!r}")
        return account

    def _store_new_key(self, session: Session, account_id: int) -> tuple[str, int]:
        key = new_api_key()
        row = ApiKey(
            account_id=account_id,
            key_hash=hash_api_key(key),
            prefix=display_prefix(key),
            created_at=self._now(),
        )
        session.add(row)
        session.flush()
        return key, row.id
