from __future__ import annotations

import ast
import itertools

from threatfeed.analysis import python_ast

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


def test_walk_visits_the_nodes_of_ast_walk_in_the_same_order() -> None:
    tree = ast.parse(SOURCE)
    assert python_ast.walk(tree) == list(ast.walk(tree))


def test_walk_with_a_limit_is_the_same_prefix() -> None:
    tree = ast.parse(SOURCE)
    total = len(list(ast.walk(tree)))
    for limit in (1, 2, 7, 40, total - 1, total, total + 5):
        assert python_ast.walk(tree, limit) == list(itertools.islice(ast.walk(tree), limit))


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
    assert python_ast.walk(tree) == list(ast.walk(tree))


def test_children_are_those_of_iter_child_nodes() -> None:
    for node in ast.walk(ast.parse(GRAMMAR)):
        assert python_ast.children(node) == list(ast.iter_child_nodes(node))


def test_suspicious_calls_resolve_aliases_and_hooks() -> None:
    tree = python_ast.parse(SOURCE)
    assert tree is not None
    calls = {(c.name, c.type, c.in_hook) for c in python_ast.suspicious_calls(tree, SOURCE)}
    assert ("subprocess.Popen", "background_process", True) in calls
    assert ("os.system", "process", False) in calls
    assert ("class", "install_command_override", False) in calls
