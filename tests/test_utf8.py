from __future__ import annotations

from threatfeed.utf8 import encodable


def test_encodable_keeps_a_lone_surrogate_as_its_escape_and_the_rest_as_it_is() -> None:
    evidence = {"a\ud800": [{"code": "x\udfff\u00e9", "n": 3}, ("\ud83d",), "plain"]}
    assert encodable(evidence) == {
        "a\\ud800": [{"code": "x\\udfff\u00e9", "n": 3}, ("\\ud83d",), "plain"]
    }
    valid = {"k": ["caf\u00e9", "\U0001f600", 1.5, None]}
    assert encodable(valid) == valid
