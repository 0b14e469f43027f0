"""Imports of modules whose names mix Latin letters with look-alikes from other scripts.

``import requ\u0435sts as requests`` (a Cyrillic ``\u0435``) imports the package's own
module of that name, which reads like the library everywhere it is used; so does a
``require`` of a name with a Cyrillic ``\u0430``. Names
written wholly in another script are not mixed. Read in Python rather than by a signature:
anchored on ``import``, a pattern is verified at every import of every module (a third of
the signature scan), while most code files hold no byte outside ASCII and are passed over
at once.
"""

from __future__ import annotations

import re

from threatfeed.analysis.signatures import SignatureHit

#: Cyrillic (with its supplement), Greek and Armenian letters, in UTF-8.
_LOOKALIKE = (
    rb"(?:[\xd0-\xd3][\x80-\xbf]|\xce[\x91-\xbf]|\xcf[\x80-\x89]|\xd5[\x80-\xbf]|\xd6[\x80-\x8f])"
)
_MIXED = rb"(?:[A-Za-z_]" + _LOOKALIKE + rb"|" + _LOOKALIKE + rb"[A-Za-z_])"
_IMPORT = re.compile(
    rb"[ \t]*(?:import|from)[ \t]+[\w., \t]{0,80}?"
    + _MIXED
    + rb"|.{0,120}?(?:require\s*\(\s*|\bimport\s*\(\s*|\bfrom\s+)[\"'`][\w./@-]{0,60}?"
    + _MIXED
)
#: The lead bytes of those letters, looked for first: the lines that hold one are read.
_LEAD = re.compile(rb"[\xce\xcf\xd0-\xd6]")
_NOT_LEAD = bytes(b for b in range(256) if not 0xCE <= b <= 0xD6)
#: Lines read per file: prose in Cyrillic or Greek fills thousands of them.
MAX_LINES = 200
LOOKALIKE_IMPORT_WEIGHT = 12.0


def lookalike_imports(data: bytes) -> tuple[SignatureHit, ...]:
    """The first such import of a code file, as the signature hit it stands for."""
    if data.isascii() or not data.translate(None, _NOT_LEAD):
        return ()  # most code files: no byte outside ASCII, or none that leads such a letter
    position = 0
    for _ in range(MAX_LINES):
        lead = _LEAD.search(data, position)
        if lead is None:
            return ()
        line = data.rfind(b"\n", max(0, lead.start() - 200), lead.start())
        start = line + 1 if line >= 0 else max(0, lead.start() - 200)
        end = data.find(b"\n", lead.start())
        end = len(data) if end < 0 else end
        head = data[start : lead.start()]
        if (b"import" in head or b"from" in head or b"require" in head) and (
            found := _IMPORT.match(data, start, min(end, start + 400))
        ):
            return (_hit(start, found.end() - start),)
        position = end + 1
    return ()


def _hit(offset: int, length: int) -> SignatureHit:
    return SignatureHit(
        "lookalike_module_name",
        "obfuscated_code_rule",
        "obfuscation",
        LOOKALIKE_IMPORT_WEIGHT,
        "imports a module whose name mixes Latin letters with Cyrillic, Greek or Armenian"
        " look-alikes",
        ((offset, length),),
    )
