"""Names one typo away from a popular package of the same ecosystem."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache

from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein, Indel, Levenshtein

from threatfeed.analysis.model import Indicator, Signal
from threatfeed.analysis.package import Package
from threatfeed.analysis.popular import popular_names
from threatfeed.analysis.rules.base import indicator

#: Only names this popular are worth imitating; the full list (15,000) is what is exempt.
TARGETS = 5000
MIN_LENGTH = 5
WEIGHT = 3.0
#: Suffixes and prefixes of legitimate families around a popular name (``requests2``,
#: ``pyyaml`` next to ``yaml``): they are one or two edits away but not imitations.
LEGIT_AFFIXES = frozenset({"2", "3", "4", "5", "js", "py", "-js", "-py", "x", "-x", "ts", "-ts"})
_HOMOGLYPHS = (("rn", "m"), ("vv", "w"), ("0", "o"), ("1", "l"), ("3", "e"), ("5", "s"), ("i", "l"))
_SEPARATORS = re.compile(r"[-_.]+")


def normalize(name: str) -> str:
    """PEP 503 normalisation, also right for npm's lower-case names."""
    return _SEPARATORS.sub("-", name.strip().lower())


def skeleton(name: str) -> str:
    """Without separators and with look-alike characters folded: ``req-uest5`` ~ ``requests``."""
    folded = normalize(name).replace("-", "")
    for lookalike, letter in _HOMOGLYPHS:
        folded = folded.replace(lookalike, letter)
    return folded


@dataclass(frozen=True)
class _Index:
    exempt: frozenset[str]
    targets: tuple[str, ...]
    skeletons: dict[str, str]


@cache
def _index(ecosystem: str) -> _Index:
    names = [normalize(n) for n in popular_names(ecosystem)]
    targets = tuple(n for n in names[:TARGETS] if len(n) >= MIN_LENGTH)
    skeletons: dict[str, str] = {}
    for target in targets:
        skeletons.setdefault(skeleton(target), target)
    return _Index(frozenset(names), targets, skeletons)


@lru_cache(maxsize=512)  # lengths come from attacker names: bounded
def _targets_of_length(ecosystem: str, length: int, spread: int) -> tuple[str, ...]:
    """Targets at most ``spread`` characters longer or shorter, in popularity order: no
    other can be within ``spread`` edits, so the fuzzy search need not score them."""
    return tuple(t for t in _index(ecosystem).targets if abs(len(t) - length) <= spread)


def _affix_family(name: str, target: str) -> bool:
    if name.startswith(target):
        return name[len(target) :] in LEGIT_AFFIXES
    if name.endswith(target):
        return name[: -len(target)] in LEGIT_AFFIXES
    return False


def _near(wanted: str, targets: tuple[str, ...], edits: int) -> list[str]:
    """The targets that may be within ``edits`` Levenshtein edits, in their order: those
    within twice as many insertions and deletions (a substitution is one of each). Indel
    scores each target in half the time, and leaves few for Levenshtein to score; ties of
    ``process.extract`` keep the order of its choices, so its answer is unchanged."""
    near = process.extract(
        wanted, targets, scorer=Indel.distance, score_cutoff=2 * edits, limit=None
    )
    return [targets[index] for index in sorted(index for _, _, index in near)]


def imitated(name: str, ecosystem: str) -> list[str]:
    """Popular names that ``name`` imitates, most popular first; none for popular names."""
    return list(_imitated(normalize(name), ecosystem))


@lru_cache(maxsize=4096)  # names come from attackers: bounded
def _imitated(wanted: str, ecosystem: str) -> tuple[str, ...]:
    """``imitated`` of a normalised name, remembered: every version of a package (and every
    scan of one) asks again, and the fuzzy search is most of the rule's cost."""
    index = _index(ecosystem)
    if wanted in index.exempt or len(wanted) < MIN_LENGTH:
        return ()
    found: dict[str, None] = {}
    if (twin := index.skeletons.get(skeleton(wanted))) and twin != wanted:
        found[twin] = None
    limit = 1 if len(wanted) < 8 else 2
    # Levenshtein is bit-parallel and fast; a transposition costs it 2, so take one more
    # and keep what Damerau-Levenshtein (transposition = 1) accepts.
    candidates = _near(wanted, _targets_of_length(ecosystem, len(wanted), limit + 1), limit + 1)
    for target, _, _ in process.extract(
        wanted, candidates, scorer=Levenshtein.distance, score_cutoff=limit + 1, limit=10
    ):
        close = DamerauLevenshtein.distance(wanted, target) <= limit
        if close and not _affix_family(wanted, target):
            found[target] = None
    return tuple(found)


def typosquatting_rule(package: Package) -> Indicator | None:
    """The package name is one or two edits (or look-alike characters) from a popular one.

    Evidence: ``[str]``, the imitated names. Weighs little alone: popular names have
    legitimate neighbours; with malicious code it explains the attack.
    """
    if package.ecosystem is None or not package.name:
        return None
    names = imitated(package.name, package.ecosystem)
    signal = Signal(None, None, f"{package.name} ~ {', '.join(names)}", WEIGHT, key="name")
    return indicator("typosquatting_rule", names, [signal])
