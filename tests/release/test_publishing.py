"""Releases in the hub: the privacy-budget ledger and draft → approved → published
(SQLite, or PostgreSQL with TIPHUB_TEST_DATABASE_URL)."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import Engine, select

from tests.factories import role_principal
from tiphub.cases.access import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    Principal,
    local_operator,
)
from tiphub.demo.loader import load_demo
from tiphub.release.api import ReleaseRequest
from tiphub.release.bundle import Bundle
from tiphub.release.publishing import (
    BudgetExhaustedError,
    approve_release,
    budget_of,
    build_hub_release,
    get_release,
    hub_dataset,
    hub_table,
    list_releases,
    publish_release,
    published_file,
    published_releases,
    record_release,
    release_bundle,
    set_budget,
)
from tiphub.store import models as m
from tiphub.store.models import table_of

ORGANISATION = "gb-police"


def principal(engine: Engine, username: str, organisation: str, role: str) -> Principal:
    return role_principal(engine, username, organisation, role)


@pytest.fixture
def hub(engine: Engine) -> dict[str, Principal]:
    load_demo(engine, 400, 17)
    return {
        "analyst": principal(engine, "analyst@gb-police", ORGANISATION, "analyst"),
        "supervisor": principal(engine, "supervisor@gb-police", ORGANISATION, "supervisor"),
        "caseworker": principal(engine, "worker@gb-police", ORGANISATION, "caseworker"),
        "other": principal(engine, "supervisor@ro-speranta", "ro-speranta", "supervisor"),
    }


def audit_actions(engine: Engine) -> list[str]:
    table = table_of(m.AuditEvent)
    with engine.connect() as connection:
        return list(connection.execute(select(table.c.action).order_by(table.c.sequence)).scalars())


def test_draft_approved_published_and_then_never_changed(
    engine: Engine, hub: dict[str, Principal]
) -> None:
    analyst, supervisor = hub["analyst"], hub["supervisor"]
    built = build_hub_release(engine, analyst, ReleaseRequest("aggregates", title="Police 2025"))
    assert built.status == "draft" and built.created_by == analyst.username
    assert built.dataset == hub_dataset(analyst) == "hub:gb-police:ctdc"
    with pytest.raises(PermissionDeniedError):
        approve_release(engine, analyst, built.id)  # an analyst cannot approve
    with pytest.raises(NotFoundError):
        get_release(engine, hub["other"], built.id)  # another organisation sees nothing
    with pytest.raises(NotFoundError):
        published_file(engine, built.id, "aggregates.csv")  # not public before publishing
    approved = approve_release(engine, supervisor, built.id)
    assert approved.status == "approved" and approved.approved_by == supervisor.username
    privacy = json.loads(release_bundle(engine, supervisor, built.id).files["privacy.json"])
    assert privacy["approved_by"] == "supervisor, gb-police"  # never the person's name
    assert supervisor.username not in json.dumps(privacy)
    published = publish_release(engine, supervisor, built.id)
    assert published.status == "published" and published.published_at is not None
    assert [info.id for info in published_releases(engine)] == [built.id]
    assert published_file(engine, built.id, "aggregates.csv").startswith(b"combination,count\n")
    for review_file in ("report.html", "metrics.json"):
        with pytest.raises(NotFoundError):
            published_file(engine, built.id, review_file)
    before = release_bundle(engine, supervisor, built.id).sha256()
    for move in (approve_release, publish_release):
        with pytest.raises(ConflictError):
            move(engine, supervisor, built.id)
    assert (
        release_bundle(engine, supervisor, built.id).sha256() == before == published.bundle_sha256
    )
    assert [action for action in audit_actions(engine) if action.startswith("release.")] == [
        "release.build",
        "release.approve",
        "release.publish",
    ]


def test_the_builder_cannot_approve_their_own_release(
    engine: Engine, hub: dict[str, Principal]
) -> None:
    supervisor = hub["supervisor"]
    built = build_hub_release(engine, supervisor, ReleaseRequest("aggregates"))
    with pytest.raises(PermissionDeniedError, match="did not build"):
        approve_release(engine, supervisor, built.id)
    assert get_release(engine, supervisor, built.id).status == "draft"


def test_roles_without_release_permissions_are_refused(
    engine: Engine, hub: dict[str, Principal]
) -> None:
    with pytest.raises(PermissionDeniedError):
        build_hub_release(engine, hub["caseworker"], ReleaseRequest("aggregates"))
    with pytest.raises(PermissionDeniedError):
        list_releases(engine, hub["caseworker"])


def test_a_release_the_budget_cannot_pay_is_refused_before_anything_is_stored(
    engine: Engine, hub: dict[str, Principal]
) -> None:
    analyst = hub["analyst"]
    dataset = hub_dataset(analyst)
    set_budget(engine, local_operator("operator:test"), dataset, 2.0, 1e-5)
    with pytest.raises(BudgetExhaustedError, match="left: ε = 2"):
        build_hub_release(engine, analyst, ReleaseRequest("dp", epsilon=3.0))
    assert list_releases(engine, analyst) == []
    budget = budget_of(engine, dataset)
    assert budget is not None and budget.epsilon_spent == 0 and budget.releases == 0


def test_bundles_round_trip_through_their_zip(engine: Engine, hub: dict[str, Principal]) -> None:
    built = build_hub_release(engine, hub["analyst"], ReleaseRequest("k-anon"))
    bundle = release_bundle(engine, hub["analyst"], built.id)
    assert Bundle.from_zip(bundle.to_zip()).sha256() == bundle.sha256() == built.bundle_sha256
    assert {"synthetic.csv", "aggregates.csv", "codebook.csv", "privacy.json"} <= set(bundle.files)


def race(
    engine: Engine, principals: list[Principal], dataset: str, request: ReleaseRequest
) -> list[object]:
    """Build the same release from several threads at once; each gets its info or its error."""
    table = hub_table(engine, principals[0])
    start = threading.Barrier(len(principals))
    outcomes: list[object] = [None] * len(principals)

    def build(index: int) -> None:
        start.wait()
        try:
            outcomes[index] = record_release(engine, principals[index], dataset, request, table)[0]
        except Exception as error:
            outcomes[index] = error

    threads = [threading.Thread(target=build, args=(i,)) for i in range(len(principals))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_two_releases_racing_for_the_last_of_a_budget_spend_it_once(
    engine: Engine, hub: dict[str, Principal]
) -> None:
    analyst, supervisor = hub["analyst"], hub["supervisor"]
    dataset = hub_dataset(analyst)
    set_budget(engine, local_operator("operator:test"), dataset, 1.5, 1e-5)
    outcomes = race(engine, [analyst, supervisor], dataset, ReleaseRequest("dp", epsilon=1.0))
    refused = [o for o in outcomes if isinstance(o, BudgetExhaustedError)]
    stored = [o for o in outcomes if not isinstance(o, Exception)]
    assert len(stored) == 1 and len(refused) == 1, outcomes
    budget = budget_of(engine, dataset)
    assert budget is not None and budget.epsilon_spent == 1.0 and budget.releases == 1


def test_the_first_releases_of_a_new_dataset_may_race(
    engine: Engine, hub: dict[str, Principal]
) -> None:
    analyst, supervisor = hub["analyst"], hub["supervisor"]
    dataset = "file:race-test"
    outcomes = race(engine, [analyst, supervisor], dataset, ReleaseRequest("dp", epsilon=1.0))
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    budget = budget_of(engine, dataset)
    assert budget is not None and budget.epsilon_spent == 2.0 and budget.releases == 2
