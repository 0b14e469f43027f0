"""The triage UI as routes for the application (``/triage/...``)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from threatfeed.accounts import AccountService
from threatfeed.config import Settings
from threatfeed.store import Database
from threatfeed.triage.admin import AdminViews
from threatfeed.triage.views import TriageViews


def routes(settings: Settings, database: Database, accounts: AccountService) -> list[BaseRoute]:
    views = TriageViews(settings, database, accounts)
    return views.routes(AdminViews(views, accounts).routes())
