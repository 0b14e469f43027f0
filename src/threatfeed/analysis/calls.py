"""Classifying calls by what they can do, shared by the Python and JavaScript readers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

#: What a suspicious call does, and how much it weighs when it runs at install time.
CALL_WEIGHTS: Final = {
    "code_execution": 5.0,
    "download": 5.0,
    "network": 4.0,
    "process": 2.5,
    "browser": 2.0,
    "decode": 2.0,
    "recon": 1.0,
    "background_process": 5.0,
    "environment": 5.0,
    "install_command_override": 1.0,
    "startup_hook": 1.0,
}

#: Calls whose capability feeds the per-file correlation in the scorer.
CALL_CAPABILITIES: Final = {
    "code_execution": "exec",
    "download": "network",
    "network": "network",
    "process": "exec",
    "decode": "decode",
    "recon": "recon",
    "background_process": "exec",
    "environment": "harvest",
}


@dataclass(frozen=True)
class Call:
    """A call found by a parser: its resolved name, what it does, where, and its source."""

    name: str
    type: str
    line: int
    code: str
