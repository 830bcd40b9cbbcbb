"""Screen, identify, refer in a real browser: a labour inspector screens a worker with the
ILO/EC adult-labour indicators, sees which dimensions are positive and why, refers the
person with consent to the UK NRM, and a supervisor sees the case move through its stages
with the deadlines; the statistics page shows the funnel and the times."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import expect

from tests.e2e.conftest import BrowserSession, Hub
from tests.e2e.test_browser import CASE_URL, sign_in, sign_out

OpenSession = Callable[..., BrowserSession]


def expect_one_refusal(session: BrowserSession, path_part: str) -> None:
    """The browser logs the deliberate 422 of a refused step: exactly one, on that page."""
    refusals = [p for p in session.problems if "422" in p and path_part in p]
    assert len(refusals) == 1, session.problems
    session.problems.remove(refusals[0])


INSTRUMENT = "ilo-ec-2009-adult-labour"
# Deceptive recruitment: 1 strong + 1 medium; exploitative conditions: 1 strong + 1 medium;
# coercion at destination: 2 strong. Each of the three needed dimensions is positive.
PRESENT = (
    "deceptive_recruitment.nature_of_job_location_or_employer",
    "deceptive_recruitment.wages_earnings",
    "exploitative_conditions.excessive_working_days_or_hours",
    "exploitative_conditions.low_or_no_salary",
    "coercion_at_destination.confiscation_of_documents",
    "coercion_at_destination.debt_bondage",
)


def test_inspector_screens_refers_and_supervisor_follows_the_nrm(
    hub: Hub, open_session: OpenSession
) -> None:
    inspector = open_session()
    page = inspector.new_page()
    sign_in(page, hub, "caseworker@demo-labour")
    page.get_by_role("link", name="New case").click()
    page.get_by_label("First name").fill("Ion")
    page.get_by_label("Family name").fill("Screeningtest")
    page.get_by_label("Trafficking status").select_option("PossibleVictimOfTrafficking")
    page.get_by_role("button", name="Create the case").click()
    expect(page).to_have_url(CASE_URL)
    found = CASE_URL.search(page.url)
    assert found is not None
    case_id = found.group(1)

    page.get_by_role("link", name="Screen for trafficking indicators").click()
    page.get_by_label("Instrument").select_option(INSTRUMENT)
    page.get_by_role("button", name="Show the questions").click()
    form = page.locator("#screening-form")
    expect(form.locator("input[type=radio][value=yes]")).to_have_count(67)
    for item in PRESENT:
        form.locator(f"input[name='answer-{item}'][value=yes]").check()
    form.locator("input[name='answer-coercive_recruitment.violence_on_victims'][value=no]").check()
    page.get_by_role("button", name="Score the screening").click()
    expect(page.locator("#screening-verdict")).to_contain_text("Positive screen")
    for dimension in (
        "deceptive_recruitment",
        "exploitative_conditions",
        "coercion_at_destination",
    ):
        expect(page.locator(f"[data-dimension={dimension}]")).to_have_class(
            re.compile("dimension--positive")
        )
    expect(page.locator("[data-dimension=coercive_recruitment]")).to_have_class(
        re.compile("dimension--negative")
    )
    expect(page.locator(".screening-explanation")).to_contain_text("Deceptive recruitment")

    # Without consent an adult is not referred: the refusal says why.
    page.get_by_role("link", name="Refer to a national referral mechanism").click()
    page.get_by_label("Mechanism").select_option("uk-nrm")
    page.get_by_role("button", name="Make the referral").click()
    expect(page.locator("#refusal")).to_contain_text("consent")
    expect_one_refusal(inspector, f"/cases/{case_id}/nrm")

    page.goto(f"/cases/{case_id}")
    page.get_by_role("link", name="Record consent").click()
    page.get_by_label("Purpose of consent").select_option("Referral")
    page.get_by_role("group", name="Consent given").get_by_label("Yes").check()
    page.get_by_role("button", name="Save the consent").click()
    page.get_by_role("link", name="Refer to a national referral mechanism").click()
    page.get_by_label("Mechanism").select_option("uk-nrm")
    expect(page.get_by_label("Person referred")).to_contain_text("consented to referral")
    page.get_by_role("button", name="Make the referral").click()
    expect(page).to_have_url(re.compile(rf"/cases/{case_id}#nrm-heading$"))
    stage = page.locator(".workflow-stage")
    expect(stage).to_contain_text("awaiting Reasonable Grounds decision")
    expect(page.locator(".workflow-due")).to_be_visible()
    sign_out(page)
    inspector.assert_clean()

    supervisor = open_session()
    page = supervisor.new_page()
    sign_in(page, hub, "supervisor@demo-labour")
    page.get_by_role("navigation").get_by_role("link", name="Identification").click()
    row = page.locator("tr.workflow-item", has=page.locator(f"a[href^='/cases/{case_id}']"))
    expect(row).to_contain_text("awaiting Reasonable Grounds decision")
    expect(row).to_contain_text("5 working days")
    expect(page.locator("ul.tasks")).to_contain_text("Reasonable Grounds")
    row.locator(f"a[href^='/cases/{case_id}']").click()
    step = page.locator("details.workflow-step", has_text="Record a positive Reasonable Grounds")
    step.locator("summary").click()
    step.get_by_label("Decided by").fill("Single Competent Authority")
    step.get_by_label("Grounds or reason").fill("Deception, excessive hours, debt bondage")
    step.get_by_role("button", name="Record a positive Reasonable Grounds decision").click()
    expect(page.locator(".workflow-stage")).to_contain_text("recovery period")
    expect(page.locator(".workflow-item")).to_contain_text("Waiting period")
    # The conclusive decision inside the 30-day recovery period is refused, with the date.
    step = page.locator("details.workflow-step", has_text="Record a positive Conclusive Grounds")
    step.locator("summary").click()
    step.get_by_label("Decided by").fill("Single Competent Authority")
    step.get_by_label("Grounds or reason").fill("Too early")
    step.get_by_role("button", name="Record a positive Conclusive Grounds decision").click()
    expect(page.locator("#refusal")).to_contain_text("Recovery period")
    expect(page.get_by_text("Nothing was changed.")).to_be_visible()
    expect_one_refusal(supervisor, "/cg_positive")

    page.get_by_role("navigation").get_by_role("link", name="Statistics").click()
    funnel = page.locator("#chain-funnel")
    expect(funnel).to_contain_text("Screened")
    expect(funnel).to_contain_text("Referred")
    expect(page.locator("#chain-times")).to_be_visible()
    sign_out(page)
    supervisor.assert_clean()
    assert [*inspector.outside_requests, *supervisor.outside_requests] == []
