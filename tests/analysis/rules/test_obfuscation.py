from __future__ import annotations

import base64
import itertools
import random

from tests.analysis.builders import npm_tarball, run_rule, sdist
from threatfeed.analysis import Engine
from threatfeed.analysis.rules.obfuscation import obfuscated_code_rule


def _mangled_js() -> str:
    rng = random.Random(1)
    names = [f"_0x{rng.randrange(0x10000, 0xFFFFFF):x}" for _ in range(60)]
    return ";".join(f"var {a}={b}+1" for a, b in itertools.pairwise(names)) + ";\n"


def _techniques(evidence: list[dict[str, object]]) -> set[str]:
    return {t for item in evidence for t in item["techniques"]}  # type: ignore[attr-defined]


def test_javascript_obfuscator_mangling(engine: Engine) -> None:
    evidence = run_rule(engine, obfuscated_code_rule, npm_tarball({"index.js": _mangled_js()}))
    assert any("_0x" in t for t in _techniques(evidence))


def test_plain_javascript_is_not_obfuscated(engine: Engine) -> None:
    code = "function add(a, b) {\n  return a + b;\n}\nmodule.exports = add;\n" * 20
    assert run_rule(engine, obfuscated_code_rule, npm_tarball({"index.js": code})) is None


def test_python_long_line_and_encoded_blob(engine: Engine) -> None:
    blob = base64.b64encode(random.Random(2).randbytes(3000)).decode()
    code = f"DATA = '{blob}'\n"
    techniques = _techniques(run_rule(engine, obfuscated_code_rule, sdist({"t/d.py": code})))
    assert {"very long line", "high-entropy encoded blob"} <= techniques


def test_python_exec_alias_and_char_codes(engine: Engine) -> None:
    code = "_a, _b, _c = exec, str, map\nname = ''.join([chr(c) for c in [101, 120, 101, 99]])\n"
    techniques = _techniques(run_rule(engine, obfuscated_code_rule, sdist({"t/o.py": code})))
    assert "renames exec/eval to hide calls to it" in techniques
    assert "builds names from character codes" in techniques


def test_hex_escaped_strings_in_javascript(engine: Engine) -> None:
    hidden = "".join(f"\\x{b:02x}" for b in b"https://x.example.net/collect")
    code = "".join(f"var s{i} = '{hidden}';\n" for i in range(6))
    techniques = _techniques(run_rule(engine, obfuscated_code_rule, npm_tarball({"a.js": code})))
    assert "strings hidden as escape sequences" in techniques


def test_executable_embedded_as_base64(engine: Engine) -> None:
    header = base64.b64encode(b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff").decode()
    code = f"PAYLOAD = '{header}'\n"
    techniques = _techniques(run_rule(engine, obfuscated_code_rule, sdist({"t/p.py": code})))
    assert "embeds an executable encoded as base64" in techniques


def test_code_hidden_past_the_right_margin(engine: Engine) -> None:
    code = "import os\nVERSION = '1.0'" + " " * 300 + "; os.system('id')\n"
    techniques = _techniques(run_rule(engine, obfuscated_code_rule, sdist({"t/v.py": code})))
    assert "code hidden past the right margin" in techniques
    plain = "import os\nVERSION = '1.0'\n"
    assert run_rule(engine, obfuscated_code_rule, sdist({"t/v.py": plain})) is None
