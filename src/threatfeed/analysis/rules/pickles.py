"""Pickles that run programs when they are loaded.

A pickle is a small program for a stack machine: ``GLOBAL`` imports any callable by name
and ``REDUCE`` calls it, so a "model weights" or "cache" file whose pickle imports
``os.system`` runs a command in whoever loads it (``pickle.load``, ``torch.load``,
``joblib.load``). Data pickles import classes (numpy arrays, ``collections.OrderedDict``,
a library's own types), not process, network or code-running functions. The opcodes are
read with ``pickletools.genops``, which parses and never loads.
"""

from __future__ import annotations

import pickletools
from collections.abc import Iterator

from threatfeed.analysis.model import Indicator, Signal
from threatfeed.analysis.package import Package, SourceFile, in_test_folder
from threatfeed.analysis.rules.base import indicator

#: Modules none of whose callables a data pickle has a reason to import.
_RUNNING_MODULES = frozenset(
    {
        "os",
        "posix",
        "nt",
        "subprocess",
        "pty",
        "commands",
        "popen2",
        "runpy",
        "code",
        "codeop",
        "socket",
        "shutil",
        "webbrowser",
        "sys",
        "ctypes",
        "importlib",
        "marshal",
        "pickle",
        "_pickle",
        "dill",
        "requests",
        "httpx",
        "httplib",
        "http.client",
        "urllib",
        "urllib.request",
        "urllib2",
        "aiohttp",
        "asyncio",
        "multiprocessing",
        "platform",
        "pip",
        "setuptools",
        "_posixsubprocess",
        "timeit",
        "pdb",
        "bdb",
        "cProfile",
        "profile",
        "trace",
    }
)
#: Callables of otherwise harmless modules that call what they are given by name.
_RUNNING_CALLABLES = frozenset(
    {("operator", "methodcaller"), ("numpy.testing._private.utils", "runstring")}
)
_BUILTINS = frozenset({"builtins", "__builtin__", "__builtins__"})
#: Builtins that run code or reach files (not ``getattr``: pickled bound methods use it).
_RUNNING_BUILTINS = frozenset(
    {"eval", "exec", "execfile", "compile", "open", "__import__", "apply", "input", "breakpoint"}
)
_STRINGS = frozenset(
    {
        "UNICODE",
        "SHORT_BINUNICODE",
        "BINUNICODE",
        "BINUNICODE8",
        "STRING",
        "BINSTRING",
        "SHORT_BINSTRING",
    }
)
_MEMO_PUTS = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})
_MEMO_GETS = frozenset({"GET", "BINGET", "LONG_BINGET"})
#: Pickles are read up to this many bytes each, and this many opcodes in all per archive
#: (model weights run to gigabytes, but their imports come first, before the tensors'
#: bytes). Parsing costs about a microsecond an opcode.
MAX_PICKLE_BYTES = 8 * 1024 * 1024
MAX_OPCODES = 200_000
#: ``PROTO`` is looked for among the first bytes (harmless opcodes can come first).
_PROTO_WITHIN = 16
#: Strings kept for ``STACK_GLOBAL`` (it takes the last two).
_KEPT_STRINGS = 64
PICKLE_WEIGHT = 17.0
#: Extensions under which a protocol 0 or 1 pickle (no header) is looked at.
_PICKLE_NAMES = (".pkl", ".pickle", ".pck", ".joblib", ".pt", ".pth", ".bin", ".ckpt")


def is_pickle(rel: str, data: bytes) -> bool:
    """Protocol 2 and later hold ``PROTO`` among their first opcodes; files named as
    pickles or model weights are read whatever they open with (protocols 0 and 1 have no
    header, and a few harmless opcodes can come first)."""
    proto = data.find(b"\x80", 0, _PROTO_WITHIN)
    if 0 <= proto < len(data) - 1 and 2 <= data[proto + 1] <= 5:
        return True
    return rel.lower().endswith(_PICKLE_NAMES)


def imports(data: bytes, budget: list[int] | None = None) -> Iterator[tuple[str, str]]:
    """``(module, name)`` of each callable the pickle imports: ``GLOBAL`` and ``INST`` name
    it, ``STACK_GLOBAL`` takes the last two strings pushed (directly or from the memo,
    whatever else was pushed and popped in between). A malformed pickle ends the reading
    where it breaks. ``budget`` holds the opcodes left to read, one count the pickles of
    an archive share (``MAX_OPCODES``); reading spends it."""
    left = budget if budget is not None else [MAX_OPCODES]
    strings: list[str] = []
    memo: dict[int, str | None] = {}
    last: str | None = None  # what the latest opcode pushed, if a string
    try:
        for opcode, argument, _ in pickletools.genops(data[:MAX_PICKLE_BYTES]):
            if left[0] <= 0:
                return
            left[0] -= 1
            name = opcode.name
            if name in {"GLOBAL", "INST"} and isinstance(argument, str):
                module, _, attribute = argument.partition(" ")
                yield module, attribute
                last = None
            elif name == "STACK_GLOBAL" and len(strings) >= 2:
                yield strings[-2], strings[-1]
                last = None
            elif name in _STRINGS:
                text = argument.decode("latin-1") if isinstance(argument, bytes) else argument
                last = text if isinstance(text, str) else None
                if last is not None:
                    strings.append(last)
            elif name in _MEMO_PUTS and isinstance(argument, int):
                memo[argument] = last
            elif name == "MEMOIZE":
                memo[len(memo)] = last
            elif name in _MEMO_GETS and isinstance(argument, int):
                last = memo.get(argument)
                if last is not None:
                    strings.append(last)
            elif name not in {"FRAME", "PROTO"}:
                last = None
            if len(strings) > _KEPT_STRINGS:
                del strings[: -_KEPT_STRINGS // 2]
    except (ValueError, KeyError, IndexError, EOFError, UnicodeDecodeError):
        return


def _running(module: str, name: str) -> bool:
    """Whether the callable runs processes, code or network calls; attributes of it
    (``exec.__call__``) are it."""
    first = name.partition(".")[0]
    if module in _BUILTINS:
        return first in _RUNNING_BUILTINS
    return (
        module.partition(".")[0] in _RUNNING_MODULES
        or module in _RUNNING_MODULES
        or (module, first) in _RUNNING_CALLABLES
    )


def _signal(source: SourceFile, found: list[str]) -> Signal:
    """In the file's context, but a pickle is data to the classifier: loaded, it runs,
    so outside test folders it counts as ordinary code."""
    context = source.context
    if context == "docs":
        context = "test" if in_test_folder(source.rel) else "code"
    return Signal(
        source.path,
        None,
        ", ".join(found),
        PICKLE_WEIGHT,
        context,
        frozenset({"decode_exec"}),
        "pickle_imports",
    )


def pickle_code_execution_rule(package: Package) -> Indicator | None:
    """A pickle in the package that imports a process, network or code-running callable
    (``os.system``, ``subprocess.Popen``, ``builtins.exec``...): loading it runs the call.

    Pickles are recognised by their bytes (``PROTO``, protocol 2 and later) or by a pickle
    or model name, including those inside PyTorch's zip checkpoints. Evidence:
    ``[{"file": str, "imports": [str]}]``.
    """
    evidence = []
    signals = []
    budget = [MAX_OPCODES]
    # the pickles code loads before documentation builds' (Sphinx's doctrees run to a
    # million opcodes), the smaller first within each
    pickles = sorted(
        (s for s in package.files if not s.is_code and is_pickle(s.rel, s.data)),
        key=lambda s: (s.context == "docs" and not in_test_folder(s.rel), len(s.data)),
    )
    for source in pickles:
        found = sorted({f"{m}.{n}" for m, n in imports(source.data, budget) if _running(m, n)})
        if found:
            evidence.append({"file": source.path, "imports": found[:20]})
            signals.append(_signal(source, found[:20]))
    return indicator("pickle_code_execution_rule", evidence[:20], signals)
