"""Scan results as SARIF 2.1.0, so code-scanning tools can show them.

One SARIF result per indicator of each archive; the archive is the artifact and
the file inside it, when the engine knows it, goes in the logical location.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from threatfeed import __version__
from threatfeed.scanner import ScanResult

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _message(rule: str, evidence: Any) -> str:
    text = json.dumps(evidence, ensure_ascii=False)
    return f"{rule}: {text[:1000]}"


def _result(scan: ScanResult, rule: str, evidence: Any) -> dict[str, Any]:
    where = next((loc for loc in scan.analysis.locations if loc.rule == rule), None)
    location: dict[str, Any] = {"physicalLocation": {"artifactLocation": {"uri": scan.path}}}
    if where is not None:
        location["logicalLocations"] = [{"fullyQualifiedName": where.file, "kind": "module"}]
        if where.line is not None:
            location["properties"] = {"memberLine": where.line}
    return {
        "ruleId": rule,
        "level": "error" if scan.analysis.flagged else "note",
        "message": {"text": _message(rule, evidence)},
        "locations": [location],
        "properties": {"score": scan.analysis.score, "sha256": scan.analysis.sha256},
    }


def to_sarif(results: Iterable[ScanResult]) -> dict[str, Any]:
    findings: list[dict[str, Any]] = []
    rules: set[str] = set()
    notifications = []
    for scan in results:
        for rule, evidence in scan.analysis.indicators.items():
            rules.add(rule)
            findings.append(_result(scan, rule, evidence))
        notifications += [
            {"level": "warning", "message": {"text": f"{scan.path}: {error}"}}
            for error in scan.analysis.errors
        ]
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "threatfeed",
                        "version": __version__,
                        "informationUri": "https://github.com/threatfeed/threatfeed",
                        "rules": [{"id": rule} for rule in sorted(rules)],
                    }
                },
                "invocations": [
                    {"executionSuccessful": True, "toolExecutionNotifications": notifications}
                ],
                "results": findings,
            }
        ],
    }
