"""Executables and native libraries shipped inside a package, recognised by magic bytes."""

from __future__ import annotations

import posixpath
import re

from threatfeed.analysis.memo import per_package
from threatfeed.analysis.model import Indicator, Signal
from threatfeed.analysis.package import Package, SourceFile, binary_format, top_level_block_lines
from threatfeed.analysis.rules.base import indicator
from threatfeed.analysis.rules.metadata import thin

_LIBRARY_EXTS = frozenset({".so", ".pyd", ".dylib", ".node", ".dll"})
#: Weights: a native library is expected in a wheel, odd in an sdist; an executable is
#: odd anywhere; anything binary that runs at install is the strongest.
LIBRARY_WEIGHT = {"wheel": 0.0, "other": 1.0}
#: A compiled Python module in a source distribution that holds nothing to build it from:
#: behind a thin wrapper it is the package's code, which nobody can read and importing the
#: package runs (10 points at import: flagged alone); beside real Python code, an odd
#: artefact of the author's build.
PREBUILT_WEIGHT = {"wrapped": 13.0, "beside": 1.0}
EXECUTABLE_WEIGHT = 5.0
INSTALL_WEIGHT = 8.0
DISGUISED_WEIGHT = 9.0
#: An executable the package starts as it is installed or imported: a dropper with its
#: payload on board (13 at import: flagged alone).
LAUNCHED_WEIGHT = 13.0
#: A process started by a statement at the top of a module, unindented: it runs as the
#: module loads, not when one of its functions is called (a tool that runs its bundled
#: helper on demand does so from a function).
#: The module may be imported under any name (``import subprocess as sp``); in a Python
#: module, a top-level ``try:``/``if``/``with`` block runs as it loads too (see
#: ``top_level_block_lines``), and so does JavaScript's top-level ``try {`` block.
_LAUNCH = (
    rb"(?:[\w$.]+[ \t]*=[ \t]*)?(?:await[ \t]+)?"
    rb"(?:(?:(?:child_process|cp|subprocess|os)\.)?"
    rb"(?:execSync|execFileSync|execFile|exec|spawnSync|spawn|fork|Popen|system|startfile|popen"
    rb"|check_output|check_call|call|run)"
    # under a name of the code's choosing, only the names no other library uses
    # (``asyncio.run(main())`` starts no process)
    rb"|[\w$]+\.(?:execSync|execFileSync|execFile|spawnSync|Popen|startfile|check_output"
    rb"|check_call))[ \t]*\("
)
_TOP_LEVEL_LAUNCH = re.compile(rb"^" + _LAUNCH, re.MULTILINE)
_INDENTED_LAUNCH = re.compile(rb"[ \t]+" + _LAUNCH)
_JS_TOP_LEVEL_TRY = re.compile(rb"^try[ \t]*\{[ \t]*\n[ \t]+" + _LAUNCH, re.MULTILINE)


def _launches_at_top(source: SourceFile) -> bool:
    data = source.data
    if _TOP_LEVEL_LAUNCH.search(data):
        return True
    if source.kind == "javascript":
        return _JS_TOP_LEVEL_TRY.search(data) is not None
    return any(_INDENTED_LAUNCH.match(line) for line in top_level_block_lines(data))


#: A binary named like a script, text or picture is hiding what it is.
_DISGUISE_EXTS = frozenset(
    {
        ".js",
        ".cjs",
        ".mjs",
        ".ts",
        ".json",
        ".py",
        ".txt",
        ".md",
        ".png",
        ".jpg",
        ".gif",
        ".css",
        ".html",
        ".svg",
        ".ttf",
        ".woff",
        ".woff2",
        ".ico",
    }
)


#: A compiled module Python imports (``main.pyd``, ``core.cpython-310-x86_64-linux-gnu.so``).
_EXTENSION_EXTS = frozenset({".so", ".pyd"})
#: Sources a compiled module can be built from, and build descriptions that build one.
_SOURCE_EXTS = frozenset(
    {".c", ".cc", ".cpp", ".cxx", ".h", ".hpp", ".pyx", ".pxd", ".rs", ".go", ".f", ".f90", ".zig"}
)
_BUILD_FILES = frozenset({"CMakeLists.txt", "Cargo.toml", "meson.build", "Makefile"})


def _is_wheel(package: Package) -> bool:
    return any(f.rel.endswith(".dist-info/WHEEL") for f in package.files)


def _is_sdist(package: Package) -> bool:
    """A PyPI source distribution: not a wheel, not an egg (``EGG-INFO/``)."""
    return (
        package.ecosystem == "pypi"
        and not _is_wheel(package)
        and not any(f.rel.startswith("EGG-INFO/") for f in package.files)
    )


def _buildable(package: Package) -> bool:
    return any(
        posixpath.splitext(f.rel)[1].lower() in _SOURCE_EXTS
        or posixpath.basename(f.rel) in _BUILD_FILES
        for f in package.files
    )


_WORD = re.compile(rb"[\w.-]+")


@per_package
def _launched_names(package: Package) -> dict[bytes, SourceFile]:
    """The words of install- and import-time files that start a process from their top
    level, each with the first such file: a file name among them is started by that file.
    Read once per package, so thousands of binaries cost no more than one."""
    names: dict[bytes, SourceFile] = {}
    for source in package.files:
        if (
            source.context in {"install", "import"}
            and source.kind in {"python", "javascript"}
            and _launches_at_top(source)
        ):
            for word in set(_WORD.findall(source.data)):
                names.setdefault(word, source)
    return names


def shipped_binary_rule(package: Package) -> Indicator | None:
    """ELF, PE and Mach-O files, whatever their names.

    Evidence: ``[{"file": str, "format": "elf"|"pe"|"macho",
    "kind": "library"|"executable"|"disguised"|"prebuilt"|"launched"}]``. Native libraries in wheels
    are normal and weigh nothing; an executable, one in a package with install hooks, or a
    binary named like a script or picture weighs a lot (droppers ship their payload this
    way), as if run at install when the package has install hooks. An executable named by
    install- or import-time code that starts a process from its top level is ``launched``
    and weighs in that code's context. A compiled Python
    module in an sdist with no source or build file to make it from is ``prebuilt``: code
    hidden from review that the package imports, flagged alone when the package's Python
    is a thin wrapper around it.
    """
    # the kind is "binary" exactly when ``binary_format`` names one
    binaries = [source for source in package.files if source.kind == "binary"]
    if not binaries:
        return None  # most packages: the layout questions below need not be asked
    wheel = _is_wheel(package)
    opaque = _is_sdist(package) and not _buildable(package)
    prebuilt_weight = PREBUILT_WEIGHT["wrapped" if opaque and thin(package) else "beside"]
    evidence = []
    signals = []
    for source in binaries:
        fmt = binary_format(source.data)
        if fmt is None:
            continue
        base = posixpath.basename(source.rel)
        name = base.lower()
        library = posixpath.splitext(name)[1] in _LIBRARY_EXTS or ".so." in name
        kind = "library" if library else "executable"
        context = source.context
        disguised = posixpath.splitext(name)[1] in _DISGUISE_EXTS
        launcher = (
            None
            if library
            else _launched_names(package).get(base.encode("utf-8", "surrogateescape"))
        )
        if launcher is not None:
            kind, weight, context = "launched", LAUNCHED_WEIGHT, launcher.context
        elif disguised:
            kind = "disguised"
            weight = DISGUISED_WEIGHT
            if package.hooks:
                context = "install"  # a hook can run it, whatever its name says
        elif source.context == "install" or (package.hooks and not library):
            weight = INSTALL_WEIGHT
            context = "install"
        elif opaque and posixpath.splitext(name)[1] in _EXTENSION_EXTS:
            kind, weight, context = "prebuilt", prebuilt_weight, "import"
        elif library:
            weight = LIBRARY_WEIGHT["wheel" if wheel else "other"]
        else:
            weight = EXECUTABLE_WEIGHT
        evidence.append({"file": source.path, "format": fmt, "kind": kind})
        signals.append(
            Signal(source.path, None, f"{fmt} {kind}", weight, context, frozenset(), kind)
        )
    return indicator("shipped_binary_rule", evidence, signals)
