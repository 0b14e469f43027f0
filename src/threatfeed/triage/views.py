"""The triage web UI: login, the queue, the package view, verdicts (single and bulk).

Every route checks the session and the account's role on the server; every POST
checks the CSRF token before anything else. GET handlers are plain functions
(Starlette runs them in a thread pool); POST handlers read the form, then do
their database work in the thread pool so the event loop never waits on it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, QueryParams
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from threatfeed.accounts import AccountService, AuthenticationError, Principal, Role
from threatfeed.config import Settings
from threatfeed.errors import ThreatfeedError
from threatfeed.store import Database
from threatfeed.store.models import Account, ApiKey, utcnow
from threatfeed.triage import csrf
from threatfeed.triage.details import package_detail
from threatfeed.triage.errors import UnknownPackage
from threatfeed.triage.headers import SecurityHeaders
from threatfeed.triage.logins import FailedLogins
from threatfeed.triage.queue import QueueFilter, counts, list_queue, neighbours
from threatfeed.triage.service import Author, decide
from threatfeed.triage.sessions import SessionCodec, SessionData
from threatfeed.triage.states import ALLOWED, VERBS, State
from threatfeed.triage.templating import environment

STATIC = Path(__file__).with_name("static")
PER_PAGE = 50
MAX_SELECTED = 1000
_ECOSYSTEM = re.compile(r"[a-z0-9]{1,32}")
_REGISTRY_PAGES: dict[str, Callable[[str, str], str]] = {
    "npm": lambda n, v: f"https://www.npmjs.com/package/{quote(n, safe='@/')}/v/{quote(v)}",
    "pypi": lambda n, v: f"https://pypi.org/project/{quote(n)}/{quote(v)}/",
}


_PAST = {"confirm": "Confirmed", "dismiss": "Dismissed", "withdraw": "Withdrew"}


class BadRequest(ThreatfeedError):
    """A query or form value the UI cannot use."""


@dataclass(frozen=True)
class Visit:
    """The caller of a request: their session (maybe anonymous) and account (if logged in)."""

    session: SessionData | None
    principal: Principal | None


def _filter(params: QueryParams) -> tuple[QueueFilter, int, dict[str, str]]:
    """The queue filter and page from the query string, and the params to keep in links."""
    try:
        state = State(params.get("state") or State.PENDING.value)
        ecosystem = params.get("ecosystem") or None
        if ecosystem is not None and not _ECOSYSTEM.fullmatch(ecosystem):
            raise BadRequest("unknown ecosystem")
        min_score = float(params["min_score"]) if params.get("min_score") else None
        age = int(params["age"]) if params.get("age") else None
        page = int(params.get("page") or 1)
        chosen = QueueFilter(state, ecosystem, params.get("rule") or None, min_score, age)
    except ValueError:
        raise BadRequest("a filter value is not valid") from None
    if page < 1 or page > 100_000:
        raise BadRequest("page out of range")
    keep = {
        "state": chosen.state.value,
        "ecosystem": chosen.ecosystem or "",
        "rule": chosen.rule or "",
        "min_score": params.get("min_score") or "",
        "age": params.get("age") or "",
    }
    return chosen, page, keep


def _local(target: object, default: str = "/triage/") -> str:
    """A redirect target inside the UI, never elsewhere (no open redirect)."""
    if (
        isinstance(target, str)
        and target.startswith("/triage/")
        and "//" not in target
        and "\\" not in target
        and not any(ord(c) < 32 for c in target)
    ):
        return target
    return default


def form_text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


class TriageViews:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        accounts: AccountService,
        *,
        logins: FailedLogins | None = None,
    ) -> None:
        self._db = database
        self._accounts = accounts
        self.sessions = SessionCodec(settings.secret_key)
        self._logins = logins or FailedLogins()
        self._env = environment()
        for template in self._env.list_templates(extensions=["html"]):
            self._env.get_template(template)  # compiled now, not on a researcher's first visit

    def routes(self, extra: list[BaseRoute] | None = None) -> list[BaseRoute]:
        return [
            Mount(
                "/triage",
                routes=[
                    Route("/", self.queue, methods=["GET"]),
                    Route("/login", self.login_form, methods=["GET"]),
                    Route("/login", self.login, methods=["POST"]),
                    Route("/logout", self.logout, methods=["POST"]),
                    Route("/p/{package_id:int}", self.package, methods=["GET"]),
                    Route("/verdict", self.verdict, methods=["POST"]),
                    Route("/away", self.away, methods=["GET"]),
                    *(extra or []),
                    Mount("/static", StaticFiles(directory=STATIC)),
                ],
                middleware=[Middleware(SecurityHeaders)],
            )
        ]

    # -- who is asking -------------------------------------------------------------------------

    def visit(self, request: Request) -> Visit:
        session = self.sessions.load(request)
        if session is None or session.account_id is None:
            return Visit(session, None)
        with self._db.session() as db:
            account = db.get(Account, session.account_id)
            if account is None or account.disabled_at is not None:
                return Visit(session, None)
            cutoff = account.sessions_valid_from
            if cutoff is not None and session.issued < cutoff.timestamp():
                return Visit(session, None)
            if session.key_id is not None:
                key = db.get(ApiKey, session.key_id)
                if key is None or key.revoked_at is not None or key.account_id != account.id:
                    return Visit(session, None)
            principal = Principal(
                account.id, account.name, Role(account.role), account.subscribed, session.key_id
            )
        return Visit(session, principal)

    def guard(self, request: Request, *, admin: bool = False) -> Visit | Response:
        """The visit of a researcher (or admin), else a redirect to login or a 403 page."""
        visit = self.visit(request)
        if visit.principal is None:
            return RedirectResponse("/triage/login", status_code=303)
        allowed = visit.principal.can_admin if admin else visit.principal.can_triage
        if not allowed:
            need = "an admin" if admin else "a researcher or admin"
            return self.error(request, visit, 403, f"This page needs {need} account.")
        return visit

    async def posted(self, request: Request, *, admin: bool = False) -> tuple[Visit, FormData]:
        """The form of a POST after its CSRF token and the caller's role were checked."""
        form = await request.form()
        visit = await run_in_threadpool(self.visit, request)
        if not csrf.valid(visit.session, form.get(csrf.FIELD)):
            raise Refused(self.error(request, visit, 403, "Missing or wrong CSRF token."))
        if visit.principal is None:
            raise Refused(self.error(request, visit, 403, "Log in first."))
        allowed = visit.principal.can_admin if admin else visit.principal.can_triage
        if not allowed:
            raise Refused(self.error(request, visit, 403, "This account may not do that."))
        return visit, form

    # -- rendering -----------------------------------------------------------------------------

    def render(
        self,
        request: Request,
        visit: Visit,
        template: str,
        status: int = 200,
        headers: dict[str, str] | None = None,
        **context: Any,
    ) -> Response:
        session = visit.session
        flash = (session.flash, session.flash_error) if session and session.flash else None
        html = self._env.get_template(template).render(
            principal=visit.principal,
            csrf_token=session.csrf if session else "",
            flash=flash,
            **context,
        )
        response = HTMLResponse(html, status_code=status, headers=headers)
        if session is not None and flash is not None:
            self.sessions.store(request, response, session.with_flash(None))
        return response

    def error(self, request: Request, visit: Visit, status: int, message: str) -> Response:
        return self.render(request, visit, "error.html", status, code=status, message=message)

    def redirect(
        self, request: Request, visit: Visit, target: str, flash: str, error: bool = False
    ) -> Response:
        response = RedirectResponse(target, status_code=303)
        if visit.session is not None:
            self.sessions.store(request, response, visit.session.with_flash(flash, error))
        return response

    # -- pages ---------------------------------------------------------------------------------

    def queue(self, request: Request) -> Response:
        visit = self.guard(request)
        if isinstance(visit, Response):
            return visit
        try:
            chosen, page, keep = _filter(request.query_params)
        except (BadRequest, ThreatfeedError) as exc:
            return self.error(request, visit, 400, str(exc))
        with self._db.session() as db:
            result = list_queue(db, chosen, page, PER_PAGE)
            glance = counts(db)
        return self.render(
            request,
            visit,
            "queue.html",
            result=result,
            glance=glance,
            params=keep,
            chosen=chosen,
            states=[s.value for s in State],
            actions=_actions(chosen.state),
            back=str(request.url.path) + ("?" + request.url.query if request.url.query else ""),
        )

    def package(self, request: Request) -> Response:
        visit = self.guard(request)
        if isinstance(visit, Response):
            return visit
        try:
            chosen, _, keep = _filter(request.query_params)
        except (BadRequest, ThreatfeedError) as exc:
            return self.error(request, visit, 400, str(exc))
        package_id = int(request.path_params["package_id"])
        with self._db.session() as db:
            try:
                detail = package_detail(db, package_id)
            except UnknownPackage:
                return self.error(request, visit, 404, "No such package version.")
            previous, following = neighbours(db, package_id, chosen)
        suffix = "?" + urlencode({k: v for k, v in keep.items() if v}) if any(keep.values()) else ""
        queue_url = "/triage/" + suffix
        next_url = f"/triage/p/{following}{suffix}" if following else queue_url
        registry = _REGISTRY_PAGES.get(detail.ecosystem)
        return self.render(
            request,
            visit,
            "package.html",
            detail=detail,
            actions=_actions(detail.state),
            queue_url=queue_url,
            prev_url=f"/triage/p/{previous}{suffix}" if previous else None,
            next_url=next_url,
            has_next=following is not None,
            back=f"/triage/p/{package_id}{suffix}",
            registry_url=registry(detail.name, detail.version) if registry else None,
            away=lambda url: "/triage/away?" + urlencode({"to": url}),
        )

    def away(self, request: Request) -> Response:
        visit = self.guard(request)
        if isinstance(visit, Response):
            return visit
        target = request.query_params.get("to", "")
        parts = urlsplit(target) if len(target) <= 2000 else None
        followable = bool(
            parts
            and parts.scheme in ("http", "https")
            and parts.netloc
            and not any(ord(c) <= 32 or ord(c) == 127 for c in target)
        )
        return self.render(request, visit, "away.html", target=target, followable=followable)

    # -- verdicts ------------------------------------------------------------------------------

    async def verdict(self, request: Request) -> Response:
        try:
            visit, form = await self.posted(request)
        except Refused as refused:
            return refused.response
        assert visit.principal is not None
        verb = form_text(form, "action")
        back = _local(form.get("back"))
        if verb not in VERBS:
            return self.redirect(request, visit, back, "Choose confirm, dismiss or withdraw.", True)
        try:
            ids = [int(value) for value in form.getlist("package") if isinstance(value, str)]
        except ValueError:
            return self.error(request, visit, 400, "A selected package id is not a number.")
        if len(ids) > MAX_SELECTED:
            return self.error(request, visit, 400, f"Select at most {MAX_SELECTED} versions.")
        author = Author(visit.principal.name, visit.principal.account_id)

        def run() -> str:
            with self._db.session() as db:
                done = decide(db, ids, VERBS[verb], form_text(form, "reason"), author)
            what = str(done[0].key) if len(done) == 1 else f"{len(done)} versions"
            return f"{_PAST[verb]} {what}."

        try:
            message = await run_in_threadpool(run)
        except ThreatfeedError as exc:
            return self.redirect(request, visit, back, str(exc), error=True)
        return self.redirect(request, visit, _local(form.get("next"), back), message)

    # -- login and logout ----------------------------------------------------------------------

    def login_form(self, request: Request) -> Response:
        visit = self.visit(request)
        if visit.principal is not None and visit.principal.can_triage:
            return RedirectResponse("/triage/", status_code=303)
        session = visit.session or self.sessions.new()
        response = self.render(request, Visit(session, None), "login.html")
        self.sessions.store(request, response, session.with_flash(None))
        return response

    async def login(self, request: Request) -> Response:
        form = await request.form()
        session = self.sessions.load(request)
        anonymous = Visit(session, None)
        if not csrf.valid(session, form.get(csrf.FIELD)):
            return self.error(request, anonymous, 403, "Missing or wrong CSRF token; reload.")
        name = form_text(form, "name").strip()[:128]
        password = form_text(form, "password")
        api_key = form_text(form, "api_key").strip()
        address = request.client.host if request.client else "unknown"
        wait = self._logins.retry_after(name or None, address)
        if wait is not None:
            seconds = max(1, int(wait + 0.999))
            return self.render(
                request,
                anonymous,
                "login.html",
                429,
                {"Retry-After": str(seconds)},
                problem=f"Too many failed logins; try again in {seconds} s.",
            )

        def check() -> Principal:
            if api_key:
                return self._accounts.authenticate(api_key)
            return self._accounts.verify_password(name, password)

        try:
            principal = await run_in_threadpool(check)
        except AuthenticationError:
            self._logins.failed(name or None, address)
            problem = "Unknown API key." if api_key else "Unknown account or wrong password."
            return self.render(request, anonymous, "login.html", 401, problem=problem)
        if not principal.can_triage:
            return self.error(request, anonymous, 403, "This account cannot use triage.")
        response = RedirectResponse("/triage/", status_code=303)
        self.sessions.store(
            request, response, self.sessions.new(principal.account_id, principal.key_id)
        )
        return response

    async def logout(self, request: Request) -> Response:
        form = await request.form()
        session = self.sessions.load(request)
        if not csrf.valid(session, form.get(csrf.FIELD)):
            return self.error(request, Visit(session, None), 403, "Missing or wrong CSRF token.")
        if session is not None and session.account_id is not None:
            with self._db.session() as db:
                account = db.get(Account, session.account_id)
                if account is not None:
                    account.sessions_valid_from = utcnow()
        response = RedirectResponse("/triage/login", status_code=303)
        self.sessions.clear(request, response)
        return response


class Refused(Exception):
    """Control flow inside this module: a POST refused before its work began."""

    def __init__(self, response: Response) -> None:
        super().__init__("refused")
        self.response = response


def _actions(state: State) -> list[str]:
    return [verb for verb, kind in VERBS.items() if kind in ALLOWED[state]]
