"""Where HTTP requests carry credentials, shared by every route that authenticates."""

from __future__ import annotations

from collections.abc import Mapping

from threatfeed.accounts.principal import Principal


def token_from_headers(headers: Mapping[str, str]) -> str | None:
    """The credential of a request: ``x-access-token`` first, then ``Authorization: Bearer``.

    ``headers`` must look names up case-insensitively (Starlette's ``Headers``)
    or have lower-case keys.
    """
    if token := headers.get("x-access-token", "").strip():
        return token
    scheme, _, credential = headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer" and (credential := credential.strip()):
        return credential
    return None


def rate_limit_key(principal: Principal) -> str:
    """Limits apply per account, so minting more keys does not buy more requests."""
    return f"account:{principal.account_id}"
