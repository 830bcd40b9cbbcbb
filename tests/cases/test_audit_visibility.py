"""An organisation's auditor sees what other organisations did with its records."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from tiphub.cases import accounts, audit, sharing
from tiphub.cases.access import Principal
from tiphub.cases.api import CaseStore
from tiphub.demo.hub import ensure_demo_hub
from tiphub.demo.loader import load_demo

PASSWORD = "correct horse battery staple 42"


def test_the_referring_auditor_sees_the_receivers_reads_and_decision(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIPHUB_DEMO_PASSWORD", PASSWORD)
    load_demo(engine, 30, seed=11)
    ensure_demo_hub(engine)

    def user(name: str) -> Principal:
        return accounts.authenticate(engine, name, PASSWORD, None, "test")

    supervisor = user("supervisor@demo-ngo")
    case_id = CaseStore(engine, supervisor).page(limit=1).items[0].id
    share = sharing.refer(
        engine,
        supervisor,
        case_id,
        "demo-police",
        ["victim"],
        basis="child_protection",
        override_reason="Child protection referral ordered by the duty social worker",
    )
    police = user("caseworker@demo-police")
    sharing.decide(engine, police, share.id, "accept")
    CaseStore(engine, police).read(case_id)

    ngo_view = audit.browse(engine, user("auditor@demo-ngo"), limit=200)
    seen = {(entry["actor"], entry["action"]) for entry in ngo_view}
    assert ("caseworker@demo-police", "referral.accept") in seen
    assert ("caseworker@demo-police", "case.read") in seen
    police_view = audit.browse(engine, user("auditor@demo-police"), limit=200)
    police_seen = {(entry["actor"], entry["action"]) for entry in police_view}
    # The override was made towards the police: their auditor sees it, flagged.
    assert ("supervisor@demo-ngo", "referral.override") in police_seen
    assert any(e["flagged"] for e in police_view if e["action"] == "referral.override")
    labour_view = audit.browse(engine, user("auditor@demo-labour"), limit=200)
    assert not any(
        entry["actor"].endswith(("@demo-ngo", "@demo-police")) for entry in labour_view
    )
    assert audit.verify(engine).intact
