"""Browser sessions of the triage UI: a signed, expiring cookie, with the CSRF token inside.

The cookie holds only ids, the CSRF token, an expiry and a one-shot message; it
is signed (HMAC-SHA256) with a key derived from ``Settings.secret_key`` for this
one purpose, so a bearer token's signature can never pass for a session and
back. The account is looked up again on every request (see ``views``), so
disabling an account, changing its role or revoking the API key it logged in
with takes effect at once; so do logging out and a password change, which end
every session of the account begun before them (``Account.sessions_valid_from``).

Cookie flags: ``HttpOnly``, ``SameSite=Strict``, ``Path=/triage``, and ``Secure``
except for plain ``http`` to a loopback host (local use and the tests): a browser
refuses Secure cookies over plain http elsewhere, so the UI must be served over
https (behind a proxy: uvicorn's ``--proxy-headers`` and ``X-Forwarded-Proto``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

from starlette.requests import Request
from starlette.responses import Response

COOKIE = "tf_triage"
PATH = "/triage"
LIFETIME = 8 * 3600
"""An absolute lifetime: a researcher logs in again after a working day."""
MAX_FLASH = 300
_PURPOSE = b"threatfeed triage session cookie v1"
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


@dataclass(frozen=True)
class SessionData:
    csrf: str
    expires: int
    issued: float = 0.0
    """When the session began (seconds since the epoch), to compare with the account's
    ``sessions_valid_from``."""
    account_id: int | None = None
    key_id: int | None = None
    """The API key the researcher logged in with (None after a password login)."""
    flash: str | None = None
    flash_error: bool = False

    def with_flash(self, message: str | None, error: bool = False) -> SessionData:
        if message is not None and len(message) > MAX_FLASH:
            message = message[:MAX_FLASH] + " …"
        return replace(self, flash=message, flash_error=error)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionCodec:
    def __init__(
        self, secret_key: str, lifetime: int = LIFETIME, clock: Callable[[], float] = time.time
    ) -> None:
        self._key = hmac.new(secret_key.encode(), _PURPOSE, hashlib.sha256).digest()
        self._lifetime = lifetime
        self._clock = clock

    def new(self, account_id: int | None = None, key_id: int | None = None) -> SessionData:
        """A fresh session with a fresh CSRF token (login rotates both: no fixation)."""
        now = self._clock()
        return SessionData(
            secrets.token_urlsafe(32), int(now) + self._lifetime, now, account_id, key_id
        )

    def encode(self, data: SessionData) -> str:
        payload = _b64(json.dumps(asdict(data), separators=(",", ":")).encode())
        return f"{payload}.{self._sign(payload)}"

    def decode(self, value: str | None) -> SessionData | None:
        """The session, or None if the cookie is missing, forged, malformed or expired."""
        if not value or len(value) > 4096 or not value.isascii() or value.count(".") != 1:
            return None
        payload, signature = value.split(".")
        if not hmac.compare_digest(self._sign(payload), signature):
            return None
        try:
            data = SessionData(**json.loads(_unb64(payload)))
        except (ValueError, TypeError, binascii.Error):
            return None
        if data.expires <= self._clock():
            return None
        return data

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())

    def load(self, request: Request) -> SessionData | None:
        return self.decode(request.cookies.get(COOKIE))

    def store(self, request: Request, response: Response, data: SessionData) -> None:
        response.set_cookie(
            COOKIE,
            self.encode(data),
            max_age=max(0, data.expires - int(self._clock())),
            path=PATH,
            secure=needs_secure(request),
            httponly=True,
            samesite="strict",
        )

    def clear(self, request: Request, response: Response) -> None:
        response.delete_cookie(
            COOKIE, path=PATH, secure=needs_secure(request), httponly=True, samesite="strict"
        )


def needs_secure(request: Request) -> bool:
    """Secure, unless plain http to a loopback host (where browsers allow it for development)."""
    return request.url.scheme != "http" or request.url.hostname not in _LOOPBACK
