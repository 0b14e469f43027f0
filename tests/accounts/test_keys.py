from __future__ import annotations

import hashlib

from threatfeed.accounts.keys import display_prefix, hash_api_key, new_api_key


def test_keys_are_long_random_url_safe_strings() -> None:
    keys = {new_api_key() for _ in range(1000)}
    assert len(keys) == 1000
    for key in keys:
        assert key.startswith("tf_")
        assert len(key) == 3 + 43
        assert key[3:].replace("-", "").replace("_", "").isalnum()
    assert len({display_prefix(key) for key in keys}) == 1000


def test_the_stored_form_is_the_sha256_and_a_short_prefix() -> None:
    key = new_api_key()
    assert hash_api_key(key) == hashlib.sha256(key.encode()).hexdigest()
    assert display_prefix(key) == key[:11]
