"""Detect online in a real browser: a caseworker opens the review queue, opens a flagged ad
whose saved page carried a script, confirms it and hands it over to the labour inspectorate,
then finds the task that opened. Nothing of the ad ever runs: no dialog opens, the page logs
no error, and the script is on screen as text."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Dialog, expect

from tests.e2e.conftest import DEMO_PASSWORD, BrowserSession, Hub, HubProcess
from tests.e2e.test_browser import sign_in, sign_out

OpenSession = Callable[..., BrowserSession]
REPOSITORY = Path(__file__).resolve().parents[2]
ORGANISATION = "demo-ngo"
HOSTILE_TEXT = (
    "Earn 3000 EUR a month picking fruit in Germany, no experience needed! "
    '<script>alert(1)</script> =HYPERLINK("http://x") <img src=x onerror=alert(2)>'
)
SEED_SECONDS = 120


def seed_from_environment() -> None:
    """Run in a subprocess with the hub's own environment (database, keys): store two ads
    of the demo NGO, one flagged with its evidence words, and print their row ids."""
    from tiphub.cases.access import local_operator
    from tiphub.online import hub as online
    from tiphub.online.ads import IndicatorHit, RawAd
    from tiphub.store.db import make_engine

    engine = make_engine()
    operator = local_operator("operator:e2e")
    seen = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
    ads = [
        RawAd(
            ad_id="e2e-hostile-1",
            title="Fruit pickers <b>wanted</b>",
            text=HOSTILE_TEXT,
            seen_at=seen,
            source="e2e.csv",
            row=2,
        ),
        RawAd(
            ad_id="e2e-plain-1",
            text="Office assistant in Leeds, permanent contract.",
            seen_at=seen,
            source="e2e.csv",
            row=3,
        ),
    ]
    online.ingest_ads(engine, operator, ads, organisation=ORGANISATION)
    rows = {ad.ad_id: ad.row_id for ad in online.stored_ads(engine, operator)}
    hits = (
        IndicatorHit("no-experience-needed", ("no experience",)),
        IndicatorHit("work-abroad", ("Germany",)),
    )
    results = [
        online.AdResult(rows["e2e-hostile-1"], 0.91, True, hits, None, "agriculture", "DE"),
        online.AdResult(rows["e2e-plain-1"], 0.03, False, (), None, "office", None),
    ]
    online.save_results(engine, operator, results, [])
    print(json.dumps({ad_id: str(row_id) for ad_id, row_id in rows.items()}))


@pytest.fixture(scope="module")
def seeded(hub_process: HubProcess, hub_database_url: str, hub: Hub) -> dict[str, str]:
    data_dir = hub_process.log_file.parent
    environment = {
        **os.environ,
        "TIPHUB_DATA_DIR": str(data_dir),
        "TIPHUB_KEY_FILE": str(data_dir / "keys"),
        "TIPHUB_DEMO_PASSWORD": DEMO_PASSWORD,
        "TIPHUB_DATABASE_URL": hub_database_url,
    }
    code = "from tests.e2e.test_online_review import seed_from_environment as s; s()"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPOSITORY,
        env=environment,
        capture_output=True,
        text=True,
        timeout=SEED_SECONDS,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"seeding the ads failed:\n{done.stderr[-3000:]}")
    rows: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
    return rows


def test_reviewer_confirms_a_hostile_ad_and_hands_it_to_the_labour_inspectorate(
    hub: Hub, open_session: OpenSession, seeded: dict[str, str]
) -> None:
    session = open_session()
    page = session.new_page()
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    sign_in(page, hub, f"caseworker@{ORGANISATION}")
    page.get_by_role("navigation").get_by_role("link", name="Online").click()
    expect(page.get_by_role("heading", name="Online ads to review")).to_be_visible()
    expect(page.locator("tr.online-ad")).to_have_count(1)  # the plain ad is not flagged

    page.get_by_role("link", name="e2e-hostile-1").click()
    expect(page).to_have_url(f"{hub.base_url}/online/ads/{seeded['e2e-hostile-1']}")
    text = page.locator("#ad-text")
    expect(text).to_contain_text("<script>alert(1)</script>")
    expect(text).to_contain_text("<img src=x onerror=alert(2)>")
    expect(text).to_contain_text('=HYPERLINK("')
    expect(text.locator("script")).to_have_count(0)
    expect(text.locator("img")).to_have_count(0)
    expect(text.locator("mark")).to_have_count(2)
    expect(page.locator(".online-ad-title")).to_contain_text("<b>wanted</b>")
    expect(page.locator("li.online-indicator")).to_have_count(2)

    page.get_by_label("Confirmed: the ad shows deceptive recruitment").check()
    page.get_by_label("Note (optional)").fill("Fee-free work abroad, no experience: typical lure.")
    page.get_by_role("button", name="Record the decision").click()
    expect(page.locator("#review-status")).to_contain_text("Confirmed")

    page.get_by_label("Refer to the labour inspectorate").check()
    page.get_by_role("button", name="Hand over").click()
    handover = page.locator("li.online-handover[data-kind=labour_inspectorate]")
    expect(handover).to_contain_text("Referred to the labour inspectorate")
    expect(handover).to_contain_text("A task was opened")
    handover.get_by_role("link", name="see the open tasks").click()
    expect(page.locator("ul.tasks")).to_contain_text("labour inspectorate")

    page.goto("/online/statistics")
    expect(page.locator("svg.line-chart")).to_have_count(3)
    expect(page.locator("#dimension-destination")).to_contain_text("Germany")

    page.goto("/online?status=confirmed")
    expect(page.locator("tr.online-ad")).to_have_count(1)
    sign_out(page)
    assert dialogs == [], "a script from the ad ran"
    session.assert_clean()
