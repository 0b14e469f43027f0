"""What code run at install time does: ``setup.py``, ``.pth`` files, npm hook scripts."""

from __future__ import annotations

from threatfeed.analysis import javascript, python_ast
from threatfeed.analysis.calls import (
    ACTIVE_TYPES,
    CALL_CAPABILITIES,
    CALL_WEIGHTS,
    HOOK_BONUS,
    Call,
)
from threatfeed.analysis.memo import per_archive
from threatfeed.analysis.model import Indicator, Signal
from threatfeed.analysis.package import Package, SourceFile
from threatfeed.analysis.rules.base import indicator
from threatfeed.analysis.signatures import MAX_OFFSETS
from threatfeed.analysis.text import excerpt_at, line_of

MAX_ITEMS = 30
#: Build hooks (``hatch_build.py``, a script a ``binding.gyp`` command runs) are there to
#: start build tools: a process call is their job and weighs nothing in them. Whatever
#: else they do weighs as it does in ``setup.py``.
_BUILD_TOOLING = frozenset({"process"})


def _pth_calls(source: SourceFile) -> list[Call]:
    """A ``.pth`` line starting with ``import`` is executed at every interpreter start."""
    lines = [
        (number, line)
        for number, line in enumerate(source.text.splitlines(), 1)
        if line.startswith(("import ", "import\t"))
    ]
    calls = []
    for number, line in lines:
        calls.append(Call("pth", "startup_hook", number, line[:200]))
        tree = python_ast.parse(line.encode())
        if tree is not None:
            calls += [
                Call(c.name, c.type, number, c.code)
                for c in python_ast.suspicious_calls(tree, line.encode())
            ]
    return calls


#: Call types inferred from signature capabilities when a file does not parse (Python 2
#: syntax, deliberate syntax errors after the payload, truncated files).
_CAPABILITY_TYPES = {"network": "network", "exec": "process", "recon": "recon"}


def _from_signatures(source: SourceFile, start: int = 0) -> list[Call]:
    """Calls stood in for by the signatures that hit from ``start`` on."""
    calls = []
    for hit in source.signatures:
        kind = _CAPABILITY_TYPES.get(hit.capability)
        if kind is None:
            continue
        offsets = [o for o in hit.offsets if o[0] >= start]
        if not offsets and start and len(hit.offsets) >= MAX_OFFSETS:
            offsets = list(hit.offsets[-1:])  # matches past those reported: some may be past start
        if offsets:
            offset, length = offsets[0]
            code = excerpt_at(source.data, offset, length)
            calls.append(Call(hit.rule, kind, line_of(source.data, offset), code))
    return calls


@per_archive(maxsize=256)
def install_calls(source: SourceFile) -> tuple[Call, ...]:
    """Suspicious calls of one install-time file (cached: the correlation rules ask too)."""
    return tuple(_install_calls(source))


#: Python files from this size on are asked ``may_call_typed`` before they are parsed; below
#: it, a parse costs about as much as the question.
ASK_BEFORE_PARSE = 16 * 1024


def _nothing_to_find(source: SourceFile) -> bool:
    """Whether a Python file is known to hold no suspicious call without parsing it: it
    names none, and no signature would stand in for the calls if it did not parse."""
    return (
        ASK_BEFORE_PARSE <= len(source.data) <= python_ast.MAX_PARSE_BYTES
        and not _from_signatures(source)
        and not python_ast.may_call_typed(source.data)
    )


def _install_calls(source: SourceFile) -> list[Call]:
    if source.path.endswith(".pth"):
        return _pth_calls(source)
    if source.kind == "python":
        if _nothing_to_find(source):
            return []  # obfuscated install scripts can take 30 ms to parse
        tree = python_ast.parsed(source.data)
        if tree is None:
            return _from_signatures(source)
        return python_ast.suspicious_calls(tree, source.data)
    if source.kind == "javascript":
        calls = javascript.suspicious_calls(source.data)
        if len(source.data) > javascript.MAX_PARSE_BYTES:  # padding in front hides no call
            calls += _from_signatures(source, javascript.MAX_PARSE_BYTES)
        return calls
    return []


def _weight(call: Call, building: bool) -> float:
    if building and call.type in _BUILD_TOOLING:
        return 0.0
    bonus = HOOK_BONUS if call.in_hook and call.type in ACTIVE_TYPES else 0.0
    return CALL_WEIGHTS[call.type] + bonus


def suspicious_setup_commands_rule(package: Package) -> Indicator | None:
    """Calls made by code that runs on install: processes, network, exec, decoding, identity.

    Reads ``setup.py`` (command classes and top-level code alike), ``.pth`` files, the
    other files a build runs, and the scripts npm hooks and ``binding.gyp`` commands run.
    Evidence: ``[{"code": str, "type": str}]`` where ``type`` is one of ``code_execution``,
    ``download``, ``network``, ``process``, ``decode``, ``recon``,
    ``browser``, ``install_command_override``, ``startup_hook``.
    """
    evidence = []
    signals: list[Signal] = []
    for source in package.at_install:
        if source.kind not in {"python", "javascript"}:
            continue
        building = source.rel in package.build_files
        for call in install_calls(source):
            capability = CALL_CAPABILITIES.get(call.type)
            signals.append(
                Signal(
                    source.path,
                    call.line,
                    call.code,
                    _weight(call, building),
                    source.context,
                    frozenset({capability} if capability else ()),
                    call.type,
                )
            )
            evidence.append({"code": call.code, "type": call.type})
    return indicator("suspicious_setup_commands_rule", evidence[:MAX_ITEMS], signals)
