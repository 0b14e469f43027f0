"""Safe reading of package archives: bytes in, members out, limits enforced.

Nothing is extracted to disk, executed or followed; see `read_archive`.
"""

from threatfeed.archives.model import (
    FINDING_KINDS,
    ArchiveContents,
    Finding,
    Limits,
    Member,
)
from threatfeed.archives.reader import read_archive

__all__ = ["FINDING_KINDS", "ArchiveContents", "Finding", "Limits", "Member", "read_archive"]
