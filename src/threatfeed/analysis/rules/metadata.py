"""Rules on what the package declares about itself rather than on its code."""

from __future__ import annotations

import re

from threatfeed.analysis.model import Indicator, Signal
from threatfeed.analysis.package import Package
from threatfeed.analysis.rules.base import indicator

HIGH_MAJOR = 90
CALVER = range(1990, 2101)
HIGH_VERSION_WEIGHT = 4.0
#: A version built to win resolution whose install code reaches the network (an HTTP call
#: or a DNS lookup of a fixed name) is the dependency-confusion probe itself: the call
#: tells its author who resolved the name.
PROBE_WEIGHT = 6.0
PROBE_CAPABILITIES = frozenset({"network", "exfil", "dns_exfil"})
TRIVIAL_WEIGHT = 4.0
TRIVIAL_CODE_BYTES = 2048
_MAJOR = re.compile(r"^v?(\d+)")


def dependency_confusion_rule(package: Package) -> Indicator | None:
    """A very high major version (99.0.0, 1337.1.1): it wins version resolution against a
    company's internal package of the same name, the trick of dependency confusion.

    Calendar versions (2024.1.0) are not concerned. Weighs more when install-time code
    of the package reaches the network. Evidence: ``{"version": str}``.
    """
    match = _MAJOR.match(package.version or "")
    if match is None:
        return None
    major = int(match.group(1)[:9])
    if major < HIGH_MAJOR or major in CALVER:
        return None
    signals = [Signal(None, None, f"version {package.version}", HIGH_VERSION_WEIGHT, key="version")]
    signals += [
        Signal(source.path, None, "network at install", PROBE_WEIGHT, "install", key="probe")
        for source in package.at_install
        if any(hit.capability in PROBE_CAPABILITIES for hit in source.signatures)
    ][:1]
    return indicator("dependency_confusion_rule", {"version": package.version}, signals)


def trivial_package_rule(package: Package) -> Indicator | None:
    """Almost no code (and no binary): placeholders, squats and probes whose only content
    is a hook.

    Evidence: ``true``. Not enough alone (tiny legitimate packages exist), but in a package
    with almost no code every suspicious line is the point of the package, so it adds up.
    """
    if not holds_no_code(package):
        return None
    code = [f for f in package.files if f.is_code and f.rel != "setup.py"]
    signal = Signal(None, None, f"{len(code)} code file(s)", TRIVIAL_WEIGHT, key="trivial")
    return indicator("trivial_package_rule", True, [signal])


def holds_no_code(package: Package) -> bool:
    """Less than ``TRIVIAL_CODE_BYTES`` of code besides ``setup.py``, and no binary (a
    compiled extension holds its code in the binary)."""
    return thin(package) and not any(f.kind == "binary" for f in package.files)


def thin(package: Package) -> bool:
    """Less than ``TRIVIAL_CODE_BYTES`` of script code besides ``setup.py``; counted only
    until there is more, which in most packages is at their first module."""
    total = 0
    for source in package.files:
        if source.is_code and source.rel != "setup.py":
            total += len(source.data)
            if total > TRIVIAL_CODE_BYTES:
                return False
    return True
