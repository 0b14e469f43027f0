"""Popular package names per ecosystem: the targets typosquatters imitate.

The data files (``data/popular-<ecosystem>.txt``, one name a line, most downloaded first)
are built from the public download ranks in the package lists of the tool library:

    python -m threatfeed.analysis.popular /work/.library/env/packages
"""

from __future__ import annotations

import csv
import sys
from functools import cache
from importlib import resources
from pathlib import Path

LIMIT = 15000


@cache
def popular_names(ecosystem: str) -> tuple[str, ...]:
    """Names by descending popularity; empty for an ecosystem without data."""
    entry = resources.files("threatfeed.analysis") / "data" / f"popular-{ecosystem}.txt"
    if not entry.is_file():
        return ()
    return tuple(line for line in entry.read_text(encoding="utf-8").splitlines() if line)


def _ranked_pypi(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = [
            (int(row["rank_among_15000_most_downloaded"]), row["name"])
            for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
            if (row.get("rank_among_15000_most_downloaded") or "").isdigit()
        ]
    return [name for _, name in sorted(rows)][:LIMIT]


def _ranked_npm(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        next(reader)
        rows = [(-int(row[2]), row[0]) for row in reader if len(row) > 2 and row[2].isdigit()]
    return [name for _, name in sorted(rows)][:LIMIT]


def build(packages: Path, target: Path) -> None:
    for ecosystem, ranked in (
        ("pypi", _ranked_pypi(packages / "pypi.tsv")),
        ("npm", _ranked_npm(packages / "npm.tsv")),
    ):
        (target / f"popular-{ecosystem}.txt").write_text("\n".join(ranked) + "\n", "utf-8")


if __name__ == "__main__":
    build(Path(sys.argv[1]), Path(__file__).parent / "data")
