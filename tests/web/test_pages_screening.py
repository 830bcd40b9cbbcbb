"""Screen, refer, decide through the hub's pages: a labour inspector screens a worker with the
ILO/EC adult-labour set, refers them with consent, and a supervisor moves the referral
through the NRM stages and sees its deadlines."""

from __future__ import annotations

import datetime as dt
import html
import re
import uuid
from typing import Any

from tests.web.hub_fixtures import VICTIM_ROLES, Hub, hub_fixture  # noqa: F401
from tiphub.cases.access import local_operator
from tiphub.cases.api import CaseStore
from tiphub.screening.instruments import instrument

ORG = "demo-labour"
INSTRUMENT = "ilo-ec-2009-adult-labour"


def _adult_with_consent(hub: Hub, case_id: uuid.UUID) -> str:
    store = CaseStore(hub.engine, local_operator("operator:test"))
    document = store.read(case_id, audited=False).document
    person = next(p for p in document["participants"] if p["role"] in VICTIM_ROLES)["person"][
        "external_id"
    ]

    def change(current: dict[str, Any]) -> dict[str, Any]:
        participants = [
            {**p, "person": {**p["person"], "birth_date": "1988-06-01"}}
            if p["person"]["external_id"] == person
            else p
            for p in current["participants"]
        ]
        consents = [c for c in current.get("consents", []) if c["purpose"] != "Referral"]
        consents.append(
            {
                "person_external_id": person,
                "purpose": "Referral",
                "given": True,
                "recorded_on": (dt.date.today() - dt.timedelta(days=40)).isoformat(),
            }
        )
        return {"participants": participants, "consents": consents}

    store.update_case(case_id, change)
    return str(person)


def _hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, name
    return html.unescape(found.group(1))


def test_screen_refer_and_follow_the_nrm_in_the_hub(hub: Hub) -> None:
    case_id = hub.case_in_scope(ORG)
    person = _adult_with_consent(hub, case_id)
    inspector = hub.session_client_for(f"caseworker@{ORG}")

    page = inspector.get(f"/cases/{case_id}")
    assert page.status_code == 200
    assert f"/cases/{case_id}/screen" in page.text
    form = inspector.get(f"/cases/{case_id}/screen", params={"instrument_id": INSTRUMENT})
    assert form.status_code == 200
    chosen = instrument(INSTRUMENT)
    # All 67 items are asked, grouped by the six dimensions.
    assert form.text.count('type="radio" name="answer-') == 3 * 67
    answers: dict[str, str] = {}
    by_dimension: dict[str, list[Any]] = {}
    for indicator in chosen.indicators:
        by_dimension.setdefault(indicator.dimension, []).append(indicator)
    # Deceptive recruitment: 1 strong + 1 medium; exploitative conditions: 3 medium;
    # coercion at destination: 2 strong. Every other item answered "no".
    picks = {
        "deceptive_recruitment": ("strong", "medium"),
        "exploitative_conditions": ("medium", "medium", "medium"),
        "coercion_at_destination": ("strong", "strong"),
    }
    for indicator in chosen.indicators:
        answers[f"answer-{indicator.id}"] = "no"
    for dimension, grades in picks.items():
        pool = list(by_dimension[dimension])
        for grade in grades:
            item = next(i for i in pool if i.strength == grade)
            pool.remove(item)
            answers[f"answer-{item.id}"] = "yes"
    result = inspector.post(
        f"/cases/{case_id}/screen",
        data={
            "csrf_token": _hidden(form.text, "csrf_token"),
            "instrument_id": INSTRUMENT,
            "person": person,
            **answers,
        },
    )
    assert result.status_code == 200, result.text[:500]
    assert "Positive screen" in result.text
    assert 'data-dimension="deceptive_recruitment"' in result.text
    positive = re.findall(
        r'class="dimension dimension--positive" data-dimension="(\w+)"', result.text
    )
    assert sorted(positive) == sorted(picks)
    assert "not an identification decision" in result.text
    assert f"/cases/{case_id}/nrm" in result.text

    refer_form = inspector.get(f"/cases/{case_id}/nrm")
    assert "consented to referral" in refer_form.text
    referred = inspector.post(
        f"/cases/{case_id}/nrm",
        data={
            "csrf_token": _hidden(refer_form.text, "csrf_token"),
            "if_match": _hidden(refer_form.text, "if_match"),
            "mechanism": "uk-nrm",
            "person": person,
            "on": (dt.date.today() - dt.timedelta(days=35)).isoformat(),
        },
    )
    assert referred.status_code == 303

    supervisor = hub.session_client_for(f"supervisor@{ORG}")
    dashboard = supervisor.get("/identification")
    assert dashboard.status_code == 200
    references = re.findall(
        r'class="workflow-item workflow-item--overdue" data-reference="([\w-]+)"', dashboard.text
    )
    assert references, "the reasonable-grounds decision, 35 days after referral, is overdue"
    case_page = supervisor.get(f"/cases/{case_id}")
    reference = next(r for r in references if f'data-reference="{r}"' in case_page.text)
    assert "Reasonable Grounds" in case_page.text
    step = supervisor.post(
        f"/cases/{case_id}/nrm/{reference}/rg_positive",
        data={
            "csrf_token": _hidden(case_page.text, "csrf_token"),
            "on": (dt.date.today() - dt.timedelta(days=31)).isoformat(),
            "decided_by": "Single Competent Authority",
            "grounds": "Indicators of deception and coercion",
        },
    )
    assert step.status_code == 303
    case_page = supervisor.get(f"/cases/{case_id}")
    assert "Recovery period" in case_page.text
    # A refused step names its reason and changes nothing.
    refused = supervisor.post(
        f"/cases/{case_id}/nrm/{reference}/cg_positive",
        data={
            "csrf_token": _hidden(case_page.text, "csrf_token"),
            "on": dt.date.today().isoformat(),
        },
    )
    assert refused.status_code == 422
    assert "grounds" in refused.text
    # The caseworker may not record the competent authority's decision.
    page = inspector.get(f"/cases/{case_id}")
    denied = inspector.post(
        f"/cases/{case_id}/nrm/{reference}/cg_positive",
        data={
            "csrf_token": _hidden(page.text, "csrf_token"),
            "on": dt.date.today().isoformat(),
            "decided_by": "SCA",
            "grounds": "x",
        },
    )
    assert denied.status_code == 422 and "workflow:decide" in denied.text
    done = supervisor.post(
        f"/cases/{case_id}/nrm/{reference}/cg_positive",
        data={
            "csrf_token": _hidden(case_page.text, "csrf_token"),
            "on": dt.date.today().isoformat(),
            "decided_by": "Single Competent Authority",
            "grounds": "Corroborated by the labour inspectorate",
        },
    )
    assert done.status_code == 303
    final = supervisor.get(f"/cases/{case_id}")
    assert "Conclusive Grounds" in final.text


def test_screening_needs_an_answer_and_a_person(hub: Hub) -> None:
    case_id = hub.case_in_scope(ORG)
    inspector = hub.session_client_for(f"caseworker@{ORG}")
    form = inspector.get(f"/cases/{case_id}/screen", params={"instrument_id": "qyit"})
    answered = inspector.post(
        f"/cases/{case_id}/screen",
        data={
            "csrf_token": _hidden(form.text, "csrf_token"),
            "instrument_id": "qyit",
            "person": re.findall(r'<option value="([^"]+)"', form.text.split('id="f-person"')[1])[
                0
            ],
        },
    )
    assert answered.status_code == 422
    assert "Answer at least one item" in answered.text


def test_an_analyst_cannot_open_the_screening_form(hub: Hub) -> None:
    case_id = hub.case_in_scope(ORG)
    analyst = hub.session_client_for(f"analyst@{ORG}")
    assert analyst.get(f"/cases/{case_id}/screen").status_code == 403
    assert analyst.get("/identification").status_code == 200


def test_find_a_shelter_refer_and_record_the_answer(hub: Hub) -> None:
    case_id = hub.case_in_scope(ORG)
    person = _adult_with_consent(hub, case_id)
    caseworker = hub.session_client_for(f"caseworker@{ORG}")
    # Women's shelters near Birmingham: London (about 163 km) comes before Manchester's
    # men's house, which a woman's search leaves out.
    found = caseworker.get(
        "/services",
        params={
            "need": "Accommodation",
            "sex": "Female",
            "age": "30",
            "near": "52.4862,-1.8904",
            "case": str(case_id),
        },
    )
    assert found.status_code == 200
    listed = re.findall(r'data-provider="([\w-]+)"', found.text)
    assert listed and listed[0] == "demo-safe-harbour-london"
    assert "demo-northern-light-manchester" not in listed
    distance = re.search(
        r'data-provider="demo-safe-harbour-london".*?class="distance">(\d+) km', found.text, re.S
    )
    assert distance is not None and 155 <= int(distance.group(1)) <= 170
    form = caseworker.get(f"/cases/{case_id}/services/refer", params={"provider": listed[0]})
    assert form.status_code == 200
    sent = caseworker.post(
        f"/cases/{case_id}/services/refer",
        data={
            "csrf_token": _hidden(form.text, "csrf_token"),
            "if_match": _hidden(form.text, "if_match"),
            "provider": listed[0],
            "person": person,
            "services": "Accommodation",
        },
    )
    assert sent.status_code == 303, sent.text[:300]
    page = caseworker.get(f"/cases/{case_id}")
    reference = re.search(r'class="service-referral" data-reference="([\w-]+)"', page.text)
    assert reference is not None
    declined = caseworker.post(
        f"/cases/{case_id}/services/{reference.group(1)}/respond",
        data={"csrf_token": _hidden(page.text, "csrf_token"), "status": "Declined"},
    )
    assert declined.status_code == 422 and "reason" in declined.text
    accepted = caseworker.post(
        f"/cases/{case_id}/services/{reference.group(1)}/respond",
        data={"csrf_token": _hidden(page.text, "csrf_token"), "status": "Accepted"},
    )
    assert accepted.status_code == 303
    assert "Accepted" in caseworker.get(f"/cases/{case_id}").text


def test_a_helpline_call_is_logged_without_identifying_details(hub: Hub) -> None:
    caseworker = hub.session_client_for(f"caseworker@{ORG}")
    page = caseworker.get("/helpline")
    assert page.status_code == 200
    traced = caseworker.post(
        "/helpline",
        data={
            "csrf_token": _hidden(page.text, "csrf_token"),
            "channel": "phone",
            "caller_type": "victim",
            "region": "call back on 0723 456 789",
        },
    )
    assert traced.status_code == 422
    # The page's random CSRF token may happen to hold the digits: it is left out.
    shown = traced.text.replace(_hidden(traced.text, "csrf_token"), "")
    assert "0723" not in shown.split("<main", 1)[1].split('name="region"', 1)[0]
    logged = caseworker.post(
        "/helpline",
        data={
            "csrf_token": _hidden(page.text, "csrf_token"),
            "channel": "phone",
            "caller_type": "victim",
            "region": "Vaslui",
            "language": "ron",
            "indicators_mentioned": ["forced_labour.deception"],
            "advice_given": ["referred_to_ngo"],
        },
    )
    assert logged.status_code == 303, logged.text[:400]
    week = dt.date.today().isocalendar()
    table = caseworker.get("/helpline").text.split('class="weekly-counts"', 1)[1]
    assert f"{week.year}-W{week.week:02d}</td><td>phone</td><td>1</td>" in table


def test_the_statistics_page_shows_the_chain_and_its_csv(hub: Hub) -> None:
    import csv
    import io

    from sqlalchemy import func, select

    from tiphub.store import models as m
    from tiphub.store.models import table_of

    supervisor = hub.session_client_for(f"supervisor@{ORG}")
    page = supervisor.get("/statistics")
    assert page.status_code == 200
    funnel = page.text.split('id="chain-funnel"', 1)[1].split("</table>", 1)[0]
    screened = re.search(
        r'data-step="screened"><th scope="row">[^<]+</th><td class="number">([\d,]+)<', funnel
    )
    assert screened is not None
    # Independent count: distinct (case, person) screened at this organisation.
    screening = table_of(m.Screening)
    org = table_of(m.Organisation)
    with hub.engine.connect() as connection:
        expected = connection.execute(
            select(func.count()).select_from(
                select(screening.c.case_id, screening.c.person_external_id)
                .join(org, org.c.id == screening.c.organisation_id)
                .where(org.c.slug == ORG, screening.c.case_id.is_not(None))
                .distinct()
                .subquery()
            )
        ).scalar_one()
    assert int(screened.group(1).replace(",", "")) == expected
    assert 'id="chain-times"' in page.text and 'id="chain-law-enforcement"' in page.text
    exported = supervisor.get("/statistics/chain.csv")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    funnel_rows = [
        r for r in rows if (r["table"], r["key"], r["measure"]) == ("funnel", "screened", "count")
    ]
    assert funnel_rows and int(float(funnel_rows[0]["value"])) == expected
    caseworker = hub.session_client_for(f"caseworker@{ORG}")
    assert caseworker.get("/statistics/chain.csv").status_code == 403


def test_the_offline_form_downloads_as_an_xlsform(hub: Hub) -> None:
    import io

    from openpyxl import load_workbook

    inspector = hub.session_client_for(f"caseworker@{ORG}")
    download = inspector.get(f"/screening/forms/{INSTRUMENT}.xlsx")
    assert download.status_code == 200
    book = load_workbook(io.BytesIO(download.content), read_only=True)
    assert {"survey", "choices", "settings"} <= set(book.sheetnames)
    names = [row[1] for row in book["survey"].iter_rows(min_row=2, values_only=True) if row[1]]
    assert sum(1 for name in names if "__" in str(name)) == 67
    assert inspector.get("/screening/forms/no-such.xlsx").status_code == 404
