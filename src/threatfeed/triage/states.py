"""The state of a version in triage, derived from its latest verdict, and the legal moves.

    pending   -> malicious | benign     flagged by the engine, no verdict yet
    unflagged -> malicious | benign     never flagged (or no longer), no verdict yet
    benign    -> malicious              a later confirmation reverses a dismissal
    malicious -> withdrawn              a false positive found after publication
    withdrawn -> malicious              republished: back in the live feed, added anew

A version in the feed without any verdict (imported from another feed) is
``malicious`` while live and ``withdrawn`` once withdrawn.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from threatfeed.store.models import FeedEntry, Verdict


class State(StrEnum):
    PENDING = "pending"
    UNFLAGGED = "unflagged"
    MALICIOUS = "malicious"
    BENIGN = "benign"
    WITHDRAWN = "withdrawn"


class Kind(StrEnum):
    """What a verdict says; the verb that gives it is in ``VERBS``."""

    MALICIOUS = "malicious"
    BENIGN = "benign"
    WITHDRAWN = "withdrawn"


VERBS = {"confirm": Kind.MALICIOUS, "dismiss": Kind.BENIGN, "withdraw": Kind.WITHDRAWN}

ALLOWED: dict[State, frozenset[Kind]] = {
    State.PENDING: frozenset({Kind.MALICIOUS, Kind.BENIGN}),
    State.UNFLAGGED: frozenset({Kind.MALICIOUS, Kind.BENIGN}),
    State.BENIGN: frozenset({Kind.MALICIOUS}),
    State.MALICIOUS: frozenset({Kind.WITHDRAWN}),
    State.WITHDRAWN: frozenset({Kind.MALICIOUS}),
}

_REFUSALS = {
    (State.PENDING, Kind.WITHDRAWN): "it is not in the feed; dismiss it instead",
    (State.UNFLAGGED, Kind.WITHDRAWN): "it is not in the feed; dismiss it instead",
    (State.BENIGN, Kind.BENIGN): "it was already dismissed",
    (State.BENIGN, Kind.WITHDRAWN): "it was dismissed, never published",
    (State.MALICIOUS, Kind.MALICIOUS): "it is already in the feed",
    (State.MALICIOUS, Kind.BENIGN): "it is in the feed; withdraw it instead",
    (State.WITHDRAWN, Kind.WITHDRAWN): "it was already withdrawn",
    (State.WITHDRAWN, Kind.BENIGN): "it was already withdrawn from the feed",
}


def refusal(state: State, kind: Kind) -> str | None:
    """Why ``kind`` cannot follow ``state``, or None when it may."""
    if kind in ALLOWED[state]:
        return None
    return _REFUSALS.get((state, kind), f"{kind.value} cannot follow {state.value}")


def derive_state(session: Session, package_id: int, flagged: bool) -> State:
    """The state from the latest verdict, else from the feed, else from the engine."""
    latest = session.scalar(
        select(Verdict.verdict)
        .where(Verdict.package_id == package_id)
        .order_by(Verdict.created_at.desc(), Verdict.id.desc())
        .limit(1)
    )
    if latest is not None:
        return State(latest)
    entry = session.execute(
        select(FeedEntry.id, FeedEntry.withdrawn_at).where(FeedEntry.package_id == package_id)
    ).first()
    return state_from(
        None,
        published=entry is not None,
        withdrawn=entry is not None and entry.withdrawn_at is not None,
        flagged=flagged,
    )


def state_from(verdict: str | None, *, published: bool, withdrawn: bool, flagged: bool) -> State:
    """The state from the latest verdict, else from the feed entry, else from the engine:
    the one rule, for callers that read those facts in bulk."""
    if verdict is not None:
        return State(verdict)
    if published:
        return State.WITHDRAWN if withdrawn else State.MALICIOUS
    return State.PENDING if flagged else State.UNFLAGGED
