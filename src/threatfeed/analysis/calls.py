"""Classifying calls by what they can do, shared by the Python and JavaScript readers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

#: What a suspicious call does, and how much it weighs when it runs at install time.
CALL_WEIGHTS: Final = {
    "remote_code_execution": 10.0,
    "decoded_code_execution": 8.0,
    "code_execution": 5.0,
    "launches_payload": 6.0,
    "download": 5.0,
    "network": 5.0,
    "process": 2.5,
    "browser": 2.0,
    "hidden_code": 6.0,
    "hidden_string": 5.0,
    "decode": 2.0,
    "recon": 1.0,
    "background_process": 6.0,
    "environment": 5.0,
    "install_command_override": 1.0,
    "startup_hook": 1.0,
}

#: Extra weight of an active call made from an overridden setuptools install command: it
#: runs on ``pip install`` for sure, not only when a helper happens to be called.
HOOK_BONUS = 3.0
ACTIVE_TYPES = frozenset(
    {"process", "background_process", "network", "download", "code_execution", "launches_payload"}
)

#: Calls whose capability feeds the per-file correlation in the scorer.
CALL_CAPABILITIES: Final = {
    "code_execution": "exec",
    "remote_code_execution": "download_exec",
    "decoded_code_execution": "decode_exec",
    "launches_payload": "exec",
    "download": "network",
    "network": "network",
    "process": "exec",
    "decode": "decode",
    "hidden_string": "decode",
    "hidden_code": "decode_exec",
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
    in_hook: bool = False
