from __future__ import annotations

import json

import pytest

from threatfeed.analysis.manifest_json import MAX_DEPTH, loads


def test_ordinary_json_reads_as_json_does() -> None:
    text = json.dumps({"name": "x", "scripts": {"postinstall": "node a.js"}, "l": [[1], {}]})
    assert loads(text) == json.loads(text)


def test_values_nested_past_the_parser_read_as_null_and_their_siblings_stay() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    text = '{"a": ' + deep + ', "scripts": {"postinstall": "node a.js"}, "b": ' + deep + "}"
    assert loads(text) == {"a": _nested(), "scripts": {"postinstall": "node a.js"}, "b": _nested()}


def _nested() -> object:
    """What is left of the arrays under the top object: down to ``MAX_DEPTH``, then null."""
    value: object = None
    for _ in range(MAX_DEPTH - 1):
        value = [value]
    return value


def test_brackets_and_escaped_quotes_inside_strings_do_not_nest() -> None:
    noise = '"[[{{\\"]]"'
    deep = "[" * 5000 + noise + "]" * 5000
    assert loads('{"k": ' + noise + ', "d": ' + deep + "}")["k"] == '[[{{"]]'


@pytest.mark.parametrize("text", ["[" * 100_000, '{"a": ' + "[" * 100_000 + '"open', "[]]]]"])
def test_broken_deep_json_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        loads(text)
