"""What the archive reader saw in the archive's structure, as evidence."""

from __future__ import annotations

from threatfeed.analysis.model import Indicator, Signal
from threatfeed.analysis.package import Package
from threatfeed.analysis.rules.base import indicator

#: Registry tools never produce these; an archive built to escape extraction does.
FINDING_WEIGHTS = {
    "path_traversal": 7.0,
    "link_outside": 7.0,
    "absolute_path": 5.0,
    "path_through_link": 5.0,
    "device": 4.0,
    "compression_bomb": 4.0,
    "name_mismatch": 3.0,
    "hardlink": 2.0,
    "duplicate_name": 2.0,
    "odd_name_encoding": 1.0,
    "huge_header": 2.0,
    "symlink": 1.0,
    "too_many_members": 1.0,
    "archive_too_large": 1.0,
    "time_limit": 1.0,
    "encrypted_member": 1.0,
    "member_too_large": 0.5,
    "deep_path": 0.5,
}
UNKNOWN_WEIGHT = 0.5
#: A file run at install (``setup.py``, a hook's script) cut at the member limit: no build
#: script is tens of megabytes for a good reason, and its unread tail is where a payload
#: padded past every reader would sit.
UNREAD_INSTALL_CODE_WEIGHT = 8.0
#: Inside a nested archive (``outer!/inner``) the finding is about data the package ships
#: (test fixtures of archive libraries), not about what installing it extracts.
NESTED_FACTOR = 0.2


def archive_structure_rule(package: Package) -> Indicator | None:
    """Links leaving the package, traversal, absolute paths, devices, bombs, duplicates...

    Evidence: ``[{"kind": str, "path": str, "detail": str}]`` as the archive reader
    reported them (``nested_archive`` is not evidence: wheels in sdists are common).
    """
    findings = [f for f in package.findings if f.kind != "nested_archive"]
    evidence = [{"kind": f.kind, "path": f.path, "detail": f.detail} for f in findings]
    run_at_install = {f.path for f in package.at_install if f.truncated}
    signals = [
        Signal(
            None,
            None,
            f"{f.kind}: {f.path}",
            FINDING_WEIGHTS.get(f.kind, UNKNOWN_WEIGHT) * (NESTED_FACTOR if "!/" in f.path else 1),
            key=f.kind,
        )
        for f in findings
    ]
    signals += [
        Signal(path, None, f"install-time file not read whole: {path}", UNREAD_INSTALL_CODE_WEIGHT)
        for path in sorted(run_at_install)
    ]
    return indicator("archive_structure_rule", evidence[:50], signals)
