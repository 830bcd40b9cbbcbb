"""Share safely in a real browser: an analyst builds a k-anonymous release, a supervisor
approves and publishes it, and a visitor who never signs in reads it on the open data page,
with its privacy explained in plain words and its charts."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import expect

from tests.e2e.conftest import BrowserSession, Hub
from tests.e2e.test_browser import sign_in, sign_out

OpenSession = Callable[..., BrowserSession]
RELEASE_URL = re.compile(r"/releases/([0-9a-f-]{36})$")
TITLE = "Police cases by age, sex and means of control"
ORG = "demo-police"


def test_analyst_builds_supervisor_publishes_anyone_reads(
    hub: Hub, open_session: OpenSession
) -> None:
    staff = open_session()
    page = staff.new_page()
    sign_in(page, hub, f"analyst@{ORG}")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Releases").click()
    expect(page.get_by_role("heading", name="Releases", exact=True)).to_be_visible()
    page.get_by_role("link", name="Build a release").click()
    page.get_by_label("Title").fill(TITLE)
    page.get_by_label("Synthetic records and counts, k-anonymous").check()
    # The demo hub is small: k = 5 and pairs of values leave something to release.
    page.get_by_label("k: the fewest people behind any released count").fill("5")
    page.get_by_label("Longest combination of values protected").fill("2")
    # The first build in a fresh install compiles the synthesis kernels (numba): give the
    # form's navigation minutes, not the default ten seconds.
    page.get_by_role("button", name="Build the release").click(timeout=240_000)
    expect(page).to_have_url(RELEASE_URL, timeout=240_000)
    expect(page.locator("#release-status")).to_have_text("Draft")
    expect(page.locator("#release-utility")).to_be_visible()
    expect(page.get_by_role("link", name="Open the review report")).to_be_visible()
    # An analyst builds; approving is for someone else.
    expect(page.get_by_role("button", name="Approve the release")).to_have_count(0)
    release_url = page.url
    sign_out(page)

    sign_in(page, hub, f"supervisor@{ORG}")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Releases").click()
    page.get_by_role("link", name=TITLE).click()
    expect(page).to_have_url(release_url)
    page.get_by_role("button", name="Approve the release").click()
    expect(page.locator("#release-status")).to_have_text("Approved")
    page.get_by_role("button", name="Publish the release").click()
    expect(page.locator("#release-status")).to_have_text("Published")
    expect(page.get_by_role("button", name="Approve the release")).to_have_count(0)
    sign_out(page)
    staff.assert_clean()

    visitor = open_session()
    public = visitor.new_page()
    public.goto("/data")
    expect(public).to_have_url(re.compile(r"/data$"))
    expect(public.get_by_role("heading", name="Open data")).to_be_visible()
    expect(public.locator(".user-name")).to_have_count(0)
    public.get_by_role("link", name=TITLE).click()
    expect(public.get_by_role("heading", name=TITLE)).to_be_visible()
    expect(public.locator("#privacy-words")).to_contain_text("k = 5")
    charts = public.locator(".release-chart svg.bar")
    expect(charts.first).to_be_visible()
    assert charts.count() >= 3
    files = public.locator("#public-files a")
    hrefs = [files.nth(i).get_attribute("href") or "" for i in range(files.count())]
    assert sorted(href.rsplit("/", 1)[1] for href in hrefs) == [
        "aggregates.csv",
        "codebook.csv",
        "privacy.json",
        "synthetic.csv",
    ]
    with public.expect_download() as download:
        public.get_by_role("link", name="Synthetic records (CSV, CTDC layout)").click()
    assert download.value.suggested_filename.endswith("synthetic.csv")
    visitor.assert_clean()
    assert not staff.outside_requests and not visitor.outside_requests
