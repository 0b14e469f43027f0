"""The triage UI in a real headless Chromium (Debian's ``chromium``, driven by Playwright).

These run on SQLite only: the services under the UI are tested on both backends.
Screenshots of the queue and of a package view are taken on every run; they replace the
ones in ``docs/screenshots`` when ``THREATFEED_UPDATE_SCREENSHOTS=1``, so a plain test run
leaves the working tree as it found it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from threatfeed.analysis import Location
from threatfeed.store.models import FeedEntry, TriageItem
from threatfeed.triage.service import Author, decide
from threatfeed.triage.states import Kind

from ..conftest import IN_CI, LiveServer
from .conftest import PASSWORD
from .corpuslike import seed
from .factory import Sample, add

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

if not (os.access(CHROMIUM, os.X_OK) and shutil.which(CHROMIUM)):
    if IN_CI:
        raise RuntimeError(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import Browser, Dialog, Page, expect, sync_playwright  # noqa: E402


@pytest.fixture
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'threatfeed.db'}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    opened = context.new_page()
    opened.set_default_timeout(10_000)
    yield opened
    context.close()


def log_in(page: Page, server: LiveServer, name: str) -> None:
    page.goto(server.url + "/triage/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.press("input[name=password]", "Enter")


def navigation_seconds(page: Page, url: str) -> float:
    page.goto(url)
    duration = page.evaluate("performance.getEntriesByType('navigation')[0].duration")
    return float(duration) / 1000


def test_confirm_with_the_keyboard_and_see_it_in_the_feed(
    server: LiveServer, make_account: Callable[..., str], page: Page
) -> None:
    ids = seed(server.database)
    make_account("res")
    subscriber = make_account("reader", role="subscriber", password=None)
    log_in(page, server, "res")
    expect(page).to_have_url(server.url + "/triage/")
    rows = page.locator("tr[data-row]")
    expect(rows.first).to_have_class("selected")
    page.keyboard.press("j")
    expect(rows.nth(1)).to_have_class("selected")
    page.keyboard.press("k")
    target = rows.first.get_attribute("data-id")
    assert target is not None
    page.keyboard.press("o")
    expect(page).to_have_url(f"{server.url}/triage/p/{target}?state=pending")
    page.wait_for_load_state()
    expect(page.locator("pre.code").first).not_to_be_empty()
    evidence = page.locator("section.indicators").inner_text()
    assert "_rule" in evidence
    page.keyboard.press("c")
    expect(page.locator("#reason-confirm")).to_be_focused()
    page.keyboard.type("exfiltrates the environment at install")
    page.keyboard.press("Enter")
    expect(page.locator("#flash")).to_contain_text("Confirmed")
    feed = httpx.get(server.url + "/", headers={"x-access-token": subscriber}).json()
    published = [(p["name"], p["indicators"].get("triaged_malware_rule")) for p in feed["packages"]]
    name = next(n for n, package_id in ids.items() if str(package_id) == target)
    assert published == [(name, True)]


def test_dismiss_from_the_queue_with_the_keyboard(
    server: LiveServer, make_account: Callable[..., str], page: Page
) -> None:
    noisy, *_ = add(
        server.database,
        Sample("noisy-build-tool", score=0.95),
        Sample("other", score=0.6),
        Sample("third", score=0.7),
    )
    make_account("res")
    log_in(page, server, "res")
    expect(page.locator("tr[data-row]").first).to_have_attribute("data-id", str(noisy))
    expect(page.locator("tr[data-row]").first).to_have_class("selected")  # the script is ready
    page.keyboard.press("d")
    expect(page.locator("#bulk-reason")).to_be_focused()
    page.keyboard.type("postinstall only builds native bindings")
    page.keyboard.press("Enter")
    expect(page.locator("#flash")).to_contain_text("Dismissed npm/noisy-build-tool@1.0.0.")
    expect(page.locator(f"tr[data-id='{noisy}']")).to_have_count(0)
    with server.database.session() as session:
        assert session.get_one(TriageItem, noisy).state == "benign"

    # bulk: check two rows with x, then one verdict for both
    expect(page.locator("tr[data-row]").first).to_have_class(
        "selected"
    )  # the reloaded page's script is ready
    page.keyboard.press("?")
    expect(page.locator("#help")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#help")).to_be_hidden()
    page.keyboard.press("x")
    page.keyboard.press("j")
    page.keyboard.press("x")
    page.keyboard.press("d")
    expect(page.locator("#bulk-hint")).to_contain_text("dismiss 2 version(s)")
    page.keyboard.type("internal test fixtures")
    page.keyboard.press("Enter")
    expect(page.locator("#flash")).to_contain_text("Dismissed 2 versions.")
    expect(page.locator("tr[data-row]")).to_have_count(0)


def test_withdraw_with_the_keyboard_and_see_the_withdrawal(
    server: LiveServer, make_account: Callable[..., str], page: Page
) -> None:
    (package,) = add(server.database, Sample("false-positive"))
    with server.database.session() as session:
        decide(session, [package], Kind.MALICIOUS, "looked bad", Author("earlier"))
    make_account("res")
    subscriber = make_account("reader", role="subscriber", password=None)
    log_in(page, server, "res")
    page.goto(f"{server.url}/triage/p/{package}?state=malicious")
    page.keyboard.press("w")
    expect(page.locator("#reason-withdraw")).to_be_focused()
    page.keyboard.type("a telemetry opt-in, confirmed with the maintainer")
    page.keyboard.press("Enter")
    expect(page.locator("#state")).to_have_text("withdrawn")
    withdrawn = httpx.get(server.url + "/withdrawn", headers={"x-access-token": subscriber}).json()
    assert [(p["name"], p["withdrawn_reason"]) for p in withdrawn["packages"]] == [
        ("false-positive", "a telemetry opt-in, confirmed with the maintainer")
    ]
    live = httpx.get(server.url + "/", headers={"x-access-token": subscriber}).json()
    assert live["packages"] == []


def test_a_subscriber_cannot_reach_triage_pages(
    server: LiveServer, make_account: Callable[..., str], page: Page
) -> None:
    add(server.database, Sample("target"))
    make_account("reader", role="subscriber")
    log_in(page, server, "reader")
    expect(page.locator("h1")).to_have_text("403")
    for path in ("/triage/", "/triage/p/1", "/triage/admin/accounts"):
        page.goto(server.url + path)
        expect(page).to_have_url(server.url + "/triage/login")


def test_a_post_without_the_csrf_token_is_refused(
    server: LiveServer, make_account: Callable[..., str], page: Page
) -> None:
    (package,) = add(server.database, Sample("target"))
    make_account("res")
    log_in(page, server, "res")
    page.goto(f"{server.url}/triage/p/{package}")
    page.locator("#verdict-confirm input[name=csrf]").evaluate("field => field.remove()")
    page.fill("#reason-confirm", "no token")
    with page.expect_navigation() as navigation:
        page.press("#reason-confirm", "Enter")
    response = navigation.value
    assert response is not None
    assert response.status == 403
    expect(page.locator("main")).to_contain_text("CSRF")
    with server.database.session() as session:
        assert session.scalars(select(FeedEntry)).all() == []


def test_hostile_content_is_shown_safely_and_the_page_stays_responsive(
    server: LiveServer, make_account: Callable[..., str], page: Page
) -> None:
    payload = (
        "<script>window.__pwned='script'</script>"
        "<img src=x onerror=\"window.__pwned='img';alert(1)\">"
    )
    huge = "var x='" + "A" * (10 * 1024 * 1024) + "';"
    (package,) = add(
        server.database,
        Sample(
            f"evil{payload}\u202egnp.js",
            version=f"1.0.0{payload}",
            files=(
                (f"package/{payload}", 10),
                ("package/invoice\u202efdp.exe", 2048),
                ("package/" + "B" * 100_000, 1),
            ),
            indicators={
                "suspicious_url_references_rule": [
                    {"file": payload, "urls": ["javascript:window.__pwned='link'", huge]}
                ],
                f"{payload}_rule": [payload],
            },
            locations=(
                Location("suspicious_url_references_rule", f"package/{payload}", 1, huge),
                Location("npm_hooks_rule", "package/\u202eevil.js", 2, payload),
            ),
            archive=f"{payload}.tgz",
            url="javascript:window.__pwned='url'",
        ),
    )
    with server.database.session() as session:
        session.execute(
            update(TriageItem).where(TriageItem.package_id == package).values(score=0.99)
        )
    make_account("res")
    dialogs: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    log_in(page, server, "res")
    expect(page.locator("tr[data-row]").first).to_contain_text("<script>")
    # the browser's own measure (Navigation Timing: request to load event), best of three
    # loads so that a busy machine's scheduling noise does not decide the test
    loads = [navigation_seconds(page, f"{server.url}/triage/p/{package}") for _ in range(3)]
    assert min(loads) < 1.0, f"the hostile package view took {loads} s"
    size = page.evaluate("performance.getEntriesByType('navigation')[0].transferSize")
    assert size < 200_000
    body = page.locator("body").inner_text()
    assert "⟦U+202E⟧" in body
    assert "\u202e" not in body
    assert "more characters]" in body
    page.keyboard.press("e")
    expect(page.locator("details.evidence").first).not_to_have_attribute("open", "")
    page.keyboard.press("e")
    expect(page.locator("details.evidence").first).to_have_attribute("open", "")
    page.locator("table.archives a", has_text="open…").click()
    expect(page.locator("main")).to_contain_text("This link leaves threatfeed")
    expect(page.locator("main")).to_contain_text("not offered as a link")
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert dialogs == []
    assert page.locator("a[href^='javascript:']").count() == 0


def test_screenshots_of_the_queue_and_a_package(
    server: LiveServer, make_account: Callable[..., str], page: Page, tmp_path: Path
) -> None:
    folder = SCREENSHOTS if os.environ.get("THREATFEED_UPDATE_SCREENSHOTS") == "1" else tmp_path
    ids = seed(server.database)
    with server.database.session() as session:
        decide(session, [ids["lodahs"]], Kind.MALICIOUS, "typosquat of lodash", Author("res"))
        decide(session, [ids["node-fetch-npm2"]], Kind.BENIGN, "a fork", Author("res"))
    make_account("res")
    log_in(page, server, "res")
    folder.mkdir(parents=True, exist_ok=True)
    expect(page.locator("tr[data-row]").first).to_have_class("selected")
    page.keyboard.press("j")
    page.screenshot(path=str(folder / "queue.png"))
    page.goto(f"{server.url}/triage/p/{ids['chalk-templat']}?state=pending")
    expect(page.locator("section.campaign")).to_contain_text("chalk-tempalte")
    page.screenshot(path=str(folder / "package.png"), full_page=True)
    assert (folder / "queue.png").stat().st_size > 10_000
    assert (folder / "package.png").stat().st_size > 10_000
