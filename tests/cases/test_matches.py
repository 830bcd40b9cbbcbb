"""Cross-organisation match notices: the other organisation's name, only where it shares."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import Engine, select

from tiphub.cases import accounts, sharing
from tiphub.cases.api import CaseStore
from tiphub.cases.matches import matches_elsewhere, record_match_notices
from tiphub.demo.hub import ensure_demo_hub
from tiphub.demo.loader import load_demo
from tiphub.store import models as m
from tiphub.store.models import table_of

PASSWORD = "correct horse battery staple 42"


def _first_case_with_person(engine: Engine, slug: str) -> tuple[object, str]:
    case = table_of(m.Case)
    org = table_of(m.Organisation)
    participant = table_of(m.CaseParticipant)
    person = table_of(m.Person)
    with engine.connect() as connection:
        row = connection.execute(
            select(case.c.id, person.c.external_id)
            .join(org, org.c.id == case.c.organisation_id)
            .join(participant, participant.c.case_id == case.c.id)
            .join(person, person.c.id == participant.c.person_id)
            .where(org.c.slug == slug)
            .order_by(case.c.external_id)
        ).first()
    assert row is not None
    return row[0], row[1]


def test_a_match_is_told_by_organisation_name_only_where_that_organisation_shares(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIPHUB_DEMO_PASSWORD", PASSWORD)
    load_demo(engine, 40, seed=5)
    ensure_demo_hub(engine)
    ngo_case, ngo_person = _first_case_with_person(engine, "demo-ngo")
    police_case, police_person = _first_case_with_person(engine, "demo-police")
    clusters = pd.DataFrame(
        {
            "record_id": [f"demo-ngo:{ngo_person}", f"demo-police:{police_person}"],
            "cluster_id": [7, 7],
            "list": ["demo-ngo", "demo-police"],
        }
    )
    assert record_match_notices(engine, clusters, None) == 2
    ngo = accounts.authenticate(engine, "caseworker@demo-ngo", PASSWORD, None, "test")
    police_supervisor = accounts.authenticate(
        engine, "supervisor@demo-police", PASSWORD, None, "test"
    )
    # The police do not share anything with the NGO yet: the NGO learns nothing.
    assert matches_elsewhere(engine, ngo, ngo_case) == []  # type: ignore[arg-type]
    assert CaseStore(engine, ngo).read(ngo_case).matches_elsewhere == ()  # type: ignore[arg-type]
    sharing.refer(
        engine,
        police_supervisor,
        police_case,  # type: ignore[arg-type]
        "demo-ngo",
        ["victim"],
        basis="court_order",
        override_reason="Court order 12/2026 for joint support planning",
    )
    assert matches_elsewhere(engine, ngo, ngo_case) == ["demo-police"]  # type: ignore[arg-type]
    view = CaseStore(engine, ngo).read(ngo_case)  # type: ignore[arg-type]
    assert view.matches_elsewhere == ("demo-police",)
    # A new link run without the match replaces the notices.
    record_match_notices(engine, clusters.iloc[:1].assign(cluster_id=[1]), None)
    assert matches_elsewhere(engine, ngo, ngo_case) == []  # type: ignore[arg-type]
