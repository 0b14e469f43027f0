"""The accounts page, for admins: add accounts, set passwords, revoke keys, disable.

A new account's API key is shown once, in the response to the form that made it
(never in a redirect or a cookie), like ``threatfeed accounts add`` prints it once.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from threatfeed.accounts import AccountService, Role
from threatfeed.errors import ThreatfeedError
from threatfeed.triage.views import Refused, TriageViews, Visit, form_text

PAGE = "/triage/admin/accounts"


class AdminViews:
    def __init__(self, views: TriageViews, accounts: AccountService) -> None:
        self._views = views
        self._accounts = accounts

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/admin/accounts", self.page, methods=["GET"]),
            Route("/admin/accounts", self.act, methods=["POST"]),
        ]

    def page(self, request: Request) -> Response:
        visit = self._views.guard(request, admin=True)
        if isinstance(visit, Response):
            return visit
        return self._render(request, visit)

    def _render(self, request: Request, visit: Visit, new_key: str | None = None) -> Response:
        return self._views.render(
            request,
            visit,
            "accounts.html",
            accounts=self._accounts.list(),
            roles=[role.value for role in Role],
            new_key=new_key,
        )

    async def act(self, request: Request) -> Response:
        try:
            visit, form = await self._views.posted(request, admin=True)
        except Refused as refused:
            return refused.response
        action, name = form_text(form, "action"), form_text(form, "name").strip()
        try:
            if action == "add":
                _, key = await run_in_threadpool(
                    self._accounts.add, name, form_text(form, "role") or Role.RESEARCHER.value
                )
                return await run_in_threadpool(self._render, request, visit, key)
            if action == "password":
                await run_in_threadpool(
                    self._accounts.set_password, name, form_text(form, "password")
                )
                message = f"Password of {name} set."
            elif action == "revoke":
                count = await run_in_threadpool(self._accounts.revoke_keys, name)
                message = f"Revoked {count} key(s) of {name}."
            elif action == "disable":
                await run_in_threadpool(self._accounts.disable, name)
                message = f"Disabled {name}."
            else:
                return self._views.error(request, visit, 400, "Unknown action.")
        except ThreatfeedError as exc:
            return self._views.redirect(request, visit, PAGE, str(exc), error=True)
        return self._views.redirect(request, visit, PAGE, message)
