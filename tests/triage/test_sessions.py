from __future__ import annotations

import base64
import json

from threatfeed.accounts.bearer import BearerSigner
from threatfeed.triage.sessions import SessionCodec


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_session_round_trips_until_it_expires() -> None:
    clock = Clock()
    codec = SessionCodec("secret", lifetime=60, clock=clock)
    data = codec.new(account_id=7, key_id=3)
    assert codec.decode(codec.encode(data)) == data
    clock.now += 61
    assert codec.decode(codec.encode(data)) is None


def test_forged_tampered_and_malformed_cookies_are_ignored() -> None:
    codec = SessionCodec("secret")
    cookie = codec.encode(codec.new(account_id=7))
    payload, signature = cookie.split(".")
    forged = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged["account_id"] = 1
    tampered = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    assert codec.decode(f"{tampered}.{signature}") is None
    assert SessionCodec("other secret").decode(cookie) is None
    for junk in ("", "x", "a.b.c", "....", "é.é", "x" * 5000):
        assert codec.decode(junk) is None


def test_the_session_key_is_not_the_bearer_key() -> None:
    """A signature made for one purpose never validates for another."""
    codec = SessionCodec("shared secret")
    bearer = BearerSigner("shared secret").issue(1, 2_000_000_000)
    assert codec.decode(bearer) is None


def test_every_session_has_its_own_csrf_token() -> None:
    codec = SessionCodec("secret")
    assert codec.new().csrf != codec.new().csrf
    assert len(codec.new().csrf) >= 32
