from __future__ import annotations

import ast
import itertools
from collections.abc import Iterable

import pytest

from threatfeed.analysis import memo, python_ast

SOURCE = b"""
import subprocess as sp
from os import system
from setuptools.command.install import install


class Install(install):
    def run(self):
        sp.Popen(["sh", "-c", "id"], creationflags=8)


system("echo " + str([x for x in range(3)]))


def helper(a, *b, c=1, **d):
    lambda y: y
    return {k: v for k, v in d.items() if k}
"""


LEAVES = (ast.expr_context, ast.operator, ast.boolop, ast.unaryop, ast.cmpop)


def _without_leaves(nodes: Iterable[ast.AST]) -> list[ast.AST]:
    return [node for node in nodes if not isinstance(node, LEAVES)]


def test_walk_visits_the_nodes_of_ast_walk_in_the_same_order_but_the_leaves() -> None:
    tree = ast.parse(SOURCE)
    assert python_ast.walk(tree) == _without_leaves(ast.walk(tree))


def test_walk_with_a_limit_is_the_same_prefix_counting_the_leaves() -> None:
    tree = ast.parse(SOURCE)
    total = len(list(ast.walk(tree)))
    for limit in range(total + 5):
        prefix = list(itertools.islice(ast.walk(tree), limit))
        assert python_ast.walk(tree, limit) == _without_leaves(prefix)


def test_nodes_are_cut_at_max_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    tree = ast.parse(SOURCE)
    total = len(list(ast.walk(tree)))
    for limit, cut in ((total + 1, False), (total, True)):
        monkeypatch.setattr(python_ast, "MAX_NODES", limit)
        memo.forget()
        assert python_ast.nodes_cut(tree) is cut
        assert python_ast.nodes(tree) == tuple(python_ast.walk(tree, limit))
    memo.forget()


#: Every kind of field: optional ones left empty, lists with None in them (``**`` in a
#: dict display, a keyword-only argument without default), names only (``global``).
GRAMMAR = b"""
@decorator(1)
async def f(a: int, /, b=2, *args: str, c, d=3, **kw) -> None:
    global g
    x = {**kw, "k": [*args], 1: (yield)}
    async with open(a) as h, lock:
        y: list[int] = x[1:2, ::3]
    async for i in range(3):
        print(f"{i!r:>{b}} {c=}")
    try:
        del y
    except (ValueError, TypeError) as e:
        raise RuntimeError() from e
    else:
        pass
    finally:
        nonlocal_ = lambda *, z=None: z
    match x:
        case {"k": [1, *rest]} | Point(x=0, y=_) if rest:
            return await g
        case str() as s:
            assert s, "no"
    while not (a is b or -a < b <= c):
        break
    return (i async for i in aiter() if i), {i for i in ()}, x if a else ...
"""


def test_walk_visits_every_kind_of_field_as_ast_walk_does() -> None:
    tree = ast.parse(GRAMMAR)
    assert python_ast.walk(tree) == _without_leaves(ast.walk(tree))


def test_expanders_add_the_children_of_iter_child_nodes_and_count_the_leaves() -> None:
    for node in ast.walk(ast.parse(GRAMMAR)):
        children: list[ast.AST] = []
        leaves = python_ast.EXPANDERS[node.__class__](node, children.append, children.extend)
        expected = list(ast.iter_child_nodes(node))
        assert children == _without_leaves(expected)
        assert leaves == len(expected) - len(children)


def test_suspicious_calls_resolve_aliases_and_hooks() -> None:
    tree = python_ast.parse(SOURCE)
    assert tree is not None
    calls = {(c.name, c.type, c.in_hook) for c in python_ast.suspicious_calls(tree, SOURCE)}
    assert ("subprocess.Popen", "background_process", True) in calls
    assert ("os.system", "process", False) in calls
    assert ("class", "install_command_override", False) in calls


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        ("sp()", "subprocess"),
        ("sp.Popen()", "subprocess.Popen"),
        ("os.path.join()", "os.path.join"),
        ("sp.a.b.c()", "subprocess.a.b.c"),
        ("__import__('os').system()", "os.system"),
        ("__import__('os').path.join()", "os.path.join"),
        ("f()()", None),
        ("x[0].y()", None),
    ],
)
def test_resolve_names_calls_through_aliases(call: str, expected: str | None) -> None:
    node = ast.parse(call, mode="eval").body
    assert isinstance(node, ast.Call)
    assert python_ast.resolve(node.func, {"sp": "subprocess"}) == expected


#: Sources with no call that ``call_type`` types, and with one spelled in other ways.
UNTYPED = b"from setuptools import setup\nimport os\nsetup(name=os.path.basename('x'))\n"
TYPED = [
    b"import os\nos.system('id')\n",
    b"import os\nos.execv('/bin/sh', ['sh'])\n",
    b"from http import client\nclient.HTTPSConnection('x.example.net')\n",
    # fullwidth letters: the parser reads os.system (NFKC)
    "import \uff4f\uff53\n\uff4f\uff53.\uff53\uff59\uff53\uff54\uff45\uff4d('id')\n".encode(),
    b"__import__('o' 's').system('id')\n",
    b"from setuptools.command.install import install as i\nclass C(i): pass\n",
    b"exec(compile(x, 'f', 'exec'))\n",
]


def test_may_call_typed_is_false_only_for_files_whose_calls_are_untyped() -> None:
    assert not python_ast.may_call_typed(UNTYPED)
    for source in TYPED:
        tree = python_ast.parse(source)
        assert tree is not None
        assert python_ast.suspicious_calls(tree, source), source
        assert python_ast.may_call_typed(source), source


def test_may_call_typed_is_true_when_the_parser_may_read_other_characters() -> None:
    latin = b"# -*- coding: latin-1 -*-\n" + UNTYPED
    assert python_ast.may_call_typed(latin)
    assert not python_ast.may_call_typed(b"# -*- coding: utf-8 -*-\n" + UNTYPED)
    assert python_ast.may_call_typed(b"\xef\xbb\xbf" + UNTYPED)
    assert python_ast.may_call_typed(UNTYPED + b"# \xff\n")


@pytest.mark.parametrize("chunk", [1, 2, 7, 40])
def test_walk_in_chunks_cuts_where_ast_walk_reaches_the_limit(
    monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(python_ast, "_CHUNK", chunk)
    tree = ast.parse(SOURCE)
    total = len(list(ast.walk(tree)))
    for limit in [None, *range(total + 5)]:
        prefix = list(itertools.islice(ast.walk(tree), limit))
        expected = _without_leaves(prefix), limit is not None and total >= limit
        assert python_ast._walk(tree, limit) == expected
