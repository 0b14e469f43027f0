"""npm-specific rules: install hooks and the registry's security placeholders."""

from __future__ import annotations

import posixpath
import re

from threatfeed.analysis.model import Indicator, Signal
from threatfeed.analysis.package import Package, interpreted_targets
from threatfeed.analysis.rules.base import indicator

HOOK_WEIGHT = 1.5
NETWORK_TOOL_WEIGHT = 5.0
BACKGROUND_WEIGHT = 1.0
PAYLOAD_WEIGHT = 5.0
PLACEHOLDER_WEIGHT = 10.0
ODD_TARGET_WEIGHT = 4.0
#: Hooks that run when the published tarball is installed (``prepare`` does not).
_INSTALL_HOOKS = frozenset({"preinstall", "install", "postinstall"})
_SCRIPT_EXTS = frozenset({"", ".js", ".cjs", ".mjs", ".ts", ".sh", ".py", ".ps1", ".bat", ".cmd"})

_NETWORK_TOOL = re.compile(
    r"\b(curl|wget|nc|ncat|nslookup|dig|ping|Invoke-WebRequest|iwr|Invoke-RestMethod)\b", re.I
)
_PAYLOAD = re.compile(r"(\.(exe|bat|cmd|vbs|ps1|scr)\b|\bpowershell\b|\bstart\s)", re.I)
#: npm never needs root to install a package; a hook that asks for it wants the machine.
_PRIVILEGE = re.compile(r"(^|[;&|(]\s*)(sudo|su\s+-c|doas|pkexec)\s", re.I)
PRIVILEGE_WEIGHT = 6.0
_BACKGROUND = re.compile(r"(\bnohup\b|\bstart\s+/b\b|&\s*$|\bdisown\b|\bsetsid\b)", re.I)


def _odd_target(package: Package, command: str) -> bool:
    """A hook that runs a file the archive lacks, or a file that is not a script
    (``node lib/README.md``): the code hides elsewhere, or behind a harmless name."""
    for target in interpreted_targets(command):
        if target == "." or target.startswith("-"):
            continue
        present = any(f.rel == target or f.path.endswith("/" + target) for f in package.files)
        if not present or posixpath.splitext(target)[1].lower() not in _SCRIPT_EXTS:
            return True
    return False


def npm_hooks_rule(package: Package) -> Indicator | None:
    """Commands npm runs by itself on ``npm install``: the usual door of npm malware.

    Evidence: ``[str]``, the commands of ``preinstall``, ``install``, ``postinstall`` and
    ``prepare``. A hook alone weighs little (native builds use them); a hook calling a
    network tool, detaching into the background, asking for root (``sudo``), or running at
    install a file that the archive lacks or that is no script weighs more.
    """
    if package.ecosystem != "npm" or not package.hooks:
        return None
    manifest = next((f.path for f in package.files if f.rel == "package.json"), None)
    signals = []
    for hook, command in package.hooks.items():
        weight = HOOK_WEIGHT
        capabilities = {"install_hook"}
        if _NETWORK_TOOL.search(command):
            weight += NETWORK_TOOL_WEIGHT
            capabilities.add("network")
        if _BACKGROUND.search(command):
            weight += BACKGROUND_WEIGHT
        if _PAYLOAD.search(command):
            weight += PAYLOAD_WEIGHT
        if _PRIVILEGE.search(command):
            weight += PRIVILEGE_WEIGHT
        if hook in _INSTALL_HOOKS and _odd_target(package, command):
            weight += ODD_TARGET_WEIGHT
        signals.append(
            Signal(
                manifest,
                None,
                f"{hook}: {command}"[:160],
                weight,
                "install",
                frozenset(capabilities),
            )
        )
    return indicator("npm_hooks_rule", list(package.hooks.values()), signals)


def npm_security_placeholder_rule(package: Package) -> Indicator | None:
    """npm replaces a package removed for malware by a ``0.0.1-security`` placeholder.

    The placeholder holds no code, but it proves the name was used for malware. Evidence:
    ``true``.
    """
    if package.ecosystem != "npm" or not (package.version or "").endswith("-security"):
        return None
    signal = Signal(None, None, f"version {package.version}", PLACEHOLDER_WEIGHT, key="version")
    return indicator("npm_security_placeholder_rule", True, [signal])
