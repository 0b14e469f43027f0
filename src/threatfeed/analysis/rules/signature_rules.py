"""Rules whose evidence is a set of YARA signatures (see ``analysis/yara/*.yar``).

Evidence shape, for each of them: ``[{"file": str, "line": int, "signatures": [str]}]``,
one object per file, ``signatures`` being the human labels of the matching YARA rules.
"""

from __future__ import annotations

from threatfeed.analysis.model import Indicator, Signal
from threatfeed.analysis.package import Package
from threatfeed.analysis.rules.base import Rule, hit_signal, indicator
from threatfeed.analysis.signatures import CUSTOM_INDICATOR


def signature_rule(name: str, doc: str) -> Rule:
    """A rule reporting every file matched by the YARA rules tagged ``indicator = name``."""

    def rule(package: Package) -> Indicator | None:
        evidence = []
        signals: list[Signal] = []
        for source in package.signed:
            hits = source.hits(name)
            if not hits:
                continue
            file_signals = [hit_signal(source, hit) for hit in hits]
            signals += file_signals
            evidence.append(
                {
                    "file": source.path,
                    "line": min(s.line or 0 for s in file_signals),
                    "signatures": sorted({hit.label for hit in hits}),
                }
            )
        return indicator(name, evidence, signals)

    rule.__name__ = rule.__qualname__ = name
    rule.__doc__ = doc
    return rule


executes_code_at_remote_url_rule = signature_rule(
    "executes_code_at_remote_url_rule",
    "Downloads code or an executable and runs it (curl | sh, exec(urlopen()), iwr | iex...).",
)
decode_and_execute_rule = signature_rule(
    "decode_and_execute_rule",
    "Executes code decoded from a blob: exec(b64decode()), eval(atob()), Function(Buffer...).",
)
reverse_shell_rule = signature_rule(
    "reverse_shell_rule", "Wires a shell to a network socket (/dev/tcp, dup2+pty, net+spawn)."
)
powershell_dropper_rule = signature_rule(
    "powershell_dropper_rule",
    "PowerShell -EncodedCommand, download-and-run with Invoke-WebRequest, Defender tampering.",
)
persistence_rule = signature_rule(
    "persistence_rule", "Makes itself run at logon: Run keys, Startup folder, cron, LaunchAgents."
)
clipboard_hijack_rule = signature_rule(
    "clipboard_hijack_rule",
    "Swaps in its own cryptocurrency addresses: in the clipboard (a clipper), or in the web\n"
    "traffic and wallet requests of the page it runs in (a browser drainer).",
)
credential_harvesting_rule = signature_rule(
    "credential_harvesting_rule",
    "Reads browser, wallet, messenger, SSH, cloud credentials, /etc/passwd or the whole env.",
)
dns_exfiltration_rule = signature_rule(
    "dns_exfiltration_rule", "Encodes host or user data into DNS lookups (nslookup $(whoami).x)."
)
destructive_command_rule = signature_rule(
    "destructive_command_rule", "Shuts the machine down or wipes it (shutdown, rm -rf /, mkfs)."
)
yara_signature_rule = signature_rule(
    CUSTOM_INDICATOR, "Matches of the user's own YARA rules (Engine(extra_yara_dir=...))."
)
