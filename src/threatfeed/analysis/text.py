"""Small text helpers shared by rules: decoding, line numbers, excerpts, entropy."""

from __future__ import annotations

import math
from collections import Counter

EXCERPT_CHARS = 160


def decode(data: bytes) -> str:
    """Decode leniently: attacker files are often mis-encoded on purpose."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def looks_binary(data: bytes) -> bool:
    """NUL bytes in the first block mean a binary, not text (same test as git and grep)."""
    return b"\x00" in data[:8192]


def line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def excerpt_at(data: bytes, offset: int, length: int = 0) -> str:
    """The line around a match, cut to a readable width centred on the match."""
    start = data.rfind(b"\n", 0, offset) + 1
    end = data.find(b"\n", offset + length)
    if end < 0:
        end = len(data)
    if end - start > EXCERPT_CHARS:
        start = max(start, offset - EXCERPT_CHARS // 3)
        end = min(end, start + EXCERPT_CHARS)
    return shorten(decode(data[start:end]).strip())


def shorten(text: str, limit: int = EXCERPT_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def entropy(data: bytes | str) -> float:
    """Shannon entropy in bits per symbol: packed or encrypted blobs sit near the maximum."""
    if not data:
        return 0.0
    counts = Counter(data)
    total = len(data)
    return -sum(n / total * math.log2(n / total) for n in counts.values())
