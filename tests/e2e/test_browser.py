"""The hub in a real browser: a referral from one organisation to another, end to end.

One module-wide server (see conftest.py) keeps its data between the tests; every test opens
fresh browser profiles, and fails on any console error or Content-Security-Policy violation.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.e2e.conftest import BrowserSession, Hub

OpenSession = Callable[..., BrowserSession]
CASE_URL = re.compile(r"/cases/([0-9a-f-]{36})$")


def sign_in(page: Page, hub: Hub, username: str) -> None:
    page.goto("/signin")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(hub.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/signin"))
    expect(page.locator(".user-name")).to_have_text(username)


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/signin$"))


def test_signed_out_visitor_lands_on_sign_in_with_banner_and_quick_exit(
    open_session: OpenSession,
) -> None:
    session = open_session()
    page = session.new_page()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/signin$"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator(".demo-banner")).to_be_visible()
    expect(page.locator(".demo-banner")).to_contain_text("synthetic data only")
    expect(page.get_by_role("link", name="Quick exit")).to_be_visible()
    session.assert_clean()
    assert session.outside_requests == []


def test_referral_journey_from_ngo_to_police_is_audited(
    hub: Hub, open_session: OpenSession
) -> None:
    ngo = open_session()
    page = ngo.new_page()
    sign_in(page, hub, "caseworker@demo-ngo")

    page.get_by_role("link", name="New case").click()
    expect(page).to_have_url(re.compile(r"/cases/new$"))
    # Synthetic values: the demo hub never holds real people.
    page.get_by_label("First name").fill("Erin")
    page.get_by_label("Family name").fill("Testperson")
    page.get_by_label("Trafficking status").select_option("PossibleVictimOfTrafficking")
    page.get_by_role("button", name="Create the case").click()
    expect(page).to_have_url(CASE_URL)
    found = CASE_URL.search(page.url)
    assert found is not None
    case_id = found.group(1)

    page.get_by_role("link", name="Record consent").click()
    page.get_by_label("Purpose of consent").select_option("Referral")
    page.get_by_role("group", name="Consent given").get_by_label("Yes").check()
    page.get_by_role("button", name="Save the consent").click()
    expect(page).to_have_url(re.compile(rf"/cases/{case_id}$"))
    expect(page.locator(".timeline")).to_contain_text("Consent: Referral to services – given")

    page.get_by_role("link", name="Refer to another organisation").click()
    page.get_by_label("Refer to").select_option("demo-police")
    shared_sections = page.get_by_role("group", name="What to share")
    shared_sections.get_by_label("Victim details").check()
    shared_sections.get_by_label("Events", exact=True).check()
    page.get_by_role("button", name="Send the referral").click()
    expect(page).to_have_url(re.compile(rf"/cases/{case_id}$"))
    expect(page.locator("ul.referrals")).to_contain_text("To demo-police")
    expect(page.locator("ul.referrals")).to_contain_text("Waiting for a decision")
    sign_out(page)
    ngo.assert_clean()

    police = open_session()
    page = police.new_page()
    sign_in(page, hub, "caseworker@demo-police")
    page.get_by_role("navigation").get_by_role("link", name="Referrals").click()
    incoming = page.locator("li.referral", has=page.locator(f"a[href='/cases/{case_id}']"))
    expect(incoming).to_contain_text("demo-ngo")
    accept_action = incoming.locator("form[action$='/accept']").get_attribute("action")
    assert accept_action is not None
    share_id = accept_action.split("/")[2]
    incoming.get_by_role("button", name="Accept").click()
    expect(incoming).to_contain_text("Accepted")
    incoming.locator(f"a[href='/cases/{case_id}']").click()
    expect(page).to_have_url(re.compile(rf"/cases/{case_id}$"))
    expect(page.get_by_text("Shared with us")).to_be_visible()
    # Identity was not shared: the police see "Person 1", not the name.
    expect(page.get_by_text("Testperson")).to_have_count(0)
    shared_list = page.locator(".shared-sections")
    expect(shared_list.get_by_text("Victim details: shared")).to_be_visible()
    expect(
        shared_list.get_by_text("Identity (names, birth date, contacts, identifiers): not shared")
    ).to_be_visible()
    sign_out(page)
    police.assert_clean()

    # Each organisation's auditor sees its own people's entries about the referral.
    for auditor, action in (
        ("auditor@demo-ngo", "referral.create"),
        ("auditor@demo-police", "referral.accept"),
    ):
        audit = open_session()
        page = audit.new_page()
        sign_in(page, hub, auditor)
        page.goto("/audit")
        entry = page.locator("tbody tr", has_text=f"referral {share_id}")
        expect(entry.filter(has_text=action)).to_have_count(1)
        audit.assert_clean()
        assert audit.outside_requests == []
    assert [*ngo.outside_requests, *police.outside_requests] == []


def test_tab_reaches_quick_exit_first_and_double_escape_leaves(
    open_session: OpenSession,
) -> None:
    session = open_session()
    page = session.new_page()
    page.goto("/signin")
    quick_exit = page.get_by_role("link", name="Quick exit")
    neutral_url = quick_exit.get_attribute("data-neutral-url")
    assert neutral_url and neutral_url.startswith("http")
    page.keyboard.press("Tab")
    expect(quick_exit).to_be_focused()

    with page.expect_navigation(url=neutral_url):
        page.keyboard.press("Escape")
        page.keyboard.press("Escape")
    assert page.url == neutral_url
    # Stood in for by the test's neutral page: nothing left the machine.
    assert session.outside_requests == [neutral_url]
    session.assert_clean()


def test_french_browser_gets_french_quick_exit(open_session: OpenSession) -> None:
    session = open_session(locale="fr-FR")
    page = session.new_page()
    page.goto("/signin")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.locator("#quick-exit")).to_have_text("Sortie rapide")
    session.assert_clean()


def test_language_switcher_changes_to_french(open_session: OpenSession) -> None:
    session = open_session()
    page = session.new_page()
    page.goto("/signin")
    expect(page.locator("#quick-exit")).to_have_text("Quick exit")
    page.get_by_label("Language").select_option("fr")
    page.get_by_role("button", name="Change").click()
    expect(page.locator("#quick-exit")).to_have_text("Sortie rapide")
    session.assert_clean()


def test_quick_exit_while_signed_in_ends_the_session(hub: Hub, open_session: OpenSession) -> None:
    session = open_session()
    page = session.new_page()
    sign_in(page, hub, "caseworker@demo-ngo")
    neutral_url = page.locator("#quick-exit").get_attribute("data-neutral-url")
    with page.expect_navigation(url=neutral_url):
        page.get_by_role("link", name="Quick exit").click()
    assert session.outside_requests == [neutral_url]
    # The page told the server with a beacon on its way out, which may land a moment later.
    deadline = time.monotonic() + 5
    page.goto("/cases")
    while "/signin" not in page.url and time.monotonic() < deadline:
        page.wait_for_timeout(200)
        page.goto("/cases")
    expect(page).to_have_url(re.compile(r"/signin\?next=/cases$"))
    session.assert_clean()
