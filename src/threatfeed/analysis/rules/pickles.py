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
    }
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
#: Pickles are read up to this many bytes and opcodes (model weights run to gigabytes,
#: but their imports come first, before the tensors' bytes).
MAX_PICKLE_BYTES = 8 * 1024 * 1024
MAX_OPCODES = 100_000
PICKLE_WEIGHT = 17.0
#: Extensions under which a protocol 0 or 1 pickle (no header) is looked at.
_PICKLE_NAMES = (".pkl", ".pickle", ".pck", ".joblib", ".pt", ".pth", ".bin", ".ckpt")


def is_pickle(rel: str, data: bytes) -> bool:
    """Protocol 2 and later open with ``PROTO``; earlier ones are recognised by name and
    by their first opcode."""
    if len(data) > 2 and data[0] == 0x80 and 2 <= data[1] <= 5:
        return True
    return rel.lower().endswith(_PICKLE_NAMES) and data[:1] in {b"c", b"(", b"]", b"}", b"i"}


def imports(data: bytes) -> Iterator[str]:
    """``module.name`` of each callable the pickle imports: ``GLOBAL`` and ``INST`` name
    it, ``STACK_GLOBAL`` takes the last two strings pushed (directly or from the memo).
    A malformed pickle ends the reading where it breaks."""
    strings: list[str | None] = []
    memo: dict[int, str | None] = {}
    try:
        for number, (opcode, argument, _) in enumerate(pickletools.genops(data[:MAX_PICKLE_BYTES])):
            if number >= MAX_OPCODES:
                return
            name = opcode.name
            if name in {"GLOBAL", "INST"} and isinstance(argument, str):
                yield argument.replace(" ", ".", 1)
            elif name == "STACK_GLOBAL" and len(strings) >= 2:
                module, attribute = strings[-2], strings[-1]
                if module is not None and attribute is not None:
                    yield f"{module}.{attribute}"
            elif name in _STRINGS:
                text = argument.decode("latin-1") if isinstance(argument, bytes) else argument
                strings.append(text if isinstance(text, str) else None)
            elif name in _MEMO_PUTS and isinstance(argument, int):
                memo[argument] = strings[-1] if strings else None
            elif name == "MEMOIZE":
                memo[len(memo)] = strings[-1] if strings else None
            elif name in _MEMO_GETS and isinstance(argument, int):
                strings.append(memo.get(argument))
            elif name != "FRAME":
                strings.append(None)
    except (ValueError, KeyError, IndexError, EOFError, UnicodeDecodeError):
        return


def _running(qualified: str) -> bool:
    module, _, attribute = qualified.rpartition(".")
    if module in _BUILTINS:
        return attribute in _RUNNING_BUILTINS
    return module.partition(".")[0] in _RUNNING_MODULES or module in _RUNNING_MODULES


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

    Pickles are recognised by their bytes (protocol 2 and later) or by name and first
    opcode, including those inside PyTorch's zip checkpoints. Evidence:
    ``[{"file": str, "imports": [str]}]``.
    """
    evidence = []
    signals = []
    for source in package.files:
        if source.is_code or not is_pickle(source.rel, source.data):
            continue
        found = sorted({name for name in imports(source.data) if _running(name)})
        if found:
            evidence.append({"file": source.path, "imports": found[:20]})
            signals.append(_signal(source, found[:20]))
    return indicator("pickle_code_execution_rule", evidence[:20], signals)
