"""Scope, de-identification and referral rules, directly on the domain API."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from tests.web.hub_fixtures import VICTIM_ROLES, Hub, hub_fixture, walk_json  # noqa: F401
from tiphub.cases import audit, sharing
from tiphub.cases.access import ConflictError, NotFoundError, PermissionDeniedError
from tiphub.cases.api import FREE_TEXT, CaseStore
from tiphub.cases.canonical import IDENTITY_FIELDS
from tiphub.cases.persistence import iter_case_documents
from tiphub.store import models as m
from tiphub.store.models import table_of


def _victim_id(hub: Hub, case_id: uuid.UUID) -> str:
    document = CaseStore(hub.engine).read(case_id, audited=False).document
    return str(
        next(p for p in document["participants"] if p["role"] in VICTIM_ROLES)["person"][
            "external_id"
        ]
    )


def _consent(hub: Hub, case_id: uuid.UUID, given: bool) -> None:
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    store = CaseStore(hub.engine, hub.principal("caseworker@demo-ngo"))
    store.append(
        case_id,
        "consents",
        {
            "person_external_id": _victim_id(hub, case_id),
            "purpose": "Referral",
            "given": given,
            "recorded_on": yesterday,
        },
    )


def _without_consent(hub: Hub, case_id: uuid.UUID) -> None:
    """Drop every referral/disclosure consent of the case (as its own caseworker)."""
    store = CaseStore(hub.engine, hub.principal("caseworker@demo-ngo"))
    store.update_case(
        case_id,
        lambda current: {
            "consents": [
                c
                for c in current.get("consents", [])
                if c["purpose"] not in sharing.CONSENT_PURPOSES
            ]
        },
    )


def _withdraw_every_consent(hub: Hub, case_id: uuid.UUID) -> None:
    """Each victim now refuses referral and disclosure (appended: the latest consent wins)."""
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    store = CaseStore(hub.engine, hub.principal("caseworker@demo-ngo"))

    def refusals(current: dict[str, Any]) -> dict[str, Any]:
        victims = [
            p["person"]["external_id"] for p in current["participants"] if p["role"] in VICTIM_ROLES
        ]
        added = [
            {"person_external_id": v, "purpose": purpose, "given": False, "recorded_on": yesterday}
            for v in victims
            for purpose in sharing.CONSENT_PURPOSES
        ]
        return {"consents": [*current.get("consents", []), *added]}

    store.update_case(case_id, refusals)


def test_a_caseworker_never_reaches_another_organisations_case(hub: Hub) -> None:
    store = CaseStore(hub.engine, hub.principal("caseworker@demo-ngo"))
    police_case = hub.case_out_of_scope("demo-ngo")
    with pytest.raises(NotFoundError):
        store.read(police_case)
    with pytest.raises(NotFoundError):
        store.update_case(police_case, {"status": "Closed"})
    with pytest.raises(NotFoundError):
        store.history_of(police_case)
    listed = {item.id for item in store.page(limit=200).items}
    assert police_case not in listed
    assert all(
        item.organisation == "demo-ngo" or item.shared_with_us
        for item in store.page(limit=200).items
    )
    with hub.engine.connect() as connection:
        external_id = connection.execute(
            select(table_of(m.Case).c.external_id).where(table_of(m.Case).c.id == police_case)
        ).scalar_one()
    assert store.page(search=external_id).items == []


def test_a_caseworker_of_another_team_does_not_see_the_teams_cases(hub: Hub) -> None:
    user = table_of(m.UserAccount)
    with hub.engine.begin() as connection:
        connection.execute(
            user.update().where(user.c.username == "caseworker@demo-ngo").values(team="east")
        )
    store = CaseStore(hub.engine, hub.principal("caseworker@demo-ngo"))
    own_case = hub.case_in_scope("demo-ngo")
    assert [item for item in store.page(limit=200).items if not item.shared_with_us] == []
    with pytest.raises(NotFoundError):
        store.read(own_case)


def test_an_analyst_reads_no_identity_and_no_free_text_at_any_depth(hub: Hub) -> None:
    store = CaseStore(hub.engine, hub.principal("analyst@demo-police"))
    free_text = {name for names in FREE_TEXT.values() for name in names}
    forbidden = set(IDENTITY_FIELDS) | free_text | {"reason_for_closure"}
    for summary in store.page(limit=200).items:
        view = store.read(summary.id)
        assert not view.identity_visible
        found = [path for path, key, _ in walk_json(view.document) if key in forbidden]
        assert found == [], found


def test_a_referral_needs_the_persons_consent(hub: Hub) -> None:
    supervisor = hub.principal("supervisor@demo-ngo")
    case_id = hub.case_in_scope("demo-ngo")
    _without_consent(hub, case_id)
    with pytest.raises(sharing.SharingError):
        sharing.refer(hub.engine, supervisor, case_id, "demo-labour", ["victim"])
    _consent(hub, case_id, True)
    share = sharing.refer(hub.engine, supervisor, case_id, "demo-labour", ["victim"])
    assert share.state == "pending" and not share.flagged


def test_the_receiver_sees_only_the_shared_sections(hub: Hub) -> None:
    case_id = hub.case_in_scope("demo-ngo")
    CaseStore(hub.engine, hub.principal("caseworker@demo-ngo")).append(
        case_id, "notes", {"text": "private note of the referring organisation"}
    )
    sharing.refer(
        hub.engine, hub.principal("supervisor@demo-ngo"), case_id, "demo-labour", ["victim"]
    )
    view = CaseStore(hub.engine, hub.principal("caseworker@demo-labour")).read(case_id)
    assert view.shared_sections == ("victim",) and not view.editable
    assert not view.identity_visible
    assert "notes" not in view.document and "events" not in view.document
    assert not [key for _, key, _ in walk_json(view.document) if key in IDENTITY_FIELDS]
    assert any("victim" in p for p in view.document["participants"])
    with pytest.raises(PermissionDeniedError):
        CaseStore(hub.engine, hub.principal("caseworker@demo-labour")).update_case(
            case_id, {"status": "Closed"}
        )


def test_referral_decisions_follow_their_state_machine(hub: Hub) -> None:
    case_id = hub.case_in_scope("demo-ngo")
    share = sharing.refer(
        hub.engine, hub.principal("supervisor@demo-ngo"), case_id, "demo-labour", ["victim"]
    )
    receiver = hub.principal("caseworker@demo-labour")
    with pytest.raises(ConflictError):
        sharing.decide(hub.engine, receiver, share.id, "complete")
    with pytest.raises(NotFoundError):  # the referring side cannot decide
        sharing.decide(hub.engine, hub.principal("caseworker@demo-ngo"), share.id, "accept")
    assert sharing.decide(hub.engine, receiver, share.id, "accept").state == "accepted"
    with pytest.raises(ConflictError):
        sharing.decide(hub.engine, receiver, share.id, "decline")
    assert sharing.decide(hub.engine, receiver, share.id, "complete").state == "completed"
    with pytest.raises(ConflictError):
        sharing.decide(hub.engine, receiver, share.id, "accept")
    # The hub's own referral of this case to demo-police ends first, so that only the
    # declined one below is left.
    sharing.withdraw(hub.engine, hub.principal("supervisor@demo-ngo"), hub.referrals["demo-ngo"])
    other = sharing.refer(
        hub.engine, hub.principal("supervisor@demo-ngo"), case_id, "demo-police", ["victim"]
    )
    police = hub.principal("caseworker@demo-police")
    assert sharing.decide(hub.engine, police, other.id, "decline").state == "declined"
    with pytest.raises(NotFoundError):
        CaseStore(hub.engine, police).read(case_id)


def test_a_withdrawn_referral_is_gone_for_the_receiver(hub: Hub) -> None:
    case_id = hub.case_in_scope("demo-ngo")
    share = sharing.refer(
        hub.engine, hub.principal("supervisor@demo-ngo"), case_id, "demo-labour", ["victim"]
    )
    receiver = CaseStore(hub.engine, hub.principal("caseworker@demo-labour"))
    receiver.read(case_id)
    with pytest.raises(NotFoundError):  # only the referring organisation withdraws
        sharing.withdraw(hub.engine, hub.principal("caseworker@demo-labour"), share.id)
    sharing.withdraw(hub.engine, hub.principal("caseworker@demo-ngo"), share.id)
    with pytest.raises(NotFoundError):
        receiver.read(case_id)
    with pytest.raises(ConflictError):
        sharing.withdraw(hub.engine, hub.principal("caseworker@demo-ngo"), share.id)


def test_withdrawing_consent_ends_consent_based_shares(hub: Hub) -> None:
    case_id = hub.case_in_scope("demo-ngo")
    supervisor = hub.principal("supervisor@demo-ngo")
    share = sharing.refer(hub.engine, supervisor, case_id, "demo-labour", ["victim"])
    _withdraw_every_consent(hub, case_id)
    assert sharing.get_share(hub.engine, supervisor, share.id).state == "withdrawn"
    with pytest.raises(NotFoundError):
        CaseStore(hub.engine, hub.principal("caseworker@demo-labour")).read(case_id)
    actions = [entry["action"] for entry in audit.iter_entries(hub.engine)]
    assert "referral.consent_withdrawn" in actions


def test_a_legal_override_needs_the_permission_and_a_reason_and_is_flagged(hub: Hub) -> None:
    case_id = hub.case_in_scope("demo-ngo")
    _without_consent(hub, case_id)
    reason = "court order 2024/117 of the district court"
    with pytest.raises(PermissionDeniedError):
        sharing.refer(
            hub.engine,
            hub.principal("caseworker@demo-ngo"),
            case_id,
            "demo-police",
            ["victim"],
            basis="court_order",
            override_reason=reason,
        )
    supervisor = hub.principal("supervisor@demo-ngo")
    with pytest.raises(sharing.SharingError):
        sharing.refer(hub.engine, supervisor, case_id, "demo-police", ["victim"], "court_order")
    share = sharing.refer(
        hub.engine, supervisor, case_id, "demo-police", ["victim"], "court_order", reason
    )
    assert share.flagged
    entries = [e for e in audit.iter_entries(hub.engine) if e["resource_id"] == str(share.id)]
    assert [(e["action"], e["flagged"]) for e in entries] == [("referral.override", True)]
    assert reason not in json.dumps(entries, default=str)


def test_every_read_is_audited_and_no_entry_holds_personal_data(hub: Hub) -> None:
    case_id = hub.case_in_scope("demo-police")
    CaseStore(hub.engine, hub.principal("caseworker@demo-police")).read(case_id)
    CaseStore(hub.engine, hub.principal("analyst@demo-police")).read(case_id)
    reads = [
        e
        for e in audit.iter_entries(hub.engine)
        if e["action"] == "case.read" and e["resource_id"] == str(case_id)
    ]
    assert {e["actor"] for e in reads} == {"caseworker@demo-police", "analyst@demo-police"}
    personal: set[str] = set()
    with hub.engine.connect() as connection:
        for document in iter_case_documents(connection):
            for participant in document["participants"]:
                person = participant["person"]
                for key in ("first_name", "family_name", "birth_date"):
                    if person.get(key):
                        personal.add(str(person[key]))
    assert personal, "the demo data has no names to look for"
    for entry in audit.iter_entries(hub.engine):
        text = json.dumps(entry["details"], default=str) + str(entry["resource_id"])
        leaked = [value for value in personal if len(value) > 3 and value in text]
        assert leaked == [], f"audit entry {entry['sequence']} holds personal data"
