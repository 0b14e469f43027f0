"""Code that runs earlier or more often than where it sits says: a package module that
``setup.py`` imports runs at install, a module under ``tests/`` that the package imports
runs whenever the package does. Both count a file's signatures again, by the difference
between the context it is weighed in and the one it really runs in."""

from __future__ import annotations

import posixpath
import re

from threatfeed.analysis.model import Indicator, Signal
from threatfeed.analysis.package import CONTEXT_FACTORS, RUNNING, Package, SourceFile
from threatfeed.analysis.rules.base import hit_signal, indicator
from threatfeed.analysis.signatures import SignatureHit

#: Signatures of a technique on their own (capability-only markers weigh nothing).
MIN_WEIGHT = 5.0


_IMPORT_PREFIX = re.compile(rb"[ \t]*(?:from|import)[ \t]+")


def _imports_top_level(data: bytes, module: str) -> bool:
    """``import module``, ``import module.sub``, ``from module[.sub] import ...`` on a line
    of its own (top level or indented in an install command). Only the places where the
    name occurs are looked at: setup.py files can be megabytes of blob."""
    name = module.encode()
    position = data.find(name)
    while position != -1:
        end = position + len(name)
        line_start = data.rfind(b"\n", 0, position) + 1
        if _IMPORT_PREFIX.fullmatch(data, line_start, position) and not (
            data[end : end + 1].isalnum() or data[end : end + 1] == b"_"
        ):
            return True
        position = data.find(name, end)
    return False


def _strong(source: SourceFile) -> list[SignatureHit]:
    return [hit for hit in source.signatures if hit.weight >= MIN_WEIGHT and hit.indicator]


def _uplift(source: SourceFile, runs_in: str, key: str) -> tuple[list[Signal], list[str]]:
    """Each strong hit again, weighted by what running in ``runs_in`` adds to the file's own
    context (the total is what the hit would weigh had the file been classified there),
    and the labels of those hits for the evidence."""
    gain = CONTEXT_FACTORS[runs_in] - source.factor
    if gain <= 0:
        return [], []
    hits = _strong(source)
    signals = []
    for hit in hits:
        signal = hit_signal(source, hit)
        if signal.context != source.context:
            continue  # a match on a comment line stays documentation
        weight = hit.weight * gain / CONTEXT_FACTORS[runs_in]
        signals.append(
            Signal(
                signal.file, signal.line, signal.excerpt, weight, runs_in, key=f"{key}:{hit.rule}"
            )
        )
    return signals, sorted({hit.label for hit in hits})


def _module_name(rel: str) -> str | None:
    """The top-level module a file is, if it is one: ``pkg/__init__.py`` and ``pkg.py``,
    also under ``src/``."""
    parts = rel.removeprefix("src/").split("/")
    if len(parts) == 1 and parts[0].endswith(".py"):
        return parts[0].removesuffix(".py")
    if len(parts) == 2 and parts[1] == "__init__.py":
        return parts[0]
    return None


def setup_imports_package_rule(package: Package) -> Indicator | None:
    """``setup.py`` imports a module of the archive (``import mypkg``, ``from mypkg import
    __version__``), so that module's top-level code runs during ``pip install``, while the
    module itself is weighed as code run on import. Its signatures count again by the
    difference: a reverse shell in ``__init__.py`` that ``setup.py`` imports is an
    install-time reverse shell.

    Benign ``setup.py`` files import their package for ``__version__``; it counts only when
    the imported module carries signatures of a technique. Evidence:
    ``[{"file": str, "imports": str, "signatures": [str]}]``.
    """
    targets = {
        name: source
        for source in package.signed
        if (name := _module_name(source.rel)) and _strong(source)
    }
    if not targets:
        return None  # nearly every package: no technique in its top-level modules
    setup = package.file("setup.py")
    if setup is None or setup.context != "install":
        return None
    evidence = []
    signals: list[Signal] = []
    for module, target in sorted(targets.items()):
        if target.factor >= CONTEXT_FACTORS["install"]:
            continue  # weighed as install-time code already (setup.py itself): no scan
        if not _imports_top_level(setup.data, module):
            continue
        found, labels = _uplift(target, "install", "setup_imports")
        if found:
            signals += found
            evidence.append({"file": setup.path, "imports": target.path, "signatures": labels})
    return indicator("setup_imports_package_rule", evidence, signals)


def _imports_module(data: bytes, dotted: str, stem: str) -> bool:
    """``from .tests import stem``, ``from .tests.stem import x``, ``import pkg.tests.stem``."""
    if stem.encode() not in data:
        return False
    parent = dotted.rpartition(".")[0].rpartition(".")[2]
    pattern = (
        rb"^[ \t]*(?:from[ \t]+[\w.]*\b" + re.escape(parent.encode()) + rb"[ \t]+import[^\n]*\b"
        rb""
        + re.escape(stem.encode())
        + rb"\b|from[ \t]+[\w.]*\b"
        + re.escape(stem.encode())
        + rb"[ \t]+import"
        rb"|import[ \t]+[\w.]*\b" + re.escape(stem.encode()) + rb"\b)"
    )
    return re.search(pattern, data, re.M) is not None


def imported_test_code_rule(package: Package) -> Indicator | None:
    """A module under ``tests/`` (weighed as a test) that a module of the package imports:
    it runs whenever the package does. Scanners that skip test folders were evaded by
    hiding the payload in one and importing it from ``__init__`` or a helper. Its
    signatures count again at the importer's context, by the difference.

    Test suites import their own helpers, and the package never imports its tests; only
    signatures of a technique count. Evidence:
    ``[{"file": str, "imported_by": str, "signatures": [str]}]``.
    """
    tests = [
        source
        for source in package.signed
        if source.context == "test" and source.kind == "python" and _strong(source)
    ]
    if not tests:
        return None  # nearly every package: no technique in its tests
    importers = [
        source for source in package.files if source.kind == "python" and source.context in RUNNING
    ]
    evidence = []
    signals: list[Signal] = []
    for test in tests:
        stem = posixpath.splitext(posixpath.basename(test.rel))[0]
        dotted = posixpath.splitext(test.rel)[0].replace("/", ".")
        if stem == "__init__":
            dotted, stem = dotted.rpartition(".")[0], dotted.rpartition(".")[0].rpartition(".")[2]
        importer = next((s for s in importers if _imports_module(s.data, dotted, stem)), None)
        if importer is None:
            continue
        found, labels = _uplift(test, importer.context, "imported_test_code")
        if found:
            signals += found
            evidence.append({"file": test.path, "imported_by": importer.path, "signatures": labels})
    return indicator("imported_test_code_rule", evidence, signals)
