"""Strings a Python file builds from its own literals, worked out without running it.

``__import__("%s%s" % ("sub", "process"))`` and ``getattr(m, "{}{}".format("Po", "pen"))``
name ``subprocess.Popen`` to Python and to nobody reading the call. Folding the few ways
code glues literals together (``+``, ``%s``, ``str.format`` with plain fields, f-strings,
``str.join``, ``[::-1]``, ``chr(n)``) gives back the name; anything else (a call, a
variable assigned twice, a format spec, repetition) is not folded. Hostile input is
bounded: folded strings stay short and folding never evaluates attacker code.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable, Iterator

MAX_FOLDED = 1000
_PERCENT = re.compile(r"%[s%]|%")
_FIELD = re.compile(r"\{(\d*)\}|\{\{|\}\}|[{}]")


#: Statements that bind a name otherwise than ``name = value`` (checked by class: this is
#: asked of every node of a file).
_REBINDING = frozenset({ast.AugAssign, ast.AnnAssign, ast.For, ast.AsyncFor, ast.NamedExpr})


class _Unfoldable(Exception):
    pass


def folded(node: ast.expr, constants: dict[str, str]) -> str | None:
    """The string ``node`` evaluates to, when it is built from literals only."""
    try:
        return _fold(node, constants)
    except (_Unfoldable, RecursionError):
        return None


def constants(nodes: Iterable[ast.AST]) -> dict[str, str]:
    """Names assigned exactly once to a foldable string, in the order they are met (a
    name assigned from earlier ones folds too)."""
    found: dict[str, str] = {}
    ambiguous: set[str] = set()
    for node in nodes:
        if node.__class__ in _REBINDING:
            # a name changed in place, annotated or looped over is not one value
            target = node.target  # type: ignore[attr-defined]
            if isinstance(target, ast.Name):
                ambiguous.add(target.id)
                found.pop(target.id, None)
            continue
        if node.__class__ is not ast.Assign:
            continue
        assert isinstance(node, ast.Assign)
        targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
        if not targets:
            continue
        value = folded(node.value, found)
        for name in targets:
            if name in found or name in ambiguous or value is None:
                ambiguous.add(name)
                found.pop(name, None)
            else:
                found[name] = value
    return found


def _fold(node: ast.expr, known: dict[str, str]) -> str:
    text = _folded(node, known)
    if len(text) > MAX_FOLDED:
        raise _Unfoldable
    return text


def _folded(node: ast.expr, known: dict[str, str]) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name) and node.id in known:
        return known[node.id]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _fold(node.left, known) + _fold(node.right, known)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        right = node.right.elts if isinstance(node.right, ast.Tuple) else [node.right]
        return _percent(_fold(node.left, known), [_fold(v, known) for v in right])
    if isinstance(node, ast.JoinedStr):
        return _joined("", (_formatted(value, known) for value in node.values))
    if isinstance(node, ast.Subscript) and _reverses(node.slice):
        return _fold(node.value, known)[::-1]
    if isinstance(node, ast.Call) and not node.keywords:
        return _called(node, known)
    raise _Unfoldable


def _joined(separator: str, parts: Iterable[str]) -> str:
    """``separator.join(parts)``, given up on as soon as it outgrows ``MAX_FOLDED`` (a
    join of thousands of long names would build megabytes first)."""
    joined: list[str] = []
    size = -len(separator)
    for part in parts:
        size += len(separator) + len(part)
        if size > MAX_FOLDED:
            raise _Unfoldable
        joined.append(part)
    return separator.join(joined)


def _formatted(value: ast.expr, known: dict[str, str]) -> str:
    if isinstance(value, ast.FormattedValue):
        if value.conversion != -1 or value.format_spec is not None:
            raise _Unfoldable
        return _fold(value.value, known)
    return _fold(value, known)


def _reverses(index: ast.expr) -> bool:
    return (
        isinstance(index, ast.Slice)
        and index.lower is None
        and index.upper is None
        and isinstance(index.step, ast.UnaryOp)
        and isinstance(index.step.op, ast.USub)
        and isinstance(index.step.operand, ast.Constant)
        and index.step.operand.value == 1
    )


def _called(node: ast.Call, known: dict[str, str]) -> str:
    func = node.func
    if isinstance(func, ast.Name) and func.id == "chr" and len(node.args) == 1:
        code = node.args[0]
        if (
            isinstance(code, ast.Constant)
            and isinstance(code.value, int)
            and 0 < code.value < 0x110000
        ):
            return chr(code.value)
    if isinstance(func, ast.Attribute) and func.attr == "join" and len(node.args) == 1:
        parts = node.args[0]
        if isinstance(parts, ast.List | ast.Tuple):
            return _joined(_fold(func.value, known), (_fold(part, known) for part in parts.elts))
    if isinstance(func, ast.Attribute) and func.attr == "format":
        return _format(_fold(func.value, known), [_fold(a, known) for a in node.args])
    raise _Unfoldable


def _percent(template: str, values: list[str]) -> str:
    """``template % values`` for ``%s`` and ``%%`` only (no widths: ``%999999999s``)."""
    remaining = iter(values)

    def substitute(match: re.Match[str]) -> str:
        if match.group() == "%%":
            return "%"
        if match.group() == "%s":
            return _next(remaining)
        raise _Unfoldable

    text = _bounded(_PERCENT, substitute, template)
    if next(remaining, None) is not None:
        raise _Unfoldable
    return text


def _format(template: str, values: list[str]) -> str:
    """``template.format(*values)`` for plain fields (``{}``, ``{0}``) only."""
    automatic = iter(values)

    def substitute(match: re.Match[str]) -> str:
        if match.group() in ("{{", "}}"):
            return match.group()[0]
        if match.group() in ("{", "}"):
            raise _Unfoldable
        index = match.group(1)
        if not index:
            return _next(automatic)
        if int(index) >= len(values):
            raise _Unfoldable
        return values[int(index)]

    return _bounded(_FIELD, substitute, template)


def _bounded(
    pattern: re.Pattern[str], substitute: Callable[[re.Match[str]], str], template: str
) -> str:
    """``pattern.sub(substitute, template)``, given up on past ``MAX_FOLDED`` characters."""
    parts: list[str] = []
    position = 0
    for match in pattern.finditer(template):
        parts += (template[position : match.start()], substitute(match))
        position = match.end()
    parts.append(template[position:])
    return _joined("", parts)


def _next(values: Iterator[str]) -> str:
    value = next(values, None)
    if value is None:
        raise _Unfoldable
    return value
