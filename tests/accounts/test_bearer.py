from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from threatfeed.accounts.bearer import BearerSigner, is_bearer
from threatfeed.accounts.errors import AuthenticationError

NOW = 1_700_000_000


def _reason(signer: BearerSigner, token: str, now: float = NOW) -> str:
    with pytest.raises(AuthenticationError) as caught:
        signer.verify(token, now)
    return caught.value.reason


def _forge(payload: object, signature: str = "AAAA") -> str:
    encoded = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    return f"tfb.{encoded}.{signature}"


def test_a_token_verifies_until_its_expiry_second() -> None:
    signer = BearerSigner("secret")
    token = signer.issue(42, NOW + 10)

    assert is_bearer(token)
    assert signer.verify(token, NOW) == 42
    assert signer.verify(token, NOW + 9.999) == 42
    assert _reason(signer, token, NOW + 10) == "bearer token expired"


def test_the_payload_is_readable_but_not_forgeable() -> None:
    signer = BearerSigner("secret")
    token = signer.issue(42, NOW + 10)
    _, payload, signature = token.split(".")
    padded = payload + "=" * (-len(payload) % 4)
    assert json.loads(base64.urlsafe_b64decode(padded)) == {"kid": 42, "exp": NOW + 10}

    longer = _forge({"kid": 42, "exp": NOW + 10**6}, signature)
    other_key = _forge({"kid": 1, "exp": NOW + 10}, signature)
    assert _reason(signer, longer) == "invalid bearer token signature"
    assert _reason(signer, other_key) == "invalid bearer token signature"
    assert _reason(BearerSigner("other secret"), token) == "invalid bearer token signature"


@pytest.mark.parametrize(
    "claims",
    [[42, NOW + 10], {"kid": "42", "exp": NOW + 10}, {"kid": 42}, {"kid": True, "exp": NOW + 10}],
)
def test_signed_but_ill_formed_claims_are_refused(claims: object) -> None:
    signer = BearerSigner("secret")
    payload = _forge(claims).split(".")[1]
    signature = signer._signature(payload)

    assert _reason(signer, f"tfb.{payload}.{signature}") == "malformed bearer token"


@pytest.mark.parametrize("token", ["tfb.", "tfb.a.b.c", "tfb..", "xyz.a.b", "tfb.\u00e9.x"])
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(AuthenticationError):
        BearerSigner("secret").verify(token, NOW)


@given(st.text(max_size=200))
def test_any_input_is_either_refused_or_a_token_we_issued(token: str) -> None:
    with pytest.raises(AuthenticationError):
        BearerSigner("secret").verify("tfb." + token, NOW)
