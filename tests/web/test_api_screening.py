"""Screening and national referral mechanisms over the REST API, with bearer tokens."""

from __future__ import annotations

import datetime as dt

from tests.web.hub_fixtures import Hub, hub_fixture  # noqa: F401
from tests.web.test_pages_screening import _adult_with_consent

ORG = "demo-labour"


def test_screen_refer_and_decide_through_the_api(hub: Hub) -> None:
    case_id = hub.case_in_scope(ORG)
    person = _adult_with_consent(hub, case_id)
    caseworker = hub.client_for(f"caseworker@{ORG}")
    supervisor = hub.client_for(f"supervisor@{ORG}")

    listed = caseworker.get("/api/v1/instruments").json()
    ilo_ec = next(i for i in listed if i["id"] == "ilo-ec-2009-adult-labour")
    assert len(ilo_ec["indicators"]) == 67
    assert {i["strength"] for i in ilo_ec["indicators"]} == {"strong", "medium", "weak"}

    refused = caseworker.post(
        f"/api/v1/cases/{case_id}/screenings",
        json={
            "instrument": "qyit",
            "answers": {"no_such_item": True},
            "person_external_id": person,
        },
    )
    assert refused.status_code == 422 and "no_such_item" in refused.text
    qyit = caseworker.get("/api/v1/instruments/qyit").json()
    first_item = qyit["indicators"][0]["id"]
    created = caseworker.post(
        f"/api/v1/cases/{case_id}/screenings",
        json={"instrument": "qyit", "answers": {first_item: True}, "person_external_id": person},
    )
    assert created.status_code == 201, created.text
    assert created.json()["result"]["positive"] is True  # QYIT: one yes is positive
    stored = caseworker.get(f"/api/v1/cases/{case_id}/screenings").json()
    assert stored[0]["id"] == created.json()["id"]  # newest first
    assert "consider_referral" in [t["kind"] for t in caseworker.get("/api/v1/tasks").json()]

    referred_on = (dt.date.today() - dt.timedelta(days=20)).isoformat()
    referral = caseworker.post(
        f"/api/v1/cases/{case_id}/mechanism-referrals",
        json={"mechanism": "uk-nrm", "person_external_id": person, "fields": {"on": referred_on}},
    )
    assert referral.status_code == 201, referral.text
    reference = referral.json()["reference"]
    assert referral.json()["stage"] == "referred"
    overdue = supervisor.get("/api/v1/identification").json()
    assert next(i for i in overdue if i["reference"] == reference)["status"] == "overdue"

    denied = caseworker.post(
        f"/api/v1/cases/{case_id}/mechanism-referrals/{reference}/steps",
        json={"transition": "rg_positive", "fields": {"grounds": "x", "decided_by": "SCA"}},
    )
    assert denied.status_code == 422 and "workflow:decide" in denied.text
    decided = supervisor.post(
        f"/api/v1/cases/{case_id}/mechanism-referrals/{reference}/steps",
        json={
            "transition": "rg_positive",
            "fields": {"grounds": "Indicators", "decided_by": "SCA"},
        },
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["stage"] == "recovery_period"
    assert decided.json()["status"] == "waiting"
    assert decided.json()["due_on"] == (dt.date.today() + dt.timedelta(days=30)).isoformat()
