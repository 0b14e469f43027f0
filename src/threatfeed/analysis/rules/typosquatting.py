"""Names one typo away from a popular package of the same ecosystem."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache

from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein, Levenshtein

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
    """PEP 503 normalisation, also right for npm's lower-case names. Most names (all 30,000
    popular ones are normalised at start) have no run of separators to fold."""
    lowered = name.strip().lower()
    if "_" in lowered or "." in lowered or "--" in lowered:
        return _SEPARATORS.sub("-", lowered)
    return lowered


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
    #: The targets of each length, by rank (popularity order).
    by_length: dict[int, dict[int, str]]


@cache
def _index(ecosystem: str) -> _Index:
    names = [normalize(n) for n in popular_names(ecosystem)]
    targets = tuple(n for n in names[:TARGETS] if len(n) >= MIN_LENGTH)
    skeletons: dict[str, str] = {}
    by_length: dict[int, dict[int, str]] = {}
    for rank, target in enumerate(targets):
        skeletons.setdefault(skeleton(target), target)
        by_length.setdefault(len(target), {})[rank] = target
    return _Index(frozenset(names), targets, skeletons, by_length)


#: The targets holding one piece, by the piece's text, then by rank.
_Holders = dict[str, dict[int, str]]


@cache
def _pieces(ecosystem: str, length: int, edits: int) -> tuple[tuple[int, int, _Holders], ...]:
    """The targets of ``length`` (some have it) cut in ``edits + 1`` pieces: each piece's
    start, width and holders. Built on first use: a scan asks for a few dozen (length,
    edits) pairs."""
    targets = _index(ecosystem).by_length[length]
    width, wider = divmod(length, edits + 1)
    pieces = []
    start = 0
    for piece in range(edits + 1):
        end = start + width + (piece < wider)
        holders: _Holders = {}
        for rank, target in targets.items():
            holders.setdefault(target[start:end], {})[rank] = target
        pieces.append((start, end - start, holders))
        start = end
    return tuple(pieces)


_Probe = tuple[Callable[[str], dict[int, str] | None], int, int]


@lru_cache(maxsize=512)  # lengths come from attacker names: bounded
def _probes(ecosystem: str, length: int, edits: int) -> tuple[_Probe, ...]:
    """Where a name of ``length`` may hold each piece of a target within ``edits`` edits:
    (the piece's holders, start and end in the name). A piece shifts by the insertions
    less the deletions before it, and the length difference is what those before and
    after it add up to, so that ``|shift| + |difference - shift|`` edits at least are spent."""
    probes = []
    lengths = _index(ecosystem).by_length
    for target_length in range(length - edits, length + edits + 1):
        if target_length not in lengths:
            continue
        difference = length - target_length
        for start, width, holders in _pieces(ecosystem, target_length, edits):
            for shift in range(-edits, edits + 1):
                at = start + shift
                if abs(shift) + abs(difference - shift) <= edits and 0 <= at <= length - width:
                    probes.append((holders.get, at, at + width))
    return tuple(probes)


def _near(wanted: str, ecosystem: str, edits: int) -> dict[int, str]:
    """The targets that may be within ``edits`` Levenshtein edits, by rank: those holding
    one of their ``edits + 1`` pieces where ``wanted`` may (edits spare one piece at least).
    A few dictionary look-ups instead of scoring the thousands of targets of a similar
    length, most of which share no piece."""
    near: dict[int, str] = {}
    for holders, start, end in _probes(ecosystem, len(wanted), edits):
        if found := holders(wanted[start:end]):
            near.update(found)
    return near


def _affix_family(name: str, target: str) -> bool:
    if name.startswith(target):
        return name[len(target) :] in LEGIT_AFFIXES
    if name.endswith(target):
        return name[: -len(target)] in LEGIT_AFFIXES
    return False


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
    scored = process.extract(
        wanted,
        _near(wanted, ecosystem, limit + 1),
        scorer=Levenshtein.distance,
        score_cutoff=limit + 1,
        limit=None,
    )
    # the ten closest, ties to the most popular
    for target, _, _ in sorted(scored, key=lambda match: match[1:])[:10]:
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
