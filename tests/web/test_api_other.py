"""Referrals, imports, sealed exports, audit, users and statistics through the API."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from tests.web import hub_fixtures
from tests.web.hub_fixtures import VICTIM_ROLES, Hub
from tiphub.cases.access import local_operator
from tiphub.cases.api import CaseStore
from tiphub.exchange.exporter import export
from tiphub.exchange.sealed_export import SealedFileError, open_file
from tiphub.files import private_subdir
from tiphub.web.routers import api_exchange

hub_fixture = hub_fixtures.hub_fixture  # the "hub" fixture, used by name below

PROBLEM = "application/problem+json"
PASSPHRASE = "blue whale under a paper moon"


def _unreferred_victim_case(hub: Hub, organisation: str) -> tuple[str, list[str]]:
    store = CaseStore(hub.engine, local_operator("operator:test"))
    for summary in store.page(limit=200).items:
        if summary.organisation != organisation or summary.id in hub.cases.values():
            continue
        document = store.read(summary.id, audited=False).document
        victims = [
            p["person"]["external_id"]
            for p in document["participants"]
            if p["role"] in VICTIM_ROLES
        ]
        if victims:
            return str(summary.id), victims
    raise AssertionError("no victim case")


def test_referral_needs_consent_then_the_receiver_sees_shared_sections_until_withdrawn(
    hub: Hub,
) -> None:
    case_id, victims = _unreferred_victim_case(hub, "demo-ngo")
    sender = hub.client_for("caseworker@demo-ngo")
    receiver = hub.client_for("caseworker@demo-labour")
    for person in victims:  # the latest word of every victim: no
        for purpose in ("Referral", "Disclosure"):
            refusal = sender.post(
                f"/api/v1/cases/{case_id}/consents",
                json={"person_external_id": person, "purpose": purpose, "given": False},
            )
            assert refusal.status_code == 201, refusal.text
    request = {"case_id": case_id, "to_organisation": "demo-labour", "sections": ["victim"]}
    refused = sender.post("/api/v1/referrals", json=request)
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith(PROBLEM)
    assert receiver.get(f"/api/v1/cases/{case_id}").status_code == 404

    consent = sender.post(
        f"/api/v1/cases/{case_id}/consents",
        json={"person_external_id": victims[0], "purpose": "Referral", "given": True},
    )
    assert consent.status_code == 201
    created = sender.post("/api/v1/referrals", json=request)
    assert created.status_code == 201, created.text
    referral = created.json()
    assert referral["state"] == "pending"
    assert referral["from_organisation"] == "demo-ngo"

    inbox = receiver.get("/api/v1/referrals", params={"box": "inbox"}).json()["items"]
    assert referral["id"] in {item["id"] for item in inbox}
    outbox = sender.get("/api/v1/referrals", params={"box": "outbox"}).json()["items"]
    assert referral["id"] in {item["id"] for item in outbox}
    seen = receiver.get(f"/api/v1/cases/{case_id}")
    assert seen.status_code == 200
    assert seen.json()["shared_sections"] == ["victim"]
    assert "events" not in seen.json()["case"]
    assert "consents" not in seen.json()["case"]

    assert sender.post(f"/api/v1/referrals/{referral['id']}/accept").status_code == 404
    accepted = receiver.post(f"/api/v1/referrals/{referral['id']}/accept")
    assert accepted.status_code == 200
    assert accepted.json()["state"] == "accepted"
    assert receiver.post(f"/api/v1/referrals/{referral['id']}/accept").status_code == 409

    withdrawn = sender.post(f"/api/v1/referrals/{referral['id']}/withdraw")
    assert withdrawn.status_code == 200
    assert withdrawn.json()["state"] == "withdrawn"
    assert receiver.get(f"/api/v1/cases/{case_id}").status_code == 404

    override = sender.post(
        "/api/v1/referrals", json={**request, "basis": "court_order", "override_reason": "x"}
    )
    assert override.status_code == 403  # a caseworker holds no referral:override


def _export_file(hub: Hub, tmp_path: Path, organisation: str) -> Path:
    path = tmp_path / f"{organisation}.csv"
    export(path, "htcds-csv", engine=hub.engine, organisation=organisation)
    return path


def test_import_upload_gives_a_report_and_refuses_another_organisations_cases(
    hub: Hub, tmp_path: Path
) -> None:
    client = hub.client_for("supervisor@demo-ngo")
    own = _export_file(hub, tmp_path, "demo-ngo")
    with own.open("rb") as handle:
        answer = client.post("/api/v1/imports", files={"file": ("cases.csv", handle, "text/csv")})
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["ok"] is True, report["issues"][:3]
    assert report["format"] == "htcds-csv"
    assert report["cases"] > 0
    assert report["created"] == 0
    assert report["cases"] == report["updated"] + report["unchanged"]

    broken = tmp_path / "broken.csv"
    broken.write_text("tip_CaseId,prs_Gender\nX-1,Zorabel\n", encoding="utf-8")
    with broken.open("rb") as handle:
        rejected = client.post(
            "/api/v1/imports",
            files={"file": ("broken.csv", handle, "text/csv")},
            data={"format": "htcds-csv"},
        )
    assert rejected.status_code == 200
    assert rejected.json()["ok"] is False
    assert rejected.json()["issues"]
    assert "Zorabel" not in rejected.text

    foreign = _export_file(hub, tmp_path, "demo-police")
    with foreign.open("rb") as handle:
        refused = client.post("/api/v1/imports", files={"file": ("cases.csv", handle)})
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith(PROBLEM)

    analyst = hub.client_for("analyst@demo-ngo")
    with own.open("rb") as handle:
        assert analyst.post("/api/v1/imports", files={"file": ("c.csv", handle)}).status_code == 403
    assert not list(private_subdir("uploads").iterdir())


def _a_demo_name(hub: Hub) -> str:
    store = CaseStore(hub.engine, local_operator("operator:test"))
    for document in (store.read(case_id, audited=False).document for case_id in hub.cases.values()):
        if document["organisation"] != "demo-ngo":
            continue
        for participant in document["participants"]:
            name = participant["person"].get("family_name")
            if name:
                return str(name)
    raise AssertionError("no named person in the demo-ngo case")


def test_an_export_with_identity_is_sealed_with_a_passphrase(
    hub: Hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = hub.client_for("supervisor@demo-ngo")
    body: dict[str, Any] = {"format": "jsonl", "include_identity": True}
    assert client.post("/api/v1/exports", json=body).status_code == 422
    short = client.post("/api/v1/exports", json={**body, "passphrase": "too short"})
    assert short.status_code == 422
    created = client.post("/api/v1/exports", json={**body, "passphrase": PASSPHRASE})
    assert created.status_code == 201, created.text
    download = created.json()["download"]
    assert download == f"/api/v1/exports/{created.json()['id']}"
    answer = client.get(download)
    assert answer.status_code == 200
    sealed = tmp_path / "export.sealed"
    sealed.write_bytes(answer.content)
    name = _a_demo_name(hub)
    assert name.encode() not in answer.content
    opened = tmp_path / "export.jsonl"
    open_file(sealed, opened, PASSPHRASE)
    text = opened.read_text("utf-8")
    assert name in text
    assert '"organisation": "demo-police"' not in text
    assert '"organisation": "demo-ngo"' in text
    with pytest.raises(SealedFileError):
        open_file(sealed, tmp_path / "wrong.jsonl", "not the passphrase at all")

    # Another user cannot fetch it, and after 15 minutes nobody can.
    assert hub.client_for("analyst@demo-ngo").get(download).status_code == 404
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=16)
    monkeypatch.setattr(api_exchange, "_now", lambda: later)
    assert client.get(download).status_code == 404


def test_an_analyst_exports_only_without_identity(hub: Hub) -> None:
    client = hub.client_for("analyst@demo-ngo")
    with_identity = {"format": "ctdc", "include_identity": True, "passphrase": PASSPHRASE}
    assert client.post("/api/v1/exports", json=with_identity).status_code == 403
    created = client.post("/api/v1/exports", json={"format": "ctdc"})
    assert created.status_code == 201, created.text
    assert client.get(created.json()["download"]).status_code == 200
    caseworker = hub.client_for("caseworker@demo-ngo")
    assert caseworker.post("/api/v1/exports", json={"format": "ctdc"}).status_code == 403


def test_audit_is_for_auditors_and_records_exports(hub: Hub) -> None:
    supervisor = hub.client_for("supervisor@demo-ngo")
    assert supervisor.post("/api/v1/exports", json={"format": "ctdc"}).status_code == 201
    auditor = hub.client_for("auditor@demo-ngo")
    answer = auditor.get("/api/v1/audit", params={"limit": 5})
    assert answer.status_code == 200
    body = answer.json()
    assert len(body["items"]) == 5
    assert body["next_before"] == body["items"][-1]["sequence"]
    assert all(item["organisation"] == "demo-ngo" for item in body["items"])
    exports = auditor.get("/api/v1/audit", params={"action": "export.run"}).json()["items"]
    assert exports and exports[0]["actor"] == "supervisor@demo-ngo"
    older = auditor.get("/api/v1/audit", params={"before": body["next_before"], "limit": 5})
    assert all(item["sequence"] < body["next_before"] for item in older.json()["items"])
    denied = hub.client_for("caseworker@demo-ngo").get("/api/v1/audit")
    assert denied.status_code == 403
    assert denied.headers["content-type"].startswith(PROBLEM)


def test_admins_manage_their_own_organisations_users(hub: Hub) -> None:
    admin = hub.client_for("admin@demo-ngo")
    listed = admin.get("/api/v1/users").json()["items"]
    assert {user["organisation"] for user in listed} == {"demo-ngo"}
    new_user = {
        "username": "newcomer@demo-ngo",
        "roles": ["caseworker"],
        "team": "frontline",
        "display_name": "New",
        "password": "a quite long and unusual passphrase 9",
    }
    created = admin.post("/api/v1/users", json=new_user)
    assert created.status_code == 201, created.text
    assert created.json()["roles"] == ["caseworker"]
    assert admin.post("/api/v1/users", json=new_user).status_code == 422
    weak = admin.post("/api/v1/users", json={**new_user, "username": "x2", "password": "short"})
    assert weak.status_code == 422
    disabled = admin.post("/api/v1/users/newcomer@demo-ngo/disable")
    assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    enabled = admin.post("/api/v1/users/newcomer@demo-ngo/enable")
    assert enabled.status_code == 200 and enabled.json()["disabled"] is False
    other = admin.post("/api/v1/users/caseworker@demo-police/disable")
    assert other.status_code == 404
    assert hub.client_for("caseworker@demo-ngo").get("/api/v1/users").status_code == 403


def test_statistics_summarise_the_callers_organisation_only(hub: Hub) -> None:
    analyst = hub.client_for("analyst@demo-ngo")
    answer = analyst.get("/api/v1/statistics/summary")
    assert answer.status_code == 200
    body = answer.json()
    store = CaseStore(hub.engine, local_operator("operator:test"))
    own = [item for item in store.page(limit=200).items if item.organisation == "demo-ngo"]
    assert body["organisation"] == "demo-ngo"
    assert body["cases"] == len(own)
    assert sum(body["by_sex"].values()) == body["victims"]
    assert (
        hub.client_for("caseworker@demo-ngo").get("/api/v1/statistics/summary").status_code == 403
    )
