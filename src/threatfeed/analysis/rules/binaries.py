"""Executables and native libraries shipped inside a package, recognised by magic bytes."""

from __future__ import annotations

import posixpath

from threatfeed.analysis.model import Indicator, Signal
from threatfeed.analysis.package import Package, binary_format
from threatfeed.analysis.rules.base import indicator

_LIBRARY_EXTS = frozenset({".so", ".pyd", ".dylib", ".node", ".dll"})
#: Weights: a native library is expected in a wheel, odd in an sdist; an executable is
#: odd anywhere; anything binary that runs at install is the strongest.
LIBRARY_WEIGHT = {"wheel": 0.0, "other": 1.0}
EXECUTABLE_WEIGHT = 5.0
INSTALL_WEIGHT = 8.0


def _is_wheel(package: Package) -> bool:
    return any(f.rel.endswith(".dist-info/WHEEL") for f in package.files)


def shipped_binary_rule(package: Package) -> Indicator | None:
    """ELF, PE and Mach-O files, whatever their names.

    Evidence: ``[{"file": str, "format": "elf"|"pe"|"macho", "kind": "library"|"executable"}]``.
    Native libraries in wheels are normal and weigh nothing; an executable, or any binary
    named by an install hook, weighs a lot (droppers ship their payload this way).
    """
    wheel = _is_wheel(package)
    evidence = []
    signals = []
    for source in package.files:
        fmt = binary_format(source.data)
        if fmt is None:
            continue
        name = posixpath.basename(source.rel).lower()
        library = posixpath.splitext(name)[1] in _LIBRARY_EXTS or ".so." in name
        kind = "library" if library else "executable"
        if source.context == "install":
            weight = INSTALL_WEIGHT
        elif library:
            weight = LIBRARY_WEIGHT["wheel" if wheel else "other"]
        else:
            weight = EXECUTABLE_WEIGHT
        evidence.append({"file": source.path, "format": fmt, "kind": kind})
        signals.append(
            Signal(source.path, None, f"{fmt} {kind}", weight, source.context, frozenset(), kind)
        )
    return indicator("shipped_binary_rule", evidence, signals)
