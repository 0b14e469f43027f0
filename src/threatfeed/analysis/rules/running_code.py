"""Downloaded or decoded code that the package's own modules run with ``exec``/``eval``.

Signatures see ``exec(base64.b64decode(...))`` as it is usually written. The syntax tree
sees it however spelled: modules under other names (``_z.decompress(_b.b64decode(x))``),
``exec`` fetched by a name built from pieces (``getattr(builtins, "".join(["e", "x",
"e", "c"]))``), and code read into a name first (``src = urlopen(url).read().decode()``,
then ``exec(src, namespace)`` from a timer). ``setup.py`` and the other install-time files
are ``suspicious_setup_commands_rule``'s; this rule reads the modules that run later.
"""

from __future__ import annotations

import re

from threatfeed.analysis import python_ast
from threatfeed.analysis.calls import CALL_CAPABILITIES, Call
from threatfeed.analysis.model import Indicator, Signal
from threatfeed.analysis.package import Package, SourceFile
from threatfeed.analysis.rules.base import indicator
from threatfeed.analysis.rules.install import MAX_ITEMS

#: What running code executes, and its weight: a point above the signatures that see the
#: plain spellings (a download run, 14; decoded code run, 12), the tree having followed the
#: code to its source. Flagged alone in the module the package's ``__init__`` is (0.8), and
#: a download run also in a module it imports (0.7); elsewhere it needs company.
EXECUTED_WEIGHTS = {"remote_code_execution": 15.0, "decoded_code_execution": 13.0}
_CONTEXTS = frozenset({"import", "imported", "code"})
#: Calls that run source or code objects. Unpickling decoded data is how libraries pass
#: objects between processes (PyInstaller's isolated children, workflow bundles), so
#: ``pickle.loads`` and its kin are left to the install-time reading.
_RUNNERS = frozenset({"exec", "eval", "execfile", "runpy.run_path", "runpy.run_module"})
#: Modules larger than this are left to the signatures: the payloads this rule follows
#: sit in small modules (all under 5 KiB in the dev corpus and the red-team rounds), and
#: most of the large ones the marker marks are libraries, whose parse would cost a
#: fiftieth of the analysis.
MAX_TRACED_BYTES = 16 * 1024
#: Files whose signatures already report running decoded or downloaded code.
_SIGNED = frozenset({"decode_exec", "download_exec"})
#: What a module that decodes or downloads spells: a decoder, a network library, or an XOR
#: in a comprehension (``bytes(b ^ k for b in data)``: the hand-made cipher).
_SOURCE_WORDS = (
    b"b64decode",
    b"b32decode",
    b"b85decode",
    b"a85decode",
    b"codecs.",
    b"decompress",
    b"unhexlify",
    b"fromhex",
    b"marshal.",
    b"chr(",
    b"urlopen",
    b"urlretrieve",
    b"requests.",
    b"urllib",
    b"httpx",
)
_XOR = re.compile(rb"\^\s*[\w.\[\]]{1,30}\s+for\s")


def _decodes_or_downloads(data: bytes) -> bool:
    return any(word in data for word in _SOURCE_WORDS) or _XOR.search(data) is not None


def _executed(source: SourceFile) -> list[Call]:
    if (
        len(source.data) > MAX_TRACED_BYTES
        or not any(hit.rule == "python_code_runner" for hit in source.signatures)
        or any(hit.capability in _SIGNED for hit in source.signatures)
        or not _decodes_or_downloads(source.data)
    ):
        return []  # nearly every module: parsing them all would double the analysis
    tree = python_ast.parsed(source.data)
    if tree is None:
        return []
    return [
        call
        for call in python_ast.suspicious_calls(tree, source.data)
        if call.type in EXECUTED_WEIGHTS and call.name in _RUNNERS
    ]


def running_code_execution_rule(package: Package) -> Indicator | None:
    """Modules of the package, outside install-time code, that execute downloaded or
    decoded code, however the call and its argument are spelled.

    Evidence: ``[{"file": str, "line": int, "code": str, "type": "remote_code_execution" |
    "decoded_code_execution"}]``.
    """
    evidence = []
    signals = []
    for source in package.files:
        if source.kind != "python" or source.context not in _CONTEXTS:
            continue
        for call in _executed(source):
            evidence.append(
                {"file": source.path, "line": call.line, "code": call.code, "type": call.type}
            )
            signals.append(
                Signal(
                    source.path,
                    call.line,
                    call.code,
                    EXECUTED_WEIGHTS[call.type],
                    source.context,
                    frozenset({CALL_CAPABILITIES[call.type]}),
                    call.type,
                )
            )
    return indicator("running_code_execution_rule", evidence[:MAX_ITEMS], signals)
