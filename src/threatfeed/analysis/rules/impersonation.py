"""A look-alike name and what stands behind it: an empty placeholder, a copy of the very
package it imitates, or a technique it delivers."""

from __future__ import annotations

import posixpath

from threatfeed.analysis.model import Indicator, Signal
from threatfeed.analysis.package import RUNNING, Package
from threatfeed.analysis.rules.base import indicator, place_of
from threatfeed.analysis.rules.metadata import holds_no_code
from threatfeed.analysis.rules.typosquatting import imitated

#: With the name (3) and the empty package (4): a held look-alike name is flagged.
PLACEHOLDER_WEIGHT = 4.0
#: With the name (3): a copy of the imitated package under a look-alike name is flagged.
CLONE_WEIGHT = 8.0
#: With the name (3): a look-alike name in front of a technique is what delivers it.
CARRIER_WEIGHT = 4.0
#: Signature capabilities that are a payload rather than a plain ability (networking).
_PAYLOADS = frozenset(
    {
        "harvest",
        "exfil",
        "download_exec",
        "decode_exec",
        "reverse_shell",
        "persistence",
        "dropper",
        "obfuscation",
    }
)
#: Where a copy puts the imitated package's code: a Python package or module at the root
#: (or under ``src/``), an npm script at the root.
_PYTHON_PLACES = ("{0}/__init__.py", "{0}.py", "src/{0}/__init__.py", "src/{0}.py")
_NPM_PLACES = ("{0}.js", "{0}.min.js", "lib/{0}.js", "dist/{0}.js")


def _clone_of(package: Package, target: str) -> str | None:
    """The file through which the archive passes for ``target`` itself, if it has one."""
    if package.ecosystem == "pypi":
        places = [place.format(target.replace("-", "_")) for place in _PYTHON_PLACES]
    else:
        places = [place.format(posixpath.basename(target)) for place in _NPM_PLACES]
    return next((source.path for place in places if (source := package.file(place))), None)


def _carrier(package: Package) -> str | None:
    """The first running file with a payload signature outside its comments."""
    for source in package.signed:
        if source.context not in RUNNING or not source.is_code:
            continue
        for hit in source.signatures:
            if hit.capability in _PAYLOADS and any(
                place_of(source, offset) in RUNNING for offset, _ in hit.offsets
            ):
                return source.path
    return None


def impersonation_rule(package: Package) -> Indicator | None:
    """A name that imitates a popular package (see ``typosquatting_rule``) and a content
    that explains why: no code at all (the name is held until a version carries a
    payload), or the imitated package's own code under its own import name, so that a
    user who installs the wrong name notices nothing (``import loguru`` works after
    ``pip install loquru``); or a technique in its running code (stealing, exfiltration,
    download or decode and run, persistence, obfuscation): what the name delivers.

    Evidence: ``[{"imitates": str, "as": "placeholder" | "copy" | "carrier", "file": str |
    None}]``.
    """
    if package.ecosystem is None or not package.name:
        return None
    targets = imitated(package.name, package.ecosystem)
    if not targets:
        return None
    evidence: list[dict[str, str | None]] = []
    signals: list[Signal] = []
    if holds_no_code(package):
        evidence.append({"imitates": targets[0], "as": "placeholder", "file": None})
        signals.append(
            Signal(None, None, f"no code behind {package.name}", PLACEHOLDER_WEIGHT, key="held")
        )
    for target in targets:
        if (path := _clone_of(package, target)) is not None:
            evidence.append({"imitates": target, "as": "copy", "file": path})
            signals.append(
                Signal(path, None, f"{target} shipped as itself", CLONE_WEIGHT, key="copy")
            )
            break
    if (path := _carrier(package)) is not None:
        evidence.append({"imitates": targets[0], "as": "carrier", "file": path})
        signals.append(
            Signal(path, None, "a technique behind the name", CARRIER_WEIGHT, key="carrier")
        )
    return indicator("impersonation_rule", evidence, signals)
