"""Short-lived bearer tokens: ``tfb.<payload>.<signature>``, both parts base64url.

The payload is ``{"kid": <api key id>, "exp": <unix seconds>}`` signed with
HMAC-SHA256. A token names the API key it came from instead of the account, so
revoking that key (or disabling its account) kills every token derived from it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json

from threatfeed.accounts.errors import AuthenticationError

BEARER_PREFIX = "tfb."
_CONTEXT = b"threatfeed/bearer/v1"


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def is_bearer(token: str) -> bool:
    return token.startswith(BEARER_PREFIX)


class BearerSigner:
    """Signs and verifies bearer tokens with a key derived from the server secret.

    Deriving a purpose-bound key keeps the same secret usable elsewhere (sessions,
    CSRF) without one kind of signed value ever passing for another.
    """

    def __init__(self, secret: str) -> None:
        self._key = hmac.new(secret.encode(), _CONTEXT, hashlib.sha256).digest()

    def _signature(self, payload: str) -> str:
        signed = (BEARER_PREFIX + payload).encode("ascii")
        return _b64encode(hmac.new(self._key, signed, hashlib.sha256).digest())

    def issue(self, key_id: int, expires_at: int) -> str:
        payload = _b64encode(
            json.dumps({"kid": key_id, "exp": expires_at}, separators=(",", ":")).encode()
        )
        return f"{BEARER_PREFIX}{payload}.{self._signature(payload)}"

    def verify(self, token: str, now: float) -> int:
        """The id of the API key behind a token whose signature holds and which has not expired."""
        parts = token.split(".")
        if not token.isascii() or len(parts) != 3 or parts[0] + "." != BEARER_PREFIX:
            raise AuthenticationError("malformed bearer token")
        _, payload, signature = parts
        if not hmac.compare_digest(signature, self._signature(payload)):
            raise AuthenticationError("invalid bearer token signature")
        try:
            claims = json.loads(_b64decode(payload))
        except (binascii.Error, ValueError):
            raise AuthenticationError("malformed bearer token") from None
        if not isinstance(claims, dict):
            raise AuthenticationError("malformed bearer token")
        key_id, expires_at = claims.get("kid"), claims.get("exp")
        if type(key_id) is not int or type(expires_at) is not int:
            raise AuthenticationError("malformed bearer token")
        if now >= expires_at:
            raise AuthenticationError("bearer token expired")
        return key_id
