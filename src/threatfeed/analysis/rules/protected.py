"""Protected code whose declared dependencies are a stealer's toolkit.

PyArmor and similar protectors hide what a module does from readers and from every
signature; commercial software uses them, so protection alone weighs little
(``obfuscated_code_rule``). What protection cannot hide is what the code needs installed:
the package's dependency list. A Discord webhook client next to a screen grabber, a
keylogger library or a browser-cookie reader is how stealers collect and send; commercial
protected packages (licence checks, SDKs, trading and automation tools) declare none of
these together.
"""

from __future__ import annotations

import posixpath
import re

from threatfeed.analysis.model import Indicator, Signal
from threatfeed.analysis.package import RUNNING, Package, SourceFile
from threatfeed.analysis.rules.base import indicator

#: Dependencies by the capability they give, normalised (lower case, ``_`` -> ``-``).
#: Only packages whose main use is the capability: ``requests``, ``pillow`` or ``psutil``
#: say nothing.
STEALER_DEPENDENCIES = {
    "webhook": frozenset({"dhooks", "dhooks-lite", "discord-webhook", "discordwebhook"}),
    "screen": frozenset({"mss", "pyscreenshot"}),
    "keys": frozenset({"pynput", "keyboard", "pyxhook"}),
    "browser": frozenset({"browser-cookie3", "browsercookie", "win32crypt"}),
}
#: Two capabilities at least: collecting and sending, or collecting two ways.
MIN_CAPABILITIES = 2
PROTECTED_STEALER_WEIGHT = 12.0
_PROTECTOR_SIGNATURES = frozenset({"python_protector"})
_MANIFESTS = frozenset({"setup.py", "setup.cfg", "pyproject.toml", "PKG-INFO"})
#: ``requests>=2``, ``Requires-Dist: mss``, ``'dhooks'`` in a list.
_LINE_NAME = re.compile(rb"(?m)^[ \t]*(?:Requires-Dist:[ \t]*)?([A-Za-z0-9][\w.-]*)")
_QUOTED_NAME = re.compile(rb"""["']([A-Za-z0-9][\w.-]*)[ \t]*(?:[<>=!~;\[][^"'\n]{0,60})?["']""")
MAX_MANIFEST = 64 * 1024


def _is_manifest(source: SourceFile) -> bool:
    base = posixpath.basename(source.rel)
    return (
        source.rel in _MANIFESTS
        or source.rel.endswith((".egg-info/requires.txt", ".dist-info/METADATA"))
        or ("/" not in source.rel and base.startswith("requirements") and base.endswith(".txt"))
    )


def declared_dependencies(package: Package) -> set[str]:
    """Names the manifests of the package list (and other words shaped like them: only
    the names of ``STEALER_DEPENDENCIES`` are looked up, so extra words cost nothing)."""
    names: set[str] = set()
    for source in package.files:
        if not _is_manifest(source):
            continue
        data = source.data[:MAX_MANIFEST]
        for pattern in (_LINE_NAME, _QUOTED_NAME):
            names.update(
                m.group(1).decode("ascii").lower().replace("_", "-") for m in pattern.finditer(data)
            )
    return names


def protected_code_stealer_dependencies_rule(package: Package) -> Indicator | None:
    """PyArmor-protected code in a package whose dependencies give two stealer capabilities
    or more (a Discord webhook client, screen capture, keyboard hooks, browser cookies).

    Evidence: ``[{"file": str, "dependencies": {capability: [name]}}]``, the protected
    module and what the package declares.
    """
    protected = [
        source
        for source in package.signed
        if source.kind == "python"
        and source.context in RUNNING
        and any(hit.rule in _PROTECTOR_SIGNATURES for hit in source.signatures)
    ]
    if not protected:
        return None
    declared = declared_dependencies(package)
    toolkit = {
        capability: sorted(names & declared)
        for capability, names in STEALER_DEPENDENCIES.items()
        if names & declared
    }
    if len(toolkit) < MIN_CAPABILITIES:
        return None
    evidence = [{"file": source.path, "dependencies": toolkit} for source in protected]
    signals = [
        Signal(
            source.path,
            None,
            "protected code with " + ", ".join(sorted(toolkit)),
            PROTECTED_STEALER_WEIGHT,
            source.context,
            key="protected_stealer",
        )
        for source in protected
    ]
    return indicator("protected_code_stealer_dependencies_rule", evidence, signals)
