"""What each bundled YARA rule costs the signature scan, to find the rules worth rewriting.

yara-x looks for every pattern of every rule by a short literal "atom" and verifies the
whole pattern wherever the atom occurs, whatever the rule's condition; a rule whose atom
is a word all code has (``load``, ``from``, ``http``) costs far more than its neighbours.
This measures the whole bundled set, then the set without each rule in turn: the
difference is what the rule adds (leave-one-out, because the costs do not simply add up).

The sample is what ``Engine.prepare`` hands to the signatures (files cut at their kind's
scan limit) for every ``--step``-th archive of the dev corpus, kept in memory; times are
the process's CPU time, best of ``--runs``.

    .venv/bin/python -m bench.yara_rules [--step 4] [--runs 3] [--top 15] [--patterns RULE]
    .venv/bin/python -m bench.yara_rules --marginal [--rule RULE] [--runs 5]

``--patterns RULE`` (repeatable) times each pattern of those rules alone instead, on top
of the whole set. ``--marginal`` times what each pattern adds to the whole set: the set
against the set with only that pattern made a literal no file holds, the two taking turns
on each few files, the median difference of ``--runs`` passes; ``--rule`` (repeatable)
limits it to those rules.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections.abc import Iterable

import yara_x

from bench.quality import samples
from threatfeed.analysis import Engine
from threatfeed.analysis.engine import SCAN_LIMITS
from threatfeed.analysis.signatures import MAX_MATCHES_PER_PATTERN, SignatureHit
from threatfeed.analysis.signatures import _bundled_sources as bundled_sources
from threatfeed.archives import Member, read_archive

RULE = re.compile(r"^rule (\w+)[^{]*\{.*?^\}", re.S | re.M)
STRINGS = re.compile(r"^\s*strings:\n(.*?)^\s*condition:", re.S | re.M)
#: What a pattern is replaced by to take it out of the set without breaking its condition.
ABSENT = '"zqxjzq17xj"'
#: Files each scanner scans before the other takes its turn (``marginal_seconds``).
CHUNK = 64


class _Recorder(Engine):
    """An engine that keeps what it would give the signatures, and scans nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.scanned: list[bytes] = []

    def _scan(
        self, member: Member, rel: str, kind: str, context: str, problems: list[str]
    ) -> tuple[SignatureHit, ...]:
        if member.data:
            self.scanned.append(bytes(member.data[: SCAN_LIMITS.get(kind)]))
        return ()


def sample(step: int) -> list[bytes]:
    recorder = _Recorder()
    for index, entry in enumerate(samples()):
        if index % step == 0:
            recorder.prepare(read_archive(entry.path.read_bytes()))
    return recorder.scanned


def bundled_rules() -> dict[str, str]:
    """Each bundled rule's source by name (rule names are unique across the files)."""
    return {
        match.group(1): match.group(0)
        for _, text in bundled_sources()
        for match in RULE.finditer(text)
    }


def _scanner(source: str) -> yara_x.Scanner:
    compiler = yara_x.Compiler()
    compiler.add_source(source)
    scanner = yara_x.Scanner(compiler.build())
    scanner.max_matches_per_pattern(MAX_MATCHES_PER_PATTERN)
    return scanner


def scan_seconds(source: str, data: list[bytes], runs: int) -> float:
    scanner = _scanner(source)
    best = float("inf")
    for _ in range(runs):
        started = time.process_time()
        for item in data:
            scanner.scan(item)
        best = min(best, time.process_time() - started)
    return best


def marginal_seconds(whole: yara_x.Scanner, source: str, data: list[bytes], runs: int) -> float:
    """What the whole set costs more than ``source``, median of ``runs`` passes.

    The two scanners take turns on each ``CHUNK`` of files, first one then the other, so
    the load of the machine's other jobs falls on both alike: two copies of one set then
    differ by under 1%, where whole passes taken in turn differ by up to 15%.
    """
    without = _scanner(source)
    differences = []
    for _ in range(runs):
        difference = 0
        for start in range(0, len(data), CHUNK):
            chunk = data[start : start + CHUNK]
            order = (whole, without) if start // CHUNK % 2 else (without, whole)
            for scanner in order:
                started = time.process_time_ns()
                for item in chunk:
                    scanner.scan(item)
                spent = time.process_time_ns() - started
                difference += spent if scanner is whole else -spent
        differences.append(difference / 1e9)
    return statistics.median(differences)


def _patterns(rule: str) -> Iterable[str]:
    found = STRINGS.search(rule)
    if found is None:
        return ()
    return (line.strip() for line in found.group(1).splitlines() if line.strip().startswith("$"))


def _print_marginal(
    rules: dict[str, str], names: list[str], data: list[bytes], runs: int, total: float
) -> None:
    """Each pattern's marginal cost, costliest first (and as they come, on stderr)."""
    whole_source = "\n".join(rules.values())
    whole = _scanner(whole_source)
    costs = []
    for name in names:
        for pattern in _patterns(rules[name]):
            identifier = pattern.split("=", 1)[0].strip()
            rule = rules[name].replace(pattern, f"{identifier} = {ABSENT}", 1)
            source = whole_source.replace(rules[name], rule, 1)
            costs.append((marginal_seconds(whole, source, data, runs), name, pattern))
            print(_cost_line(*costs[-1], total), file=sys.stderr)
    costs.sort(reverse=True)
    for cost in costs:
        print(_cost_line(*cost, total))


def _cost_line(cost: float, rule: str, pattern: str, total: float) -> str:
    return f"{cost:8.3f} s  {100 * cost / total:5.1f}%  {rule} {pattern[:100]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step", type=int, default=4, help="every N-th archive (default 4)")
    parser.add_argument("--runs", type=int, default=3, help="best of N passes (default 3)")
    parser.add_argument("--top", type=int, default=15, help="rules to list (default 15)")
    parser.add_argument("--patterns", action="append", default=[], metavar="RULE")
    parser.add_argument("--marginal", action="store_true", help="each pattern's marginal cost")
    parser.add_argument("--rule", action="append", default=[], help="--marginal for RULE only")
    args = parser.parse_args(argv)

    data = sample(args.step)
    rules = bundled_rules()
    whole = "\n".join(rules.values())
    total = scan_seconds(whole, data, args.runs)
    megabytes = sum(map(len, data)) / 1e6
    print(f"{len(data)} files, {megabytes:.0f} MB: whole set {total:.3f} s CPU")
    if args.marginal:
        _print_marginal(rules, args.rule or list(rules), data, args.runs, total)
        return 0
    if args.patterns:
        for name in args.patterns:
            for index, pattern in enumerate(_patterns(rules[name])):
                extra = f"rule probe_{index} {{ strings: {pattern} condition: any of them }}"
                cost = scan_seconds(f"{whole}\n{extra}", data, args.runs) - total
                print(f"{cost:8.3f} s  {name} {pattern[:100]}")
        return 0
    costs = []
    for name in rules:
        rest = "\n".join(source for other, source in rules.items() if other != name)
        costs.append((total - scan_seconds(rest, data, args.runs), name))
    costs.sort(reverse=True)
    for cost, name in costs[: args.top]:
        print(f"{cost:8.3f} s  {100 * cost / total:5.1f}%  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
