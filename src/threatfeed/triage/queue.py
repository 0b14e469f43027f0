"""The queue: versions awaiting a verdict (or in any other state), highest score first.

Everything here is one or two indexed queries per page, whatever the queue's
length: ``triage_items`` holds one row per version with its state and score
(index ``(state, score, package_id)``), ``triage_item_rules`` the rules that fired.
Ties in score go to the most recently recorded version (higher id).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVarTuple

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from threatfeed.store.models import Analysis, Archive, FeedEntry, TriageItem, TriageItemRule, utcnow
from threatfeed.triage.analyses import union_indicators
from threatfeed.triage.errors import InvalidVerdict
from threatfeed.triage.states import State

MAX_PER_PAGE = 200
MAX_AGE_DAYS = 36_500
_RULE = re.compile(r"[a-z0-9_]{1,128}")
Ts = TypeVarTuple("Ts")


class InvalidFilter(InvalidVerdict):
    """A queue filter that cannot be applied (an unknown state, a malformed rule name)."""


@dataclass(frozen=True)
class QueueFilter:
    state: State = State.PENDING
    ecosystem: str | None = None
    rule: str | None = None
    min_score: float | None = None
    max_age_days: int | None = None
    """Only versions flagged within the last N days."""

    def __post_init__(self) -> None:
        if self.rule is not None and not _RULE.fullmatch(self.rule):
            raise InvalidFilter(f"not a rule name: {self.rule[:60]!r}")
        if self.max_age_days is not None and not 0 <= self.max_age_days <= MAX_AGE_DAYS:
            raise InvalidFilter(f"the age is a number of days from 0 to {MAX_AGE_DAYS}")
        if self.min_score is not None and not 0.0 <= self.min_score <= 1.0:
            raise InvalidFilter("the minimum score is a number from 0 to 1")


@dataclass(frozen=True)
class QueueRow:
    package_id: int
    ecosystem: str
    name: str
    version: str
    score: float
    flagged_at: datetime
    state: str
    rules: tuple[str, ...]


@dataclass(frozen=True)
class QueuePage:
    rows: tuple[QueueRow, ...]
    page: int
    per_page: int
    total: int

    @property
    def has_next(self) -> bool:
        return self.page * self.per_page < self.total

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def _where(query: Select[*Ts], chosen: QueueFilter, now: datetime | None) -> Select[*Ts]:
    query = query.where(TriageItem.state == chosen.state.value)
    if chosen.state is State.PENDING:  # an entry imported from another feed is not pending
        query = query.where(~exists().where(FeedEntry.package_id == TriageItem.package_id))
    if chosen.ecosystem:
        query = query.where(TriageItem.ecosystem == chosen.ecosystem)
    if chosen.min_score is not None:
        query = query.where(TriageItem.score >= chosen.min_score)
    if chosen.max_age_days is not None:
        since = (now or utcnow()) - timedelta(days=chosen.max_age_days)
        query = query.where(TriageItem.flagged_at >= since)
    if chosen.rule:
        query = query.where(
            exists().where(
                TriageItemRule.package_id == TriageItem.package_id,
                TriageItemRule.rule == chosen.rule,
            )
        )
    return query


_ORDER = (TriageItem.score.desc(), TriageItem.package_id.desc())


def list_queue(
    session: Session,
    chosen: QueueFilter,
    page: int = 1,
    per_page: int = 50,
    now: datetime | None = None,
) -> QueuePage:
    page = max(1, page)
    per_page = min(max(1, per_page), MAX_PER_PAGE)
    total = session.scalar(_where(select(func.count()).select_from(TriageItem), chosen, now)) or 0
    items = session.scalars(
        _where(select(TriageItem), chosen, now)
        .order_by(*_ORDER)
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    rules = _rules(session, [item.package_id for item in items])
    rows = tuple(
        QueueRow(
            item.package_id,
            item.ecosystem,
            item.name,
            item.version,
            item.score,
            item.flagged_at,
            item.state,
            rules.get(item.package_id, ()),
        )
        for item in items
    )
    return QueuePage(rows, page, per_page, total)


def all_rows(session: Session, chosen: QueueFilter) -> list[QueueRow]:
    """Every matching row in queue order (for the CLI), in pages so memory stays flat."""
    rows: list[QueueRow] = []
    page = 1
    while True:
        batch = list_queue(session, chosen, page, MAX_PER_PAGE)
        rows.extend(batch.rows)
        if not batch.has_next:
            return rows
        page += 1


def _rules(session: Session, package_ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    found: dict[int, list[str]] = {}
    if package_ids:
        for package_id, rule in session.execute(
            select(TriageItemRule.package_id, TriageItemRule.rule)
            .where(TriageItemRule.package_id.in_(package_ids))
            .order_by(TriageItemRule.package_id, TriageItemRule.rule)
        ):
            found.setdefault(package_id, []).append(rule)
    return {key: tuple(value) for key, value in found.items()}


def indicators_of(session: Session, package_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Each version's indicators (union over its archives' latest analyses), in one query."""
    latest: dict[int, tuple[int, dict[str, Any]]] = {}
    per_package: dict[int, list[int]] = {}
    for chunk_start in range(0, len(package_ids), 500):
        chunk = package_ids[chunk_start : chunk_start + 500]
        for package_id, archive_id, analysis_id, indicators in session.execute(
            select(Archive.package_id, Archive.id, Analysis.id, Analysis.indicators)
            .join(Analysis, Analysis.archive_id == Archive.id)
            .where(Archive.package_id.in_(chunk))
        ):
            if archive_id not in latest or latest[archive_id][0] < analysis_id:
                latest[archive_id] = (analysis_id, indicators)
                per_package.setdefault(package_id, [])
                if archive_id not in per_package[package_id]:
                    per_package[package_id].append(archive_id)
    return {
        package_id: union_indicators(latest[archive][1] for archive in sorted(archives))
        for package_id, archives in per_package.items()
    }


@dataclass(frozen=True)
class Counts:
    by_state: dict[str, int]
    by_ecosystem: dict[str, dict[str, int]]
    """ecosystem -> state -> count."""
    rules: tuple[tuple[str, int], ...]
    """Rules among the pending versions, most frequent first."""


def counts(session: Session) -> Counts:
    """The numbers shown at a glance above the queue: three grouped queries."""
    by_ecosystem: dict[str, dict[str, int]] = {}
    decided = select(TriageItem.ecosystem, TriageItem.state, func.count()).where(
        TriageItem.state != State.PENDING.value
    )
    for ecosystem, state, number in session.execute(
        decided.group_by(TriageItem.ecosystem, TriageItem.state)
    ):
        by_ecosystem.setdefault(ecosystem, {})[state] = number
    pending = _where(select(TriageItem.ecosystem, func.count()), QueueFilter(), None)
    for ecosystem, number in session.execute(pending.group_by(TriageItem.ecosystem)):
        by_ecosystem.setdefault(ecosystem, {})[State.PENDING.value] = number
    by_state: dict[str, int] = {state.value: 0 for state in State}
    for states in by_ecosystem.values():
        for state, number in states.items():
            by_state[state] = by_state.get(state, 0) + number
    rule_count = func.count()
    rules = session.execute(
        select(TriageItemRule.rule, rule_count)
        .join(TriageItem, TriageItem.package_id == TriageItemRule.package_id)
        .where(TriageItem.state == State.PENDING.value)
        .group_by(TriageItemRule.rule)
        .order_by(rule_count.desc(), TriageItemRule.rule)
        .limit(50)
    ).all()
    return Counts(
        by_state,
        dict(sorted(by_ecosystem.items())),
        tuple((rule, number) for rule, number in rules),
    )


def neighbours(
    session: Session, package_id: int, chosen: QueueFilter
) -> tuple[int | None, int | None]:
    """The previous and next versions in queue order around ``package_id`` (keyset, cheap)."""
    item = session.get(TriageItem, package_id)
    if item is None:
        return None, None
    after = or_(
        TriageItem.score < item.score,
        and_(TriageItem.score == item.score, TriageItem.package_id < package_id),
    )
    before = or_(
        TriageItem.score > item.score,
        and_(TriageItem.score == item.score, TriageItem.package_id > package_id),
    )
    base = _where(select(TriageItem.package_id), chosen, None)
    following = session.scalar(base.where(after).order_by(*_ORDER).limit(1))
    preceding = session.scalar(
        base.where(before).order_by(TriageItem.score.asc(), TriageItem.package_id.asc()).limit(1)
    )
    return preceding, following
