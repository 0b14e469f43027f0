"""Where the code talks to: suspicious hosts in URLs, and hard-coded public IP addresses."""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

from threatfeed.analysis.model import Indicator, Signal
from threatfeed.analysis.package import Package
from threatfeed.analysis.rules.base import indicator, signal_at
from threatfeed.analysis.text import decode

MAX_ITEMS = 20
#: Public resolvers are used by legitimate connectivity checks, ``1.2.3.4`` is the usual
#: placeholder of examples, ``168.63.129.16`` is Azure's platform endpoint that SSRF
#: guards list: they identify nobody's server.
_WELL_KNOWN = frozenset(
    {
        "8.8.8.8",
        "8.8.4.4",
        "1.1.1.1",
        "1.0.0.1",
        "9.9.9.9",
        "208.67.222.222",
        "1.2.3.4",
        "168.63.129.16",
    }
)
_IP = re.compile(rb"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")
_STOP = b" \t\r\n\"'`<>()[]{},;\\"
_UNSTOPPED = re.compile(b"[^" + re.escape(_STOP) + b"]*")
IP_WEIGHT = 2.0


def _token(data: bytes, offset: int, length: int) -> str:
    """The whole URL or host name around a match, bounded to a sane length: at most 200
    bytes before it and 300 from its start."""
    before = _UNSTOPPED.match(data[max(0, offset - 200) : offset][::-1])
    start = offset - (before.end() if before else 0)
    end = offset + length
    if end < offset + 300 and (after := _UNSTOPPED.match(data, end, offset + 300)):
        end = after.end()
    return decode(data[start:end])


def suspicious_url_references_rule(package: Package) -> Indicator | None:
    """URLs and hosts of exfiltration services, OAST hosts, tunnels, paste sites and raw IPs.

    Evidence: ``[{"file": str, "urls": [str]}]``.
    """
    evidence = []
    signals: list[Signal] = []
    for source in package.signed:
        if not (hits := source.hits("suspicious_url_references_rule")):
            continue
        urls: dict[str, None] = {}
        sends = any(hit.capability in _SENDING for hit in source.signatures)
        for hit in hits:
            kept = [
                (offset, length, token)
                for offset, length in hit.offsets
                if _worth_reporting(token := _token(source.data, offset, length), hit.capability)
            ]
            for _, _, token in kept:
                urls.setdefault(token)
            if kept:
                offset, length, _ = kept[0]
                weight = hit.weight
                if not sends and all(_bare_host(token) for _, _, token in kept):
                    weight *= BARE_HOST_FACTOR
                signals.append(signal_at(source, offset, length, weight, hit.rule, hit.capability))
        if urls:
            evidence.append({"file": source.path, "urls": list(urls)[:MAX_ITEMS]})
    return indicator("suspicious_url_references_rule", evidence, signals)


#: A host name with no scheme and no path, in a file that sends nothing and runs nothing,
#: is a name in a list (blocklists of disposable-mail and tunnel domains), not an endpoint.
BARE_HOST_FACTOR = 0.3
_SENDING = frozenset({"network", "dns_exfil", "exec", "download_exec", "reverse_shell"})


def _bare_host(token: str) -> bool:
    """``webhook.site``, ``x.duckdns.org``: not a URL, a path, or a token (``123:AA...``)."""
    return "." in token and not any(mark in token for mark in ("/", ":", "?", "@"))


def _worth_reporting(url: str, capability: str) -> bool:
    """A raw-IP URL matters only when the address is public (not loopback, LAN, 0.0.0.0)."""
    if capability != "raw_ip":
        return True
    match = _IP.search(url.encode())
    return match is not None and public_ip(match.group().decode()) is not None


#: What precedes a version written in four parts (``version="1.26.25.14"``, ``"version":
#: "2.1.0.3"``, ``Version: 4.21.0.1``, a requirement ``httpd==2.4.69.1``): not an address.
_VERSION_BEFORE = re.compile(rb"(version[\W_]{0,8}|[=<>~!]=\s*|[<>]\s*)$", re.IGNORECASE)


def names_a_version(data: bytes, offset: int) -> bool:
    """The address-like text at ``offset`` is a version: of a ``version`` field, or in a
    requirement."""
    return _VERSION_BEFORE.search(data, max(0, offset - 20), offset) is not None


def public_ip_in(data: bytes) -> bool:
    match = _IP.search(data)
    return match is not None and public_ip(match.group().decode()) is not None


@lru_cache(maxsize=4096)  # addresses come from attackers: bounded
def public_ip(text: str) -> str | None:
    """``text`` when it is a public address worth reporting (``ipaddress`` is slow, and the
    same addresses come back in every file and package that names them)."""
    try:
        address = ipaddress.IPv4Address(text)
    except ValueError:
        return None
    if not address.is_global or text in _WELL_KNOWN or text.startswith("0"):
        return None
    # ``x.y.z.0`` names a network, not a host, and is what versions look like (1.0.0.0,
    # Chrome/131.0.0.0)
    return None if text.endswith(".0") else text


def ip_identification_rule(package: Package) -> Indicator | None:
    """Hard-coded public IPv4 addresses in code: command-and-control servers rarely have names.

    All addresses together count as one observation: documentation, tests and OIDs that
    look like addresses are common in benign packages. Evidence:
    ``[{"file": str, "ip": str}]``, one object per file and address.
    """
    evidence = []
    signals: list[Signal] = []
    for source in package.signed:
        if source.kind in {"binary", "data"}:
            continue
        seen: set[str] = set()
        for hit in source.hits("ip_identification_rule"):
            for offset, length in hit.offsets:
                match = _IP.search(source.data, offset, offset + length)
                ip = public_ip(match.group().decode()) if match else None
                if ip is None or ip in seen or match is None:
                    continue
                if names_a_version(source.data, match.start()):
                    continue
                seen.add(ip)
                evidence.append({"file": source.path, "ip": ip})
                signals.append(signal_at(source, match.start(), len(ip), IP_WEIGHT, "ip", "raw_ip"))
    return indicator("ip_identification_rule", evidence[:MAX_ITEMS], signals)
