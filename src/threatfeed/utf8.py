"""Strings that every UTF-8 writer takes, from values that attackers shaped.

Python decodes the escapes of a JSON document or a Python literal into any code point,
a lone surrogate (``"\\ud800"``) included, and no UTF-8 encoder takes one: not a
database column, a JSON body, a page or a report. Values read from outside keep such a
code point as its escape instead, visible and harmless.
"""

from __future__ import annotations

from typing import TypeVar, cast

T = TypeVar("T")


def encodable(value: T) -> T:
    """``value`` (strings, and lists, tuples and dicts of them) with every lone surrogate
    in its strings, keys included, written as its escape; anything else as it is."""
    if isinstance(value, str):
        if value.isascii():
            return value
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return cast(T, value.encode("utf-8", "backslashreplace").decode("utf-8"))
        return value
    if isinstance(value, dict):
        return cast(T, {encodable(key): encodable(item) for key, item in value.items()})
    if isinstance(value, list):
        return cast(T, [encodable(item) for item in value])
    if isinstance(value, tuple):
        return cast(T, tuple(encodable(item) for item in value))
    return value
