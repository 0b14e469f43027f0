from __future__ import annotations

import json

from threatfeed.triage.display import clip, evidence, excerpt, reveal


def test_bidi_zero_width_and_control_characters_become_visible() -> None:
    assert reveal("invoice\u202efdp.exe") == "invoice⟦U+202E⟧fdp.exe"
    assert reveal("a\u200bb\u2066c\x1b[31md\ufeff") == "a⟦U+200B⟧b⟦U+2066⟧c⟦U+001B⟧[31md⟦U+FEFF⟧"
    assert reveal("tab\tand\nnewline stay") == "tab\tand\nnewline stay"


def test_a_ten_megabyte_line_is_cut_on_the_server() -> None:
    line = "x" * (10 * 1024 * 1024)
    shown = clip(line)
    assert len(shown) < 500
    assert shown.endswith(f"[{len(line) - 400:,} more characters]")
    assert len(excerpt(line + "\nnext")) < 20_000


def test_excerpts_keep_lines_and_cap_their_number() -> None:
    text = "\n".join(f"line {n}" for n in range(100))
    shown = excerpt(text, max_lines=5)
    assert shown.splitlines() == [*(f"line {n}" for n in range(5)), "… [excerpt cut]"]


def test_evidence_is_bounded_json() -> None:
    value = {"rule": ["y" * 1000, *(str(n) for n in range(200))], "deep": [[[[[[[[1]]]]]]]]}
    shown = evidence(value)
    assert "more characters]" in shown
    assert "[151 more items]" in shown
    assert "nested too deep" in shown
    assert json.loads(evidence({"a": [1, "b"]})) == {"a": [1, "b"]}
