"""The package's own code that ``setup.py`` runs during ``pip install``: functions it imports
from the package it installs and calls, followed through the package's modules."""

from __future__ import annotations

import ast
import posixpath
import re
from collections.abc import Iterable

from threatfeed.analysis import python_ast
from threatfeed.analysis.calls import Call
from threatfeed.analysis.memo import per_archive
from threatfeed.analysis.model import Indicator, Signal
from threatfeed.analysis.package import Package, SourceFile
from threatfeed.analysis.rules.base import indicator
from threatfeed.analysis.text import excerpt_at, line_of, line_start_matches, shorten

#: Calls that reach the network, and what they run or read next to it.
_SENDS = frozenset({"network", "download"})
_ACTS = frozenset(
    {
        "process",
        "background_process",
        "launches_payload",
        "code_execution",
        "remote_code_execution",
        "decoded_code_execution",
        "hidden_code",
        "recon",
        "environment",
    }
)
#: As much as an install-time beacon or dropper written in ``setup.py`` itself.
INSTALL_REACH_WEIGHT = 10.0
SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
_SCOPE_CLASSES = frozenset(SCOPES)
#: Expressions with nothing under them but leaves: names and constants.
_COUNTED_ONLY = {
    kind: size for kind, size in python_ast.SIZES.items() if issubclass(kind, ast.expr)
}
_Functions = dict[str, tuple[SourceFile, ast.FunctionDef | ast.AsyncFunctionDef]]


def _parses(source: SourceFile) -> bool:
    """Whether ``_tree`` can give a tree: Python that imports, not too large to parse."""
    return (
        source.kind == "python"
        and len(source.data) <= python_ast.MAX_PARSE_BYTES
        and b"import" in source.data
    )


def _tree(source: SourceFile) -> ast.Module | None:
    return python_ast.parsed(source.data) if _parses(source) else None


@per_archive(maxsize=256)
def _aliases(source: SourceFile) -> dict[str, str]:
    tree = _tree(source)
    return python_ast.aliases(python_ast.calls_and_imports(tree)) if tree else {}


def reached(
    roots: Iterable[tuple[SourceFile, ast.AST]], functions: _Functions
) -> list[tuple[SourceFile, ast.AST]]:
    """Nodes executed from ``roots``: their statements, and the bodies of the functions
    they name (called, or handed to ``Thread(target=f)``), transitively. Nested function
    and class bodies run only when called, so they are entered through their names.
    Names, constants and leaves (``Load``, operators), most of the nodes, are left out,
    but count towards ``MAX_NODES``."""
    queue = list(roots)
    seen: set[str] = set()
    found: list[tuple[SourceFile, ast.AST]] = []
    counted = 0
    children: list[ast.AST] = []
    add, add_all = children.append, children.extend
    while queue and counted < python_ast.MAX_NODES:
        source, root = queue.pop()
        stack = [root]
        while stack:
            node = stack.pop()
            found.append((source, node))
            children.clear()
            counted += 1 + python_ast.EXPANDERS[node.__class__](node, add, add_all)
            for child in children:
                kind = child.__class__  # the parser makes no subclasses
                if (
                    isinstance(child, ast.Name)
                    and (name := child.id) in functions
                    and name not in seen
                ):
                    seen.add(name)
                    owner, function = functions[name]
                    queue.extend((owner, statement) for statement in function.body)
                if kind in _COUNTED_ONLY:
                    counted += _COUNTED_ONLY[kind]
                elif kind not in _SCOPE_CLASSES:
                    stack.append(child)
    return found


def module_functions(sources: Iterable[SourceFile]) -> _Functions:
    """Module-level functions of these files, by name."""
    found: _Functions = {}
    for source in sources:
        tree = _tree(source)
        for node in tree.body if tree else ():
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found.setdefault(node.name, (source, node))
    return found


def _calls(reached: list[tuple[SourceFile, ast.AST]]) -> tuple[tuple[str, Call], ...]:
    """The suspicious calls among reached nodes (with the file each is in), resolved with
    their own file's imports."""
    calls = []
    lines: dict[str, list[bytes]] = {}
    for source, node in reached:
        if not isinstance(node, ast.Call):
            continue
        aliases = _aliases(source)
        name = python_ast.resolve(node.func, aliases)
        kind = python_ast.call_type(name, node, aliases) if name else None
        if name and kind:
            text = lines.setdefault(source.path, source.data.split(b"\n"))
            code = shorten(python_ast.segment(text, node), python_ast.MAX_CODE)
            calls.append((source.path, Call(name, kind, node.lineno, code)))
    return tuple(sorted(calls, key=lambda found: (found[0], found[1].line)))


def _signed(
    reached: list[tuple[SourceFile, ast.AST]], capability: str, *, anywhere: bool = False
) -> list[tuple[str, Call]]:
    """Signatures of ``capability`` on the lines of reached statements (``anywhere``: in
    the modules they are in), as calls of that type. Persistence (a LaunchAgent, a Run
    key, a crontab line) makes the package start with the machine from ``pip install``,
    whether or not it sends anything; harvesting (credential files, keys, token stores,
    often listed in a module-level constant) feeds what the reached code sends."""
    sources = {source.path: source for source, _ in reached}
    signed = {
        path: (source, set[int]())
        for path, source in sources.items()
        if any(hit.capability == capability for hit in source.signatures)
    }
    if not signed:
        return []  # most packages: no such signature anywhere it reaches
    if not anywhere:  # the lines of reached statements, where the signatures must sit
        for source, node in reached:
            if source.path in signed and isinstance(node, ast.stmt) and node.end_lineno:
                signed[source.path][1].update(range(node.lineno, node.end_lineno + 1))
    found = []
    for source, covered in signed.values():
        for hit in source.signatures:
            if hit.capability != capability:
                continue
            for offset, length in hit.offsets:
                line = line_of(source.data, offset)
                if anywhere or line in covered:
                    code = excerpt_at(source.data, offset, length)
                    found.append((source.path, Call(hit.rule, capability, line, code)))
                    break
    return found[:3]


def _sends_and_acts(
    calls: tuple[tuple[str, Call], ...], harvests: list[tuple[str, Call]]
) -> list[tuple[str, Call]]:
    """The calls shown as evidence when some reach the network and others act (or collect
    secrets), else none."""
    sends = [found for found in calls if found[1].type in _SENDS]
    acts = [found for found in calls if found[1].type in _ACTS] + harvests
    if not sends or not acts:
        return []
    return sorted({*sends[:3], *acts[:3]}, key=lambda found: (found[0], found[1].line))


def _evidence(source: SourceFile, shown: list[tuple[str, Call]]) -> dict[str, object]:
    calls = [{"file": path, "code": call.code, "type": call.type} for path, call in shown]
    return {"file": source.path, "calls": calls}


def _signal(source: SourceFile, shown: list[tuple[str, Call]], weight: float, key: str) -> Signal:
    """At the first network call (or persistence) when it is in this file, else about the
    file as a whole."""
    path, call = next(found for found in shown if found[1].type in _SENDS | {"persistence"})
    line, excerpt = (
        (call.line, call.code) if path == source.path else (None, f"{path}: {call.code}")
    )
    return Signal(source.path, line, excerpt, weight, source.context, frozenset(), key)


def _local_modules(package: Package, module: str) -> list[SourceFile]:
    """Files of the archive a ``setup.py`` import names: ``pkg``, ``pkg.mod``, also under
    ``src/``."""
    path = module.replace(".", "/")
    wanted = {f"{path}.py", f"{path}/__init__.py", f"src/{path}.py", f"src/{path}/__init__.py"}
    return [source for source in package.files if source.rel in wanted]


#: Their own sdists (and packages vendoring them) hold the ``setup()`` that setup.py calls.
_BUILD_TOOLS = frozenset({"setuptools", "distutils", "pkg_resources"})
#: ``from X import`` at the start of a line (see ``line_start_matches``).
_FROM_IMPORT = re.compile(rb"from\s+([A-Za-z_][\w.]*)\s+import\b")


def _names_own_module(package: Package, data: bytes) -> bool:
    """``from X import ...`` in ``setup.py`` where ``X`` is a folder or module of the archive."""
    tops = {
        source.rel.removeprefix("src/").split("/")[0].removesuffix(".py")
        for source in package.files
        if source.kind == "python"
    }
    return any(
        match.group(1).split(b".")[0].decode() in tops
        for match in line_start_matches(_FROM_IMPORT, data)
    )


def setup_runs_package_code_rule(package: Package) -> Indicator | None:
    """``setup.py`` imports the package it installs and calls into it, and the code it
    reaches there (through the package's own functions, in any of its modules) sends
    over the network *and* runs commands or reads host identity, or installs itself to
    start with the machine: an install-time beacon, dropper or persistence moved out of
    ``setup.py`` so that ``setup.py`` looks clean.

    Benign ``setup.py`` files import their package to read ``__version__`` (nothing is
    called) or call a build helper that compiles or reads files. Evidence:
    ``[{"file": str, "calls": [{"file": str, "code": str, "type": str}]}]``.
    """
    setup = package.file("setup.py")
    if setup is None or not _parses(setup) or not _names_own_module(package, setup.data):
        return None  # most setup.py files: no parse (nor a scan of a large one)
    tree = _tree(setup)
    if tree is None:
        return None
    names: dict[str, list[SourceFile]] = {}
    for node in python_ast.calls_and_imports(tree):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and not node.level
            and node.module.split(".")[0] not in _BUILD_TOOLS
        ):
            for alias in node.names:
                targets = _local_modules(package, f"{node.module}.{alias.name}")
                targets += _local_modules(package, node.module)
                if targets:
                    names[alias.asname or alias.name] = targets
    if not names:
        return None
    called: set[str] = set()
    folders: set[str] = set()
    for node in python_ast.calls_and_imports(tree):
        # ``f()`` of an imported function, or ``mod.f()`` of an imported module
        func = node.func if isinstance(node, ast.Call) else None
        if isinstance(func, ast.Name) and func.id in names:
            called.add(func.id)
            folders.update(posixpath.dirname(target.rel) for target in names[func.id])
        elif (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id in names
        ):
            called.add(func.attr)
            folders.update(posixpath.dirname(t.rel) for t in names[func.value.id])
    if not called:
        return None
    own = [
        source
        for source in package.files
        if source.kind == "python"
        and source.context != "test"
        and posixpath.dirname(source.rel) in folders
    ]
    functions = module_functions(own)
    roots = [
        (functions[name][0], statement)
        for name in called & functions.keys()
        for statement in functions[name][1].body
    ]
    nodes = reached(roots, functions)
    harvests = _signed(nodes, "harvest", anywhere=True)
    shown = _sends_and_acts(_calls(nodes), harvests) or _signed(nodes, "persistence")
    if not shown:
        return None
    return indicator(
        "setup_runs_package_code_rule",
        [_evidence(setup, shown)],
        [_signal(setup, shown, INSTALL_REACH_WEIGHT, "setup_runs_package_code")],
    )
