from __future__ import annotations

import pytest
from starlette.datastructures import Headers

from threatfeed.accounts import Principal, Role
from threatfeed.accounts.http import rate_limit_key, token_from_headers


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"X-Access-Token": "tf_key"}, "tf_key"),
        ({"authorization": "Bearer tf_key"}, "tf_key"),
        ({"authorization": "bearer   tf_key  "}, "tf_key"),
        ({"x-access-token": "tf_first", "authorization": "Bearer tf_second"}, "tf_first"),
        ({"x-access-token": "  ", "authorization": "Bearer tf_second"}, "tf_second"),
        ({"authorization": "Basic dXNlcjpwYXNz"}, None),
        ({"authorization": "Bearer"}, None),
        ({"authorization": "Bearer "}, None),
        ({}, None),
    ],
)
def test_the_credential_of_a_request(raw: dict[str, str], expected: str | None) -> None:
    assert token_from_headers(Headers(raw)) == expected


def test_rate_limits_follow_the_account_not_the_key() -> None:
    one = Principal(7, "alice", Role.SUBSCRIBER, True, key_id=1)
    other = Principal(7, "alice", Role.SUBSCRIBER, True, key_id=2)
    assert rate_limit_key(one) == rate_limit_key(other)
    assert rate_limit_key(one) != rate_limit_key(Principal(8, "bob", Role.ADMIN, True, 3))
