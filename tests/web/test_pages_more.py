"""Import, linkage review, statistics, audit and administration pages; retention rules."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text, update

from tests.web.hub_fixtures import Hub, build_hub
from tiphub.cases import retention
from tiphub.cases.access import NotFoundError, PermissionDeniedError, local_operator
from tiphub.cases.api import CaseStore
from tiphub.cases.persistence import iter_case_documents
from tiphub.linkage import review
from tiphub.store import models as m
from tiphub.store.models import table_of

NGO, POLICE = "demo-ngo", "demo-police"
# Counted as victims by the statistics (HTCDS roles of a confirmed or presumed victim).
COUNTED_VICTIM_ROLES = {"Victim", "PresumedVictim"}


@pytest.fixture
def hub(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    built = build_hub(engine, monkeypatch)
    yield built
    built.close()


def case_count(engine: Engine, slug: str) -> int:
    case, org = table_of(m.Case), table_of(m.Organisation)
    with engine.connect() as connection:
        return int(
            connection.execute(
                select(func.count())
                .select_from(case)
                .join(org, org.c.id == case.c.organisation_id)
                .where(org.c.slug == slug)
            ).scalar_one()
        )


def audit_actions(engine: Engine, action: str) -> list[dict[str, Any]]:
    table = table_of(m.AuditEvent)
    with engine.connect() as connection:
        rows = connection.execute(select(table).where(table.c.action == action))
        return [dict(row._mapping) for row in rows]


def jsonl_of(engine: Engine, slug: str, count: int, organisation: str | None = None) -> bytes:
    """``count`` new cases built from stored ones of ``slug`` (same people), under fresh IDs."""
    with engine.connect() as connection:
        documents = list(iter_case_documents(connection, organisation=slug))[:count]
    lines = []
    for document in documents:
        document = json.loads(json.dumps(document, default=str))
        suffix = uuid.uuid4().hex[:8]
        document["external_id"] = f"imported-{suffix}"
        document.pop("id", None)
        if organisation is not None:
            document["organisation"] = organisation
        lines.append(json.dumps(document))
    return ("\n".join(lines) + "\n").encode()


# -- import -------------------------------------------------------------------------------


def test_import_page_imports_for_the_uploaders_organisation_only(hub: Hub) -> None:
    client = hub.session_client_for(f"supervisor@{NGO}")
    assert client.get("/imports").status_code == 200
    before = {slug: case_count(hub.engine, slug) for slug in (NGO, POLICE)}
    data = jsonl_of(hub.engine, NGO, 2)
    answer = client.post("/imports", files={"file": ("cases.jsonl", data, "application/x-ndjson")})
    assert answer.status_code == 200, answer.text
    assert re.search(r'class="count-created">2<', answer.text)
    assert case_count(hub.engine, NGO) == before[NGO] + 2
    assert case_count(hub.engine, POLICE) == before[POLICE]
    entry = audit_actions(hub.engine, "import.run")[-1]
    assert entry["actor"] == f"supervisor@{NGO}"
    assert entry["details"]["created"] == 2


def test_an_import_naming_another_organisation_is_refused(hub: Hub) -> None:
    client = hub.session_client_for(f"supervisor@{NGO}")
    before = {slug: case_count(hub.engine, slug) for slug in (NGO, POLICE)}
    data = jsonl_of(hub.engine, NGO, 2, organisation=POLICE)
    answer = client.post("/imports", files={"file": ("cases.jsonl", data, "text/plain")})
    assert answer.status_code == 422
    assert "differs from the organisation" in answer.text
    assert {slug: case_count(hub.engine, slug) for slug in (NGO, POLICE)} == before


def test_a_bad_file_shows_its_issues_and_writes_nothing(hub: Hub) -> None:
    client = hub.session_client_for(f"supervisor@{NGO}")
    before = case_count(hub.engine, NGO)
    secret = "Jane Survivor"
    bad = f"tip_CaseId,prs_Gender,vic_TraffickingStatus\nc1,{secret},NotACode\n".encode()
    answer = client.post(
        "/imports", data={"format": "htcds-csv"}, files={"file": ("bad.csv", bad, "text/csv")}
    )
    assert answer.status_code == 422
    assert "Nothing was imported" in answer.text
    assert '<th scope="col">Row</th>' in answer.text and "prs_Gender" in answer.text
    assert secret not in answer.text
    assert case_count(hub.engine, NGO) == before
    assert audit_actions(hub.engine, "import.run")[-1]["outcome"] == "refused"


# -- linkage review -----------------------------------------------------------------------


def candidate(left: str, right: str, probability: float = 0.5) -> review.ReviewCandidate:
    return review.ReviewCandidate(
        left_key=left,
        right_key=right,
        left_list=left.split(":")[0],
        right_list=right.split(":")[0],
        match_probability=probability,
        match_weight=0.0,
        explanation=[{"field": "first_name", "level": "exact", "weight": 6.5}],
        left_values={"first_name": "Amina"},
        right_values={"first_name": "Aminah"},
    )


def test_review_lists_own_organisation_pairs_and_records_a_decision(hub: Hub) -> None:
    run = review.start_run(hub.engine, inputs="stored records", settings={})
    review.enqueue(
        hub.engine,
        run,
        [
            candidate(f"{NGO}:p1", f"{NGO}:p2", 0.5),
            candidate(f"{NGO}:p3", f"{NGO}:p4", 0.9),
            candidate(f"{NGO}:p5", f"{POLICE}:p6"),
            candidate(f"{POLICE}:p7", f"{POLICE}:p8"),
        ],
    )
    items = {
        (item.left_key, item.right_key): item.id for item in review.pending(hub.engine, limit=None)
    }
    own = items[(f"{NGO}:p1", f"{NGO}:p2")]
    second = items[(f"{NGO}:p3", f"{NGO}:p4")]
    mixed = items[(f"{NGO}:p5", f"{POLICE}:p6")]
    foreign = items[(f"{POLICE}:p7", f"{POLICE}:p8")]
    client = hub.session_client_for(f"caseworker@{NGO}")
    queue = client.get("/review")
    assert queue.status_code == 200
    assert f'href="/review/{own}"' in queue.text and f'href="/review/{second}"' in queue.text
    assert f'href="/review/{mixed}"' not in queue.text
    assert f'href="/review/{foreign}"' not in queue.text
    for hidden in (mixed, foreign):
        assert client.get(f"/review/{hidden}").status_code == 404
        assert client.post(f"/review/{hidden}", data={"decision": "match"}).status_code == 404
    page = client.get(f"/review/{own}")
    assert page.status_code == 200
    assert (
        'class="data-table compare"' in page.text and '<th scope="row">first_name</th>' in page.text
    )
    answer = client.post(f"/review/{own}", data={"decision": "non_match"}, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/review/{second}"
    decided = review.get(hub.engine, own)
    assert decided.status == "non_match" and decided.decided_by == f"caseworker@{NGO}"
    entry = audit_actions(hub.engine, "linkage.review")[-1]
    assert entry["details"] == {"item": own, "decision": "non_match"}
    assert review.get(hub.engine, foreign).status == "pending"


# -- statistics -----------------------------------------------------------------------------


def test_statistics_count_the_organisations_own_victims(hub: Hub) -> None:
    with hub.engine.connect() as connection:
        expected = sum(
            1
            for document in iter_case_documents(connection, organisation=NGO)
            for participant in document["participants"]
            if participant["role"] in COUNTED_VICTIM_ROLES
        )
        everyone = sum(
            1
            for document in iter_case_documents(connection)
            for participant in document["participants"]
            if participant["role"] in COUNTED_VICTIM_ROLES
        )
    assert expected and everyone > expected
    client = hub.session_client_for(f"analyst@{NGO}")
    page = client.get("/statistics")
    assert page.status_code == 200
    assert f'id="total-victims">{expected}<' in page.text
    assert '<svg class="bar"' in page.text
    assert hub.session_client_for(f"caseworker@{NGO}").get("/statistics").status_code == 403


def test_statistics_estimate_shows_the_population_and_its_report(hub: Hub) -> None:
    capture = Path(__file__).resolve().parents[1] / "estimate/data/mse/Artificial_3.csv"
    client = hub.session_client_for(f"analyst@{NGO}")
    answer = client.post(
        "/statistics/estimate", files={"file": ("c.csv", capture.read_bytes(), "text/csv")}
    )
    assert answer.status_code == 200, answer.text
    assert 'id="population-estimate"' in answer.text
    found = re.search(r'href="(/statistics/reports/[^"]+)"', answer.text)
    assert found
    assert client.get(found.group(1)).status_code == 200
    other = hub.session_client_for(f"analyst@{POLICE}")
    assert other.get(found.group(1)).status_code == 404


# -- audit ------------------------------------------------------------------------------------


@pytest.fixture
def restore_audit_triggers(engine: Engine) -> Iterator[None]:
    yield
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event")
            )
            connection.execute(
                text(
                    "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event "
                    "FOR EACH ROW EXECUTE FUNCTION tiphub_audit_append_only()"
                )
            )


def test_audit_page_filters_and_verifies_the_chain(hub: Hub, restore_audit_triggers: None) -> None:
    hub.session_client_for(f"caseworker@{NGO}").get("/review")
    client = hub.session_client_for(f"auditor@{NGO}")
    page = client.get("/audit", params={"actor": f"caseworker@{NGO}"})
    assert page.status_code == 200
    actors = set(re.findall(r'class="audit-actor">([^<]+)<', page.text))
    assert actors == {f"caseworker@{NGO}"}
    verified = client.post("/audit/verify")
    assert 'id="verification"' in verified.text and "is intact" in verified.text
    table = table_of(m.AuditEvent)
    with hub.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("DROP TRIGGER audit_event_append_only ON audit_event"))
        else:
            connection.execute(text("DROP TRIGGER audit_event_no_update"))
        connection.execute(update(table).where(table.c.sequence == 3).values(action="tampered"))
    broken = client.post("/audit/verify")
    assert "is broken at entry 3." in broken.text


# -- administration ---------------------------------------------------------------------------


def test_admin_adds_and_disables_users(hub: Hub) -> None:
    admin = hub.session_client_for(f"admin@{NGO}")
    page = admin.get("/admin/users")
    assert page.status_code == 200 and f"caseworker@{NGO}" in page.text
    assert f"caseworker@{POLICE}" not in page.text
    weak = admin.post(
        "/admin/users",
        data={"username": "newbie@demo-ngo", "roles": ["caseworker"], "password": "password1234"},
    )
    assert weak.status_code == 422
    assert "this password is on the list of common or breached passwords" in weak.text
    added = admin.post(
        "/admin/users",
        data={
            "username": "newbie@demo-ngo",
            "roles": ["caseworker"],
            "team": "north",
            "password": "a long unusual passphrase 93",
        },
        follow_redirects=False,
    )
    assert added.status_code == 303
    assert "newbie@demo-ngo" in admin.get("/admin/users").text
    victim = hub.session_client_for(f"caseworker@{NGO}")
    assert victim.get("/cases").status_code == 200
    disabled = admin.post(f"/admin/users/caseworker@{NGO}/disable", follow_redirects=False)
    assert disabled.status_code == 303
    after = victim.get("/cases", follow_redirects=False)
    assert after.status_code == 303 and after.headers["location"].startswith("/signin")
    assert admin.post(f"/admin/users/caseworker@{POLICE}/disable").status_code in (403, 404)


def test_admin_sets_the_retention_rules(hub: Hub) -> None:
    admin = hub.session_client_for(f"admin@{NGO}")
    answer = admin.post(
        "/admin/retention",
        data={"archive_closed_after_days": "30", "delete_archived_after_years": "2"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    rule = retention.get_retention(hub.engine, hub.principal(f"admin@{NGO}"))
    assert (rule.archive_closed_after_days, rule.delete_archived_after_years) == (30, 2)
    assert audit_actions(hub.engine, "retention.set")


# -- retention ----------------------------------------------------------------------------------

CASE_TABLES = (
    m.Case,
    m.CaseParticipant,
    m.VictimContext,
    m.TraffickingEvent,
    m.Consent,
    m.Referral,
    m.SupportPlan,
    m.Note,
    m.IdentificationDecision,
    m.CriminalProceeding,
    m.CaseShare,
)


def rows_of_case(engine: Engine, case_id: uuid.UUID, person_ids: list[uuid.UUID]) -> int:
    total = 0
    with engine.connect() as connection:
        for model in CASE_TABLES:
            table = table_of(model)
            column = table.c.id if model is m.Case else table.c.get("case_id")
            if column is None:
                participant = table_of(m.CaseParticipant)
                column = table.c.participant_id
                ids = select(participant.c.id).where(participant.c.case_id == case_id)
                total += connection.execute(
                    select(func.count()).select_from(table).where(column.in_(ids))
                ).scalar_one()
                continue
            total += connection.execute(
                select(func.count()).select_from(table).where(column == case_id)
            ).scalar_one()
        for model in (m.Person, m.PersonIdentity, m.PersonIdentifier):
            table = table_of(model)
            column = table.c.id if model is m.Person else table.c.person_id
            total += connection.execute(
                select(func.count()).select_from(table).where(column.in_(person_ids))
            ).scalar_one()
        versions = table_of(m.RecordVersion)
        total += connection.execute(
            select(func.count())
            .select_from(versions)
            .where(versions.c.entity_id.in_([case_id, *person_ids]))
        ).scalar_one()
    return int(total)


def test_a_closed_case_is_archived_then_deleted_with_an_erasure_record(hub: Hub) -> None:
    engine = hub.engine
    admin = hub.principal(f"admin@{NGO}")
    retention.set_retention(engine, admin, 30, 1)
    case = table_of(m.Case)
    org = table_of(m.Organisation)
    participant = table_of(m.CaseParticipant)
    with engine.begin() as connection:
        ngo_id = connection.execute(select(org.c.id).where(org.c.slug == NGO)).scalar_one()
        case_id = (
            connection.execute(
                select(case.c.id)
                .where(case.c.organisation_id == ngo_id)
                .order_by(case.c.external_id)
            )
            .scalars()
            .first()
        )
        assert case_id is not None
        long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=400)
        connection.execute(
            update(case).where(case.c.id == case_id).values(status="Closed", updated_at=long_ago)
        )
        # Every other case stays open, so only this one is due.
        connection.execute(update(case).where(case.c.id != case_id).values(status="Active"))
        people = list(
            connection.execute(
                select(participant.c.person_id).where(participant.c.case_id == case_id)
            ).scalars()
        )
    assert rows_of_case(engine, case_id, people) > 0
    now = dt.datetime.now(dt.UTC)
    assert retention.apply_retention(engine, admin, now) == {"archived": 1, "deleted": 0}
    with engine.connect() as connection:
        assert connection.execute(select(case.c.archived_at).where(case.c.id == case_id)).scalar()
    later = now + dt.timedelta(days=370)
    assert retention.apply_retention(engine, admin, later) == {"archived": 0, "deleted": 1}
    assert rows_of_case(engine, case_id, people) == 0
    erasures = table_of(m.ErasureRecord)
    with engine.connect() as connection:
        record = connection.execute(select(erasures)).one()
    assert record.case_reference == str(case_id)
    assert record.kind == "retention" and record.legal_basis == "retention rule"
    assert record.organisation == NGO and record.removed["case"] == 1
    assert audit_actions(engine, "case.retention_delete")
    store = CaseStore(engine, local_operator("operator:test"))
    assert all(item.id != case_id for item in store.page(limit=200).items)


def test_erase_case_needs_the_permission_and_the_organisation(hub: Hub) -> None:
    engine = hub.engine
    target = hub.cases[NGO]
    with pytest.raises(PermissionDeniedError):
        retention.erase_case(engine, hub.principal(f"caseworker@{NGO}"), target, "request")
    with pytest.raises(NotFoundError):
        retention.erase_case(engine, hub.principal(f"supervisor@{POLICE}"), target, "request")
    removed = retention.erase_case(
        engine, hub.principal(f"supervisor@{NGO}"), target, "GDPR Art. 17 request"
    )
    assert removed["case"] == 1 and removed.get("shares", 0) >= 1
    assert audit_actions(engine, "case.erase")
    assert case_count(engine, NGO) >= 1
