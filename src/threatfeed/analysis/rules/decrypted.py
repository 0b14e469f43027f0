"""Code kept encrypted in the package and run once deciphered.

An encrypted payload is noise to every signature: only the key, the decipher and the call
that runs the result are in the clear. ``crypto.createDecipheriv`` in a helper whose
result, or the text the decipher returns, reaches ``eval``, ``Function``, ``vm`` or
``module._compile`` is how JavaScript droppers (and event-stream's payload) hide: a library
that deciphers data hands the text to a parser, not to the interpreter.
"""

from __future__ import annotations

import re

from threatfeed.analysis.model import Indicator, Signal
from threatfeed.analysis.package import RUNNING, Package
from threatfeed.analysis.rules.base import in_comment, indicator, signal_at

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
#: The decipher's text handed over without a variable: ``eval(d.update(x, "hex", "utf8"))``.
_DECIPHER_CALL = rb"\w+\s*\.\s*(?:update|final)\s*\("
#: Where text runs as code.
_RUNNERS = rb"\b(?:eval|Function|runInThisContext|runInNewContext|runInContext|Script|_compile)"
#: How far back from a decipher its function's head is looked for.
_HEAD_WINDOW = 4096


def _decrypters(data: bytes) -> set[bytes]:
    """Names of the functions that decipher (the nearest head before each decipher call)."""
    names = set()
    for call in _DECIPHER.finditer(data):
        heads = list(_FUNCTION.finditer(data, max(0, call.start() - _HEAD_WINDOW), call.start()))
        if heads:
            names.add(heads[-1].group(1) or heads[-1].group(2))
    return names


def _run_of_deciphered(data: bytes) -> tuple[int, int] | None:
    """Offset and length of the first call that runs deciphered text: what a decipher
    returns, a variable it filled or a decrypter's result was assigned to, or a decrypter's
    call itself, as an argument of a runner."""
    decrypters = _decrypters(data)
    held = {match.group(1) for match in _DECIPHERED.finditer(data)}
    if decrypters:
        callees = b"|".join(re.escape(name) for name in decrypters)
        assigned = re.compile(rb"\b(\w+)\s*=\s*(?:await\s+)?(?:" + callees + rb")\s*\(")
        held |= {match.group(1) for match in assigned.finditer(data)}
    values = [_DECIPHER_CALL] + [re.escape(name) for name in held]
    values += [re.escape(name) + rb"\s*\(" for name in decrypters]
    run = re.compile(
        _RUNNERS + rb"\s*\((?:[^()]{0,200},)?\s*(" + b"|".join(values) + rb")(?![\w.])"
    )
    for match in run.finditer(data):
        if not in_comment(data, match.start()):
            return match.start(), len(match.group(0))
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
    for source in package.signed:
        if source.context not in RUNNING or not any(
            hit.rule == "js_decipher" for hit in source.signatures
        ):
            continue
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
