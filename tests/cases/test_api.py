from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, func, select

from tests.factories import case, victim
from tiphub.cases.api import CaseExistsError, CaseStore
from tiphub.store import models as m


def test_create_get_and_update_keep_every_version(engine: Engine) -> None:
    store = CaseStore(engine, actor="worker-1")
    store.create(case())
    assert store.get("ngo-east", "case-1") is not None
    with pytest.raises(CaseExistsError):
        store.create(case())
    CaseStore(engine, actor="worker-2").update("ngo-east", "case-1", {"status": "Closed"})
    updated = store.get("ngo-east", "case-1")
    assert updated is not None and updated.status == "Closed"
    history = store.history("ngo-east", "case-1")
    assert [v.version for v in history] == [1, 2]
    assert [v.changed_by for v in history] == ["worker-1", "worker-2"]
    assert history[1].changed_fields == ["status"]
    assert history[0].data["status"] == "Active" and history[1].data["status"] == "Closed"
    # Audit rows of cases hold no identity: names live only in the person's own history.
    assert "first_name" not in history[0].data["participants"][0]["person"]


def test_saving_the_same_content_twice_writes_nothing(engine: Engine) -> None:
    store = CaseStore(engine)
    store.save(case())
    counts = store.save(case())
    assert counts.cases_unchanged == 1 and counts.cases_created == 0
    assert len(store.history("ngo-east", "case-1")) == 1


def test_invalid_updates_are_refused_and_leave_the_case_as_it_was(engine: Engine) -> None:
    store = CaseStore(engine)
    store.create(case())
    with pytest.raises(ValidationError):
        store.update("ngo-east", "case-1", {"status": "Vanished"})
    kept = store.get("ngo-east", "case-1")
    assert kept is not None and kept.status == "Active"


def test_trafficking_status_is_a_list_of_dated_assertions(engine: Engine) -> None:
    store = CaseStore(engine)
    document = case()
    document["participants"][0]["victim"]["trafficking_status"].append(
        {
            "status": "ActualVictimOfTrafficking",
            "decided_by_type": "Police",
            "asserted_by": "police-north",
            "asserted_on": "2024-05-10",
        }
    )
    store.create(document)
    stored = store.get("ngo-east", "case-1")
    assert stored is not None
    statuses = stored.participants[0].victim.trafficking_status  # type: ignore[union-attr]
    assert [(s.status, s.asserted_by) for s in statuses] == [
        ("PossibleVictimOfTrafficking", "ngo-east"),
        ("ActualVictimOfTrafficking", "police-north"),
    ]


def test_one_person_in_several_cases_at_several_organisations(engine: Engine) -> None:
    store = CaseStore(engine)
    store.create(case("case-1"))
    store.create(case("case-2", participants=[victim()], events=[], consents=[]))
    store.create(case("case-9", organisation="police-north"))
    with engine.connect() as connection:
        people = connection.execute(
            select(func.count()).select_from(m.Person.__table__)
        ).scalar_one()
        participations = connection.execute(
            select(func.count()).select_from(m.CaseParticipant.__table__)
        ).scalar_one()
    assert people == 2  # p1 at ngo-east (two cases) and p1 at police-north
    assert participations == 3


def test_query_filters_by_exploitation_and_country(engine: Engine) -> None:
    store = CaseStore(engine)
    store.create(case("case-1"))
    labour = case("case-2")
    labour["participants"][0]["victim"]["exploitation_types"] = ["ForcedLabour"]
    labour["events"][1]["country"] = "GB"
    store.create(labour)
    assert [c.external_id for c in store.query(exploitation_type="ForcedLabour")] == ["case-2"]
    assert [c.external_id for c in store.query(exploitation_country="DE")] == ["case-1"]


def test_every_part_of_a_case_survives_the_store(engine: Engine) -> None:
    document = case(
        reason_for_closure=None,
        case_owner="worker-7",
        participants=[
            victim(
                identifiers=[{"kind": "Passport", "value": "X0000001", "issuing_country": "RO"}]
            ),
            {
                "role": "Perpetrator",
                "person": {"external_id": "t1", "gender": "Masculine"},
                "perpetrator": {
                    "kind": "Individual",
                    "roles": ["RecruiterOrIntermediary"],
                    "sex": "Male",
                    "age_band": "30--38",
                    "nationality": ["RO"],
                },
            },
        ],
        referrals=[
            {
                "direction": "Outgoing",
                "from_organisation": "ngo-east",
                "to_organisation": "shelter-west",
                "referred_on": "2024-03-02",
                "services": ["Accommodation", "Medical"],
                "status": "Accepted",
            },
            {"direction": "Outgoing", "to_organisation": "legal-aid", "services": ["Legal"]},
        ],
        support_plans=[
            {
                "person_external_id": "p1",
                "type": "Health",
                "services": [
                    {"service": "Medical", "provider": "clinic-3", "started_on": "2024-03-03"}
                ],
            }
        ],
        notes=[
            {
                "text": "First interview done with an interpreter.",
                "author": "worker-7",
                "written_on": "2024-03-01",
            }
        ],
        identification_decisions=[
            {
                "person_external_id": "p1",
                "decision_type": "ReasonableGrounds",
                "outcome": "Positive",
                "decided_by": "competent-authority",
                "decided_on": "2024-03-20",
                "jurisdiction": "GB",
            }
        ],
        criminal_proceedings=[
            {
                "perpetrator_external_id": "t1",
                "jurisdiction": "DE",
                "stage": "Prosecution",
                "charges": ["trafficking in human beings"],
                "opened_on": "2024-04-01",
                "outcome": "Pending",
            }
        ],
    )
    store = CaseStore(engine)
    created = store.create(document)
    assert store.get("ngo-east", "case-1") == created
