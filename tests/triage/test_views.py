"""The triage UI over real HTTP: sessions, CSRF, roles, verdicts, safe rendering."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from sqlalchemy import func, select

from threatfeed.accounts import AccountService
from threatfeed.analysis import Location
from threatfeed.store.models import Account, Verdict
from threatfeed.triage.sessions import SessionCodec

from ..conftest import LiveServer
from .conftest import csrf_of, login
from .factory import Sample, add

HOSTILE = "<script>window.__pwned=1</script><img src=x onerror=alert(1)>"


def verdict_count(server: LiveServer) -> int:
    with server.database.session() as session:
        return session.scalar(select(func.count()).select_from(Verdict)) or 0


def test_anonymous_visitors_are_sent_to_login(server: LiveServer) -> None:
    response = httpx.get(server.url + "/triage/")
    assert response.status_code == 303
    assert response.headers["location"] == "/triage/login"


def test_every_page_carries_the_security_headers(
    server: LiveServer, make_account: Callable[..., str]
) -> None:
    make_account("res")
    client = login(server.url, "res")
    pages = ("/triage/login", "/triage/", "/triage/static/triage.js")
    missing = ("/triage/nowhere", "/triage/static/nowhere.js", "/triage/p/999999")
    for path in pages + missing:
        response = client.get(path)
        assert (response.status_code == 404) == (path in missing), path
        headers = response.headers
        assert "default-src 'self'" in headers["content-security-policy"]
        assert "script-src 'self'" in headers["content-security-policy"]
        assert "unsafe-inline" not in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-frame-options"] == "DENY"


def test_the_session_cookie_is_httponly_strict_and_scoped(
    server: LiveServer, make_account: Callable[..., str]
) -> None:
    make_account("res")
    client = httpx.Client(base_url=server.url)
    token = csrf_of(client.get("/triage/login").text)
    response = client.post(
        "/triage/login",
        data={"csrf": token, "name": "res", "password": "correct horse battery staple"},
    )
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "path=/triage" in cookie
    assert "max-age=" in cookie
    assert "secure" not in cookie  # plain http on loopback only; see sessions.py


def test_login_with_an_api_key(server: LiveServer, make_account: Callable[..., str]) -> None:
    key = make_account("keyed", password=None)
    client = httpx.Client(base_url=server.url)
    token = csrf_of(client.get("/triage/login").text)
    assert client.post("/triage/login", data={"csrf": token, "api_key": key}).status_code == 303
    assert client.get("/triage/").status_code == 200


def test_failed_logins_are_rate_limited_per_account(
    server: LiveServer, make_account: Callable[..., str]
) -> None:
    make_account("target")
    client = httpx.Client(base_url=server.url)
    token = csrf_of(client.get("/triage/login").text)
    wrong = {"csrf": token, "name": "target", "password": "wrong password!!"}
    assert [client.post("/triage/login", data=wrong).status_code for _ in range(5)] == [401] * 5
    right = {**wrong, "password": "correct horse battery staple"}
    refused = client.post("/triage/login", data=right)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0


def test_a_login_post_without_csrf_is_refused(
    server: LiveServer, make_account: Callable[..., str]
) -> None:
    make_account("res")
    response = httpx.post(
        server.url + "/triage/login",
        data={"name": "res", "password": "correct horse battery staple"},
    )
    assert response.status_code == 403


def test_subscribers_cannot_triage(server: LiveServer, make_account: Callable[..., str]) -> None:
    make_account("reader", role="subscriber")
    client = httpx.Client(base_url=server.url)
    token = csrf_of(client.get("/triage/login").text)
    refused = client.post(
        "/triage/login",
        data={"csrf": token, "name": "reader", "password": "correct horse battery staple"},
    )
    assert refused.status_code == 403
    # even holding a valid session (say, the role changed after login), every route refuses
    with server.database.session() as session:
        account_id = session.scalars(select(Account.id).where(Account.name == "reader")).one()
    codec = SessionCodec(server.settings.secret_key)
    session_data = codec.new(account_id)
    client.cookies.set("tf_triage", codec.encode(session_data), path="/triage")
    for path in ("/triage/", "/triage/p/1", "/triage/admin/accounts", "/triage/away?to=x"):
        assert client.get(path).status_code == 403, path
    posted = client.post(
        "/triage/verdict",
        data={"csrf": session_data.csrf, "action": "dismiss", "package": "1", "reason": "x"},
    )
    assert posted.status_code == 403


def test_a_verdict_without_the_csrf_token_is_refused(
    server: LiveServer, make_account: Callable[..., str]
) -> None:
    (package,) = add(server.database, Sample("target"))
    make_account("res")
    client = login(server.url, "res")
    form = {"action": "confirm", "package": str(package), "reason": "exfiltration"}
    assert client.post("/triage/verdict", data=form).status_code == 403
    assert client.post("/triage/verdict", data={**form, "csrf": "forged"}).status_code == 403
    assert verdict_count(server) == 0


def test_confirm_over_http_publishes_to_the_feed(
    server: LiveServer, make_account: Callable[..., str]
) -> None:
    (package,) = add(server.database, Sample("stealer"))
    make_account("res")
    subscriber = make_account("reader", role="subscriber", password=None)
    client = login(server.url, "res")
    token = csrf_of(client.get("/triage/").text)
    response = client.post(
        "/triage/verdict",
        data={"csrf": token, "action": "confirm", "package": str(package), "reason": "steals"},
    )
    assert response.status_code == 303
    assert "Confirmed npm/stealer@1.0.0." in client.get(response.headers["location"]).text
    feed = httpx.get(server.url + "/", headers={"x-access-token": subscriber}).json()
    assert [(p["name"], p["indicators"]["triaged_malware_rule"]) for p in feed["packages"]] == [
        ("stealer", True)
    ]
    with server.database.session() as session:
        row = session.scalars(select(Verdict)).one()
        assert (row.author, row.reason) == ("res", "steals")
        assert row.account_id is not None


def test_an_illegal_verdict_comes_back_as_a_message(
    server: LiveServer, make_account: Callable[..., str]
) -> None:
    (package,) = add(server.database, Sample("target"))
    make_account("res")
    client = login(server.url, "res")
    token = csrf_of(client.get("/triage/").text)
    response = client.post(
        "/triage/verdict",
        data={
            "csrf": token,
            "action": "withdraw",
            "package": str(package),
            "reason": "x",
            "back": f"/triage/p/{package}",
        },
    )
    assert response.headers["location"] == f"/triage/p/{package}"
    assert "it is not in the feed" in client.get(response.headers["location"]).text
    assert verdict_count(server) == 0


def test_the_queue_lists_and_filters(server: LiveServer, make_account: Callable[..., str]) -> None:
    add(
        server.database,
        Sample("low-one", score=0.55),
        Sample("top-one", score=0.99),
        Sample("py-one", ecosystem="pypi", score=0.7),
    )
    make_account("res")
    client = login(server.url, "res")
    page = client.get("/triage/").text
    assert page.index("top-one") < page.index("py-one") < page.index("low-one")
    only = client.get("/triage/?ecosystem=pypi").text
    assert "py-one" in only
    assert "top-one" not in only
    assert client.get("/triage/?min_score=abc").status_code == 400
    for bad in ("rule=bad%20rule", "age=100000000000000000000", "min_score=nan", "page=0"):
        assert client.get(f"/triage/?{bad}").status_code == 400, bad
    assert client.get("/triage/p/1?age=99999999999999999999").status_code == 400


def test_hostile_content_is_escaped_revealed_and_cut(
    server: LiveServer, make_account: Callable[..., str]
) -> None:
    long_line = "A" * (10 * 1024 * 1024)
    (package,) = add(
        server.database,
        Sample(
            f"evil{HOSTILE}",
            files=((f"package/{HOSTILE}\u202egnp.js", 12),),
            indicators={"suspicious_url_references_rule": ["javascript:alert(1)", long_line]},
            locations=(Location("x_rule", "package/\u202eevil.js", 1, long_line),),
        ),
    )
    make_account("res")
    client = login(server.url, "res")
    response = client.get(f"/triage/p/{package}")
    assert response.status_code == 200
    body = response.text
    assert len(response.content) < 200_000
    assert "<script>window" not in body
    assert "<img src=x" not in body
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in body
    assert "\u202e" not in body
    assert "⟦U+202E⟧gnp.js" in body
    assert "more characters]" in body
    assert 'href="javascript:' not in body


def test_links_leave_only_through_the_warning_page(
    server: LiveServer, make_account: Callable[..., str]
) -> None:
    make_account("res")
    client = login(server.url, "res")
    bad = client.get("/triage/away", params={"to": "javascript:alert(1)"}).text
    assert "not offered as a link" in bad
    assert 'href="javascript:' not in bad
    good = client.get("/triage/away", params={"to": "https://registry.example.invalid/x"}).text
    assert 'href="https://registry.example.invalid/x"' in good
    assert 'rel="noopener noreferrer nofollow"' in good


def test_admins_manage_accounts_researchers_cannot(
    server: LiveServer, make_account: Callable[..., str]
) -> None:
    make_account("boss", role="admin")
    make_account("res")
    assert login(server.url, "res").get("/triage/admin/accounts").status_code == 403
    admin = login(server.url, "boss")
    page = admin.get("/triage/admin/accounts")
    assert page.status_code == 200
    created = admin.post(
        "/triage/admin/accounts",
        data={"csrf": csrf_of(page.text), "action": "add", "name": "newbie", "role": "researcher"},
    )
    assert created.status_code == 200
    assert 'id="new-key">tf_' in created.text


def test_a_disabled_account_loses_its_session_at_once(
    server: LiveServer, make_account: Callable[..., str]
) -> None:
    make_account("res")
    client = login(server.url, "res")
    assert client.get("/triage/").status_code == 200
    AccountService(server.database, server.settings).disable("res")
    assert client.get("/triage/").status_code == 303


def test_logging_out_ends_every_session_of_the_account(
    server: LiveServer, make_account: Callable[..., str]
) -> None:
    """A copy of the cookie (another browser, or a stolen one) dies with the logout."""
    make_account("res")
    leaving, copied = login(server.url, "res"), login(server.url, "res")
    assert copied.get("/triage/").status_code == 200

    token = csrf_of(leaving.get("/triage/").text)
    assert leaving.post("/triage/logout", data={"csrf": token}).status_code == 303

    assert copied.get("/triage/").status_code == 303
    assert login(server.url, "res").get("/triage/").status_code == 200


def test_a_password_change_ends_the_sessions_begun_before_it(
    server: LiveServer, make_account: Callable[..., str]
) -> None:
    make_account("res")
    client = login(server.url, "res")
    AccountService(server.database, server.settings).set_password("res", "a new passphrase here")

    assert client.get("/triage/").status_code == 303
    assert login(server.url, "res", "a new passphrase here").get("/triage/").status_code == 200


def test_bulk_verdicts_over_http(server: LiveServer, make_account: Callable[..., str]) -> None:
    ids = add(server.database, *(Sample(f"camp-{i}") for i in range(4)))
    make_account("res")
    client = login(server.url, "res")
    token = csrf_of(client.get("/triage/").text)
    response = client.post(
        "/triage/verdict",
        data={
            "csrf": token,
            "action": "dismiss",
            "reason": "test fixtures",
            "package": [str(i) for i in ids[:3]],
        },
    )
    assert "Dismissed 3 versions." in client.get(response.headers["location"]).text
    assert verdict_count(server) == 3


def test_logout_ends_the_session(server: LiveServer, make_account: Callable[..., str]) -> None:
    make_account("res")
    client = login(server.url, "res")
    token = csrf_of(client.get("/triage/").text)
    assert client.post("/triage/logout", data={}).status_code == 403
    response = client.post("/triage/logout", data={"csrf": token})
    assert response.headers["location"] == "/triage/login"
    assert client.get("/triage/").status_code == 303
