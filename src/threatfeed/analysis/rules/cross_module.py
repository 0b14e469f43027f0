"""A stealer split across modules: one collects secrets, another sends, a third wires them.

Every other correlation is per file, so moving the harvesting into ``collect.py`` and the
socket into ``client.py`` hides a stealer from all of them; the module that imports both
and calls into both (``client.push(pack.seal(collect.gather()))``) is where the theft is
put together. The same holds for JavaScript modules wired by relative ``require`` and
``import``. Only strong harvesting counts (secrets, wallets, browser data, the whole
environment serialised), as for ``data_exfiltration_rule``: SDKs read their own
configuration and talk to their service in different modules all the time.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from itertools import islice

from threatfeed.analysis.model import Indicator, Signal
from threatfeed.analysis.package import RUNNING, Package, SourceFile, module_paths
from threatfeed.analysis.rules.base import file_signal, indicator
from threatfeed.analysis.rules.correlation import SENDS, strong_harvest

SPLIT_EXFIL_WEIGHT = 10.0
#: ``from .a.b import c, d as e`` and ``from pkg.a import (c, d)`` (up to the closing
#: parenthesis), and ``import pkg.a.b as c, pkg.d``. (The dots and the name are kept
#: apart: one class for both made a line of dots cost quadratic time.)
_FROM_IMPORT = re.compile(
    rb"^[ \t]*from[ \t]+(\.*)((?:\w[\w.]*)?)[ \t]+import[ \t]+(\([^)]{0,2000}\)|[^\n#;]{1,500})",
    re.MULTILINE,
)
_IMPORT = re.compile(rb"^[ \t]*import[ \t]+([^\n#;]{1,500})", re.MULTILINE)
_NAME = re.compile(rb"\w+")
_COMMENT = re.compile(rb"#[^\n]*")
#: A name called, or a function of what it names (``f(``, ``mod.f(``): each file's calls
#: are read once, and the names it imports looked up among them.
_CALLED = re.compile(rb"\b(\w+)\s*(?:\.\s*\w+\s*)?\(")
#: ``require("./m")``, perhaps called at once (``require("./m")()``, ``require("./m").f()``);
#: what it is bound to is read just before it (``_BOUND``).
_REQUIRE = re.compile(
    rb"""\brequire\s*\(\s*["'](\.\.?/[^"'\n]{1,200})["']\s*\)(\s*(?:\.\s*[\w$]+\s*)?\()?"""
)
_BOUND = re.compile(rb"(?:const|let|var)\s+(\{[^}]*\}|[\w$]+)\s*=\s*$")
#: ``... from "./m"``; its ``import`` clause is read just before it.
_FROM = re.compile(rb"""\bfrom\s*["'](\.\.?/[^"'\n]{1,200})["']""")
#: Bytes looked at in front of a ``require`` or ``from`` for what it binds: each place is
#: read once, in a bounded window, so no crafted file makes the search quadratic.
_BINDING_WINDOW = 500
MAX_JS_IMPORTS = 5000
_JS_NAME = re.compile(rb"[\w$]+")
#: The files a relative specifier can load, in Node's order and TypeScript's sources.
_JS_SUFFIXES = ("", ".js", ".cjs", ".mjs", ".ts", "/index.js", "/index.ts")


def _sends(source: SourceFile) -> bool:
    return any(hit.capability in SENDS for hit in source.signatures)


def _js_files(folder: str, specifier: bytes) -> list[str]:
    base = posixpath.normpath(posixpath.join(folder, specifier.decode("ascii", "replace")))
    return [base + suffix for suffix in _JS_SUFFIXES]


def _js_names(binding: bytes) -> list[bytes]:
    """The names a binding or an import clause binds: ``x``, ``{a, b: c}``, ``* as x``,
    ``x, {a as b}``: the last word of each item."""
    names = []
    for item in re.split(rb"[,{}]", binding):
        words = _JS_NAME.findall(item)
        if words:
            names.append(words[-1])
    return names


def _js_imported(source: SourceFile) -> Iterator[tuple[bytes | None, str]]:
    """The names a JavaScript module binds to modules of its package, with the files each
    can come from; ``None`` for a module called where it is required."""
    folder = posixpath.dirname(source.rel)
    data = source.data
    for match in islice(_REQUIRE.finditer(data), MAX_JS_IMPORTS):
        files = _js_files(folder, match.group(1))
        if match.group(2):
            names: list[bytes | None] = [None]
        else:
            bound = _BOUND.search(data, max(0, match.start() - _BINDING_WINDOW), match.start())
            names = [*_js_names(bound.group(1))] if bound else []
        for name in names:
            for path in files:
                yield name, path
    for match in islice(_FROM.finditer(data), MAX_JS_IMPORTS):
        window = data[max(0, match.start() - _BINDING_WINDOW) : match.start()]
        start = window.rfind(b"import")
        clause = window[start + len(b"import") :]
        if start < 0 or b";" in clause:
            continue
        files = _js_files(folder, match.group(1))
        for name in _js_names(clause):
            for path in files:
                yield name, path


def _imported(source: SourceFile, tops: dict[str, str]) -> Iterator[tuple[bytes | None, str]]:
    if source.kind == "javascript":
        yield from _js_imported(source)
    else:
        yield from _py_imported(source, tops)


def _py_imported(source: SourceFile, tops: dict[str, str]) -> Iterator[tuple[bytes, str]]:
    """The names a module binds to modules and functions of its own package, with the
    file each comes from (the module, or the one defining the imported name); ``tops``
    maps the package's import names to their folders, for absolute self-imports."""
    folder = posixpath.dirname(source.rel)
    for match in _FROM_IMPORT.finditer(source.data):
        dots, module = match.group(1).decode(), match.group(2).decode("ascii", "replace")
        if dots:
            base = folder
            for _ in range(len(dots) - 1):
                base = posixpath.dirname(base)
        elif module.partition(".")[0] in tops:
            head, _, module = module.partition(".")
            base = tops[head]
        else:
            continue
        for item in _COMMENT.sub(b"", match.group(3)).strip(b"()").split(b","):
            words = _NAME.findall(item)
            if not words or words[0] == b"import":
                continue
            name, alias = words[0].decode("ascii", "replace"), words[-1]
            # ``from . import x`` binds module x; ``from .m import f`` binds f of module m
            # (or module m.f)
            paths = [*module_paths(base, f"{module}.{name}".strip("."))]
            if module:
                paths += module_paths(base, module)
            for path in paths:
                yield alias, path
    for match in _IMPORT.finditer(source.data):
        for item in match.group(1).split(b","):
            words = item.split()
            if not words:
                continue
            dotted = words[0].decode("ascii", "replace")
            head, _, rest = dotted.partition(".")
            if head in tops and rest:
                alias = words[-1] if len(words) == 3 and words[1] == b"as" else words[0]
                for path in module_paths(tops[head], rest):
                    yield alias.rpartition(b".")[2], path


def cross_module_exfiltration_rule(package: Package) -> Indicator | None:
    """A module that calls into a module of the package that harvests secrets and into
    one that sends (or sends itself), when no single file does both.

    Evidence: ``[{"file": str, "harvests_in": str, "sends_in": str}]``, the wiring module
    and the two it joins. Weighed in the wiring module's context.
    """
    running = [
        s for s in package.files if s.kind in {"python", "javascript"} and s.context in RUNNING
    ]
    senders = {s.rel for s in running if _sends(s)}
    # a file that harvests and sends itself is data_exfiltration_rule's
    harvesters = {s.rel for s in running if s.rel not in senders and strong_harvest(s)}
    if not harvesters or not senders:
        return None  # nearly every package
    tops = _top_packages(package)
    evidence = []
    signals: list[Signal] = []
    for source in running:
        called: set[bytes] | None = None
        reached = {source.rel} & (harvesters | senders)
        for alias, path in _imported(source, tops):
            if path in harvesters or path in senders:
                if called is None:
                    called = set(_CALLED.findall(source.data))
                if alias is None or alias in called:
                    reached.add(path)
        harvest = sorted(path for path in reached if path in harvesters)
        send = sorted(path for path in reached if path in senders)
        if not harvest or not send:
            continue
        pair = harvest[0], send[0]
        evidence.append(
            {
                "file": source.path,
                "harvests_in": package.path_of(pair[0]) or pair[0],
                "sends_in": package.path_of(pair[1]) or pair[1],
            }
        )
        signals.append(file_signal(source, SPLIT_EXFIL_WEIGHT, "split_exfiltration", "exfil"))
    return indicator("cross_module_exfiltration_rule", evidence[:20], signals)


def _top_packages(package: Package) -> dict[str, str]:
    """The import names of the package's top folders holding an ``__init__.py``, at the
    root or under ``src/``, and where each lies."""
    tops = {}
    for source in package.files:
        parts = source.rel.split("/")
        if parts[-1] == "__init__.py" and (
            len(parts) == 2 or (len(parts) == 3 and parts[0] == "src")
        ):
            tops[parts[-2]] = "/".join(parts[:-1])
    return tops
