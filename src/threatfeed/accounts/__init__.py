"""Accounts, roles, API keys, bearer tokens, passwords and rate limits.

The HTTP routes live in ``threatfeed.accounts.views`` (imported by the app only).
"""

from threatfeed.accounts.errors import AuthenticationError, InvalidInput
from threatfeed.accounts.http import rate_limit_key, token_from_headers
from threatfeed.accounts.principal import Principal, Role
from threatfeed.accounts.ratelimit import RateLimiter
from threatfeed.accounts.service import AccountInfo, AccountService, KeyInfo

__all__ = [
    "AccountInfo",
    "AccountService",
    "AuthenticationError",
    "InvalidInput",
    "KeyInfo",
    "Principal",
    "RateLimiter",
    "Role",
    "rate_limit_key",
    "token_from_headers",
]
