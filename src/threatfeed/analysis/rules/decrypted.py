"""Code kept encrypted in the package and run once deciphered.

An encrypted payload is noise to every signature: only the key, the decipher and the call
that runs the result are in the clear. ``crypto.createDecipheriv`` in a helper whose
result, or the text the decipher returns, reaches ``eval``, ``Function``, ``vm`` or
``module._compile`` is how JavaScript droppers (and event-stream's payload) hide: a library
that deciphers data hands the text to a parser, not to the interpreter.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from itertools import islice

from threatfeed.analysis.model import Indicator, Signal
from threatfeed.analysis.package import Package
from threatfeed.analysis.rules.base import in_comment, indicator, marked, signal_at

#: As ``exec`` of a decoded blob (``decode_and_execute_rule``): flags alone where code runs.
DECRYPTED_EXEC_WEIGHT = 17.0
_DECIPHER = re.compile(rb"\bcreateDecipher(?:iv)?\s*\(")
#: A function's head: ``function name(``, ``name = function``, ``name = (...) =>``,
#: ``name = x =>`` (and ``async`` forms).
_FUNCTION = re.compile(
    rb"\bfunction\s*\*?\s*(\w+)\s*\(|\b(\w+)\s*[:=]\s*(?:async\s+)?"
    rb"(?:function\b|\([^()]{0,200}\)\s*=>|\w+\s*=>)"
)
#: Text a decipher hands back: ``x = decipher.update(...)``, ``x += decipher.final(...)``.
_DECIPHERED = re.compile(rb"\b(\w+)\s*\+?=\s*\w+\s*\.\s*(?:update|final)\s*\(")
#: A call's result assigned: ``x = f(...)``, ``x = await f(...)``.
_ASSIGNED = re.compile(rb"\b(\w+)\s*=\s*(?:await\s+)?(\w+)\s*\(")
#: The decipher's text handed over without a variable: ``eval(d.update(x, "hex", "utf8"))``.
_DECIPHER_CALL = re.compile(rb"\w+\s*\.\s*(?:update|final)")
#: Where text runs as code.
_RUNNER = re.compile(
    rb"\b(?:eval|Function|runInThisContext|runInNewContext|runInContext|Script|_compile)\s*\("
)
_PARENTHESIS = re.compile(rb"[()]")
#: How far back from a decipher its function's head is looked for, and how much of a
#: runner's arguments is read.
_HEAD_WINDOW = 4096
_ARGUMENTS = 200
#: Bounds on what one file makes the rule read: decipher calls and names followed, runner
#: calls read, and runs checked against comments (each check reads back to a line start).
MAX_NAMES = 200
MAX_RUNS = 1000
MAX_CANDIDATES = 20


def _decrypters(data: bytes) -> set[bytes]:
    """Names of the functions that decipher: the nearest function head before each
    decipher call, from one pass over the heads."""
    calls = [call.start() for call in islice(_DECIPHER.finditer(data), MAX_NAMES)]
    if not calls:
        return set()
    heads = list(_FUNCTION.finditer(data, max(0, calls[0] - _HEAD_WINDOW), calls[-1]))
    starts = [head.start() for head in heads]
    names = set()
    for call in calls:
        index = bisect_left(starts, call) - 1
        if index >= 0 and heads[index].start() >= call - _HEAD_WINDOW:
            names.add(heads[index].group(1) or heads[index].group(2))
    return names


def _runs_deciphered(
    argument: bytes, called: bool, held: set[bytes], decrypters: set[bytes]
) -> bool:
    """Whether one argument of a runner is deciphered text: a variable holding it, or (when
    a parenthesis follows) a decrypter's call or the decipher's own ``update``/``final``."""
    value = argument.strip()
    if value in held:
        return True
    return called and (value in decrypters or _DECIPHER_CALL.fullmatch(value) is not None)


def _run_of_deciphered(data: bytes) -> tuple[int, int] | None:
    """Offset and length of the first call that runs deciphered text: what a decipher
    returns, a variable it filled or a decrypter's result was assigned to, or a decrypter's
    call itself, as an argument of a runner. Each runner's arguments are read up to their
    first parenthesis."""
    decrypters = _decrypters(data)
    held = {match.group(1) for match in islice(_DECIPHERED.finditer(data), MAX_NAMES)}
    if decrypters:
        assigned = (m.group(1) for m in _ASSIGNED.finditer(data) if m.group(2) in decrypters)
        held.update(islice(assigned, MAX_NAMES))
    candidates = 0
    for run in islice(_RUNNER.finditer(data), MAX_RUNS):
        head = data[run.end() : run.end() + _ARGUMENTS]
        cut = _PARENTHESIS.search(head)
        arguments = head[: cut.start()] if cut else head
        called = cut is not None and cut.group(0) == b"("
        pieces = arguments.split(b",")
        if not any(
            _runs_deciphered(piece, called and number == len(pieces) - 1, held, decrypters)
            for number, piece in enumerate(pieces)
        ):
            continue
        if not in_comment(data, run.start()):
            return run.start(), run.end() - run.start() + len(arguments) + called
        candidates += 1
        if candidates >= MAX_CANDIDATES:
            return None
    return None


def decrypted_code_exec_rule(package: Package) -> Indicator | None:
    """JavaScript that runs what it deciphers: ``crypto.createDecipheriv`` in a function
    whose result, or the text the decipher returns, is handed to ``eval``, ``Function``,
    ``vm`` or ``module._compile``.

    Only running files the ``js_decipher`` signature marked are read. Evidence:
    ``[{"file": str, "line": int, "code": str}]``.
    """
    evidence = []
    signals: list[Signal] = []
    for source in marked(package, "js_decipher"):
        found = _run_of_deciphered(source.data)
        if found is None:
            continue
        offset, length = found
        signal = signal_at(
            source, offset, length, DECRYPTED_EXEC_WEIGHT, "decrypted_code_exec", "decode_exec"
        )
        signals.append(signal)
        evidence.append({"file": source.path, "line": signal.line, "code": signal.excerpt})
    return indicator("decrypted_code_exec_rule", evidence[:20], signals)
