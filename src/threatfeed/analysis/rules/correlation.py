"""Capabilities that mean little alone and much together, in one file.

A network call is everywhere, so is reading ``os.environ``; code that collects identity or
secrets *and* sends them, in the same file, is what stealers and dependency-confusion
beacons look like. Capabilities come from the signatures (``capability`` metadata).
Evidence of each rule: ``[{"file": str, "capabilities": [str]}]``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from threatfeed.analysis.calls import CALL_CAPABILITIES
from threatfeed.analysis.memo import per_package
from threatfeed.analysis.model import Indicator, Signal
from threatfeed.analysis.package import RUNNING, Package, SourceFile
from threatfeed.analysis.rules.base import in_comment, in_manifest_outside_hooks, indicator
from threatfeed.analysis.rules.install import install_calls
from threatfeed.analysis.rules.network import names_a_version, public_ip, public_ip_in

SENDS = frozenset({"network", "exfil", "dns_exfil"})
#: Where code runs when the package is installed or used (not tests, not docs).
EXFIL_WEIGHT = 10.0
BEACON_WEIGHT = 10.0
#: A beacon that surveys the machine (three facts or more: host, user, network, place) is
#: an inventory, not a log tag or an SMTP greeting that needs the host name alone.
SURVEY_BONUS = 5.0
INSTALL_DOWNLOAD_WEIGHT = 6.0
RAW_IP_WEIGHT = 12.0
HIDDEN_ENDPOINT_WEIGHT = 11.0
STAGING_HOST_WEIGHT = 8.0
#: ... and runs commands or code in the same file: the fetched stage is what it runs.
STAGE_RUN_BONUS = 4.0
#: Hosts that anyone can publish to anonymously: paste sites, file drops, tunnels. Not
#: messenger APIs: bot and webhook libraries talk to those for a living.
STAGING_SIGNATURES = frozenset(
    {"payload_hosting_url", "anonymous_file_drop_url", "tunnel_or_dynamic_dns_url"}
)
#: Only these harvesting signatures count with any network call: SSH keys or cloud
#: configuration read by a networking library are normal (paramiko, docker, boto).
STRONG_HARVEST_WEIGHT = 5.0
OBFUSCATED_NETWORK_WEIGHT = 8.0
#: Weak obfuscation signals (``lIlI`` names) come from generators and are left out.
STRONG_OBFUSCATION_WEIGHT = 5.0


def _public_ip_url(source: SourceFile) -> bool:
    return any(
        public_ip_in(source.data[offset : offset + length]) and not in_comment(source.data, offset)
        for hit in source.signatures
        if hit.rule == "raw_ip_url"
        for offset, length in hit.offsets
    )


_QUOTED_IP = re.compile(rb"([\"'])(\d{1,3}(?:\.\d{1,3}){3})(?::\d{1,5})?\1")
#: An address handed to a parser is data (allow and deny lists of SSRF guards, validators).
_PARSED = re.compile(rb"(ip_address|ip_network|ip_interface|IPv4Address|IPv4Network)\s*\(\s*$")


def _quoted_public_ip(source: SourceFile) -> bool:
    """A string literal that is nothing but a public address (``HOST = "203.0.113.9"``),
    the way a reverse shell or a dropper names its server; OIDs and versions that look
    like addresses sit in files that do not talk to the network, and addresses in
    comments or given to an address parser are examples and data."""
    for hit in source.signatures:
        if hit.rule != "ipv4_literal":
            continue
        for offset, length in hit.offsets:
            match = _QUOTED_IP.match(source.data, offset, offset + length + 7)
            if (
                match
                and public_ip(match.group(2).decode()) is not None
                and not in_comment(source.data, offset)
                and not _PARSED.search(source.data[max(0, offset - 40) : offset])
                and not names_a_version(source.data, offset)
            ):
                return True
    return False


def _capabilities(source: SourceFile) -> frozenset[str]:
    """What the signatures saw, plus what the parsed calls of install-time code do. In
    ``package.json`` only what the install hooks say counts (developer scripts do not run)."""
    hits = source.signatures
    if source.rel == "package.json":
        hits = tuple(
            hit
            for hit in hits
            if not hit.offsets
            or any(not in_manifest_outside_hooks(source, offset) for offset, _ in hit.offsets)
        )
    found = {hit.capability for hit in hits}
    if source.context == "install" and source.kind in {"python", "javascript"}:
        found |= {
            CALL_CAPABILITIES[c.type] for c in install_calls(source) if c.type in CALL_CAPABILITIES
        }
    return frozenset(found)


@per_package
def _capable(package: Package) -> tuple[tuple[SourceFile, frozenset[str]], ...]:
    """The files with capabilities, with them, for every correlation rule in turn. Only
    files with signature hits or run at install can have any (a tenth of them)."""
    return tuple(
        (source, capabilities)
        for source in package.files
        if (source.signatures or source.context == "install")
        and (capabilities := _capabilities(source))
    )


def _correlate(
    name: str,
    weight: float | Callable[[SourceFile], float],
    package: Package,
    test: Callable[[SourceFile, frozenset[str]], bool],
) -> Indicator | None:
    """Report the files where ``test`` holds of their capabilities."""
    evidence = []
    signals = []
    for source, capabilities in _capable(package):
        if test(source, capabilities):
            points = weight(source) if callable(weight) else weight
            evidence.append({"file": source.path, "capabilities": sorted(capabilities)})
            signals.append(Signal(source.path, None, "", points, source.context, key=name))
    return indicator(name, evidence, signals)


def strong_harvest(source: SourceFile) -> bool:
    """Whether a file harvests what no networking library reads for its own use
    (``STRONG_HARVEST_WEIGHT``)."""
    return any(
        hit.capability == "harvest" and hit.weight >= STRONG_HARVEST_WEIGHT
        for hit in source.signatures
    )


def data_exfiltration_rule(package: Package) -> Indicator | None:
    """Harvests secrets and sends data, in one file (token grabbers, wallet stealers)."""

    def test(source: SourceFile, capabilities: frozenset[str]) -> bool:
        strong = strong_harvest(source)
        harvest_at_install = source.context == "install" and "harvest" in capabilities
        return ("harvest" in capabilities and "exfil" in capabilities) or (
            (strong or harvest_at_install) and bool(capabilities & SENDS)
        )

    return _correlate("data_exfiltration_rule", EXFIL_WEIGHT, package, test)


def install_time_beacon_rule(package: Package) -> Indicator | None:
    """Collects host or user identity and sends it, in code run on install or import.

    This is the dependency-confusion probe: it tells its author which company installed
    the package. Tests and docs are not concerned: they do not run on install. JavaScript
    modules of npm packages that run later count too, weighed as their context (0.6 for
    ordinary code): a Node library has little use for the machine's host and user name next
    to a request, whereas Python networking libraries (SSH, SMTP, build tools) routinely do.
    The JavaScript of a PyPI package is served to browsers (bundled front ends, where
    minified libraries put both words in one file by chance), not run by Node. A file that
    collects three facts or more (host, user, network interfaces or DNS servers, working or
    home folder) weighs more.
    """

    def test(source: SourceFile, capabilities: frozenset[str]) -> bool:
        runs = source.context in {"install", "import"} or (
            package.ecosystem == "npm"
            and source.kind == "javascript"
            and source.context in {"code", "imported"}
        )
        return runs and "recon" in capabilities and bool(capabilities & SENDS)

    def weight(source: SourceFile) -> float:
        surveyed = any(hit.rule == "host_survey" for hit in source.signatures)
        return BEACON_WEIGHT + (SURVEY_BONUS if surveyed else 0.0)

    return _correlate("install_time_beacon_rule", weight, package, test)


def raw_ip_endpoint_rule(package: Package) -> Indicator | None:
    """Sends to a URL whose host is a public IP address, or names such an address in a
    string of its own, in one file that talks to the network or runs commands.

    Services have names; a hard-coded address talked to by the same code is how small
    command-and-control servers and collectors are reached.
    """

    def test(source: SourceFile, capabilities: frozenset[str]) -> bool:
        runs = source.context in RUNNING
        return (
            runs
            and source.is_code
            and bool(capabilities & {"network", "exec"})
            and (
                _public_ip_url(source)
                or (source.kind in {"python", "javascript"} and _quoted_public_ip(source))
            )
        )

    return _correlate("raw_ip_endpoint_rule", RAW_IP_WEIGHT, package, test)


def install_time_download_rule(package: Package) -> Indicator | None:
    """``setup.py`` that reaches the network and runs commands: a dropper at install.

    Limited to Python install code: npm packages of native tools (esbuild, electron)
    legitimately download and run their binary from an install script.
    """

    def test(source: SourceFile, capabilities: frozenset[str]) -> bool:
        return (
            source.context == "install"
            and source.kind == "python"
            and "exec" in capabilities
            and bool(capabilities & SENDS)
        )

    return _correlate("install_time_download_rule", INSTALL_DOWNLOAD_WEIGHT, package, test)


def hidden_endpoint_rule(package: Package) -> Indicator | None:
    """Sends over the network from a file that spells a URL in base64, in code that runs.

    A service's address needs no hiding; a collector's or a second stage's does, from
    reviewers and from scanners that list URLs.
    """

    def test(source: SourceFile, capabilities: frozenset[str]) -> bool:
        runs = source.context in RUNNING
        return runs and "hidden_url" in capabilities and bool(capabilities & SENDS)

    return _correlate("hidden_endpoint_rule", HIDDEN_ENDPOINT_WEIGHT, package, test)


def staging_host_rule(package: Package) -> Indicator | None:
    """Talks to a paste site, an anonymous file drop or a tunnel, from code that runs.

    Real services are not reached through ``pastebin.com/raw`` or ``*.ngrok-free.app``; a
    second stage, a command list or a collector run from a laptop is.
    """

    def test(source: SourceFile, capabilities: frozenset[str]) -> bool:
        runs = source.context in RUNNING
        staged = any(hit.rule in STAGING_SIGNATURES for hit in source.signatures)
        return runs and staged and "network" in capabilities

    def weight(source: SourceFile) -> float:
        executes = any(hit.capability in {"exec", "decode_exec"} for hit in source.signatures)
        return STAGING_HOST_WEIGHT + (STAGE_RUN_BONUS if executes else 0.0)

    return _correlate("staging_host_rule", weight, package, test)


def obfuscated_network_code_rule(package: Package) -> Indicator | None:
    """Sends over the network from a file that hides its code, in code that runs.

    Code that talks to the network has nothing to hide from its readers; code that spells
    its names in character codes or renames ``exec`` before making requests does.
    """

    def test(source: SourceFile, capabilities: frozenset[str]) -> bool:
        runs = source.context in RUNNING
        hidden = any(
            hit.capability == "obfuscation" and hit.weight >= STRONG_OBFUSCATION_WEIGHT
            for hit in source.signatures
        )
        return runs and hidden and bool(capabilities & SENDS)

    return _correlate("obfuscated_network_code_rule", OBFUSCATED_NETWORK_WEIGHT, package, test)
