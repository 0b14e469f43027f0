"""Code kept out of sight: in archives named like data, in dependencies installed behind
the resolver's back, in instructions for AI agents, behind a hijacked elevation prompt."""

from __future__ import annotations

import re

from threatfeed.analysis.model import Indicator, Signal
from threatfeed.analysis.package import Package
from threatfeed.analysis.rules.base import indicator
from threatfeed.analysis.rules.install import install_calls
from threatfeed.analysis.rules.signature_rules import signature_rule

privilege_escalation_rule = signature_rule(
    "privilege_escalation_rule",
    "Elevates without a prompt by hijacking an auto-elevating Windows program (fodhelper...).",
)
agent_instruction_injection_rule = signature_rule(
    "agent_instruction_injection_rule",
    "An agent tool whose description hides orders to read secrets or to keep them from the user.",
)

#: Names under which an archive is expected: packages, office documents, numpy bundles.
_ARCHIVE_NAME = re.compile(
    r"\.(zip|zipx|whl|egg|pyz|pyzw|jar|war|ear|aar|apk|ipa|xpi|crx|nupkg|vsix|docx|xlsx|pptx"
    r"|odt|ods|odp|epub|npz|kmz|tar|tgz|gz|bz2|xz|tbz2|txz|zst|7z)$",
    re.IGNORECASE,
)
_CODE = (".py", ".pyw", ".js", ".cjs", ".mjs")
DISGUISED_ARCHIVE_WEIGHT = 17.0


def disguised_code_archive_rule(package: Package) -> Indicator | None:
    """An archive of modules shipped under a name that is not an archive's (a zip of ``.py``
    files named ``server.crt`` or ``__pycache__/x.pyc``): ``zipimport`` and ``sys.path`` load
    modules from it whatever its name, while reviewers and scanners that do not open
    nested archives see a certificate or bytecode.

    Evidence: ``[{"file": str, "modules": [str]}]``, the outer file and the modules in it.
    """
    found: dict[str, list[str]] = {}
    signals: dict[str, Signal] = {}
    for source in package.files:
        outer, separator, inner = source.path.partition("!/")
        if not separator or _ARCHIVE_NAME.search(outer) or not inner.endswith(_CODE):
            continue
        found.setdefault(outer, []).append(inner)
        signals.setdefault(
            outer,
            Signal(
                outer,
                None,
                f"archive of code named {outer.rpartition('/')[2]}",
                DISGUISED_ARCHIVE_WEIGHT,
                source.context,
                frozenset({"obfuscation"}),
                "disguised_archive",
            ),
        )
    evidence = [{"file": outer, "modules": sorted(inner)[:20]} for outer, inner in found.items()]
    return indicator("disguised_code_archive_rule", evidence, signals.values())


#: ``pip install x``, ``["pip", "install", x]``, ``[sys.executable, "-m", "pip", "install"]``.
_PIP_INSTALL = re.compile(r"""\bpip[\d.]*(?:\.exe)?['"]?\s*,?\s*['"]?\s*install\b""")
PACKAGE_INSTALL_WEIGHT = 6.0


def install_time_package_install_rule(package: Package) -> Indicator | None:
    """Install-time code (``setup.py``, ``.pth``) that runs ``pip install`` itself: packages
    installed that way are in no metadata, so no lock file, resolver, mirror policy or
    scanner sees them, which is how a clean-looking package pulls its payload.

    Evidence: ``[{"file": str, "code": str}]``.
    """
    evidence = []
    signals = []
    for source in package.files:
        if source.context != "install" or source.kind != "python":
            continue
        for call in install_calls(source):
            if call.type in {"process", "background_process"} and _PIP_INSTALL.search(call.code):
                evidence.append({"file": source.path, "code": call.code})
                signals.append(
                    Signal(
                        source.path,
                        call.line,
                        call.code,
                        PACKAGE_INSTALL_WEIGHT,
                        source.context,
                        key="pip_install",
                    )
                )
    return indicator("install_time_package_install_rule", evidence[:20], signals)
