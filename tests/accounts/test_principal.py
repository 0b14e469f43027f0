from __future__ import annotations

import pytest

from threatfeed.accounts import Principal, Role


@pytest.mark.parametrize(
    ("role", "triage", "admin"),
    [(Role.SUBSCRIBER, False, False), (Role.RESEARCHER, True, False), (Role.ADMIN, True, True)],
)
def test_roles_grant_triage_and_administration(role: Role, triage: bool, admin: bool) -> None:
    principal = Principal(1, "x", role, subscribed=True, key_id=None)
    assert (principal.can_triage, principal.can_admin) == (triage, admin)


@pytest.mark.parametrize("role", list(Role))
def test_the_feed_needs_the_subscription_whatever_the_role(role: Role) -> None:
    assert Principal(1, "x", role, subscribed=True, key_id=None).can_read_feed
    assert not Principal(1, "x", role, subscribed=False, key_id=None).can_read_feed
