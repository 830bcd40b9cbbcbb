"""Detect online over the REST API: the command line's JSON keys, decisions and hand-overs,
permissions, and another organisation's ads answering 404."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from tests.web.hub_fixtures import Hub, build_hub
from tests.web.test_online_pages import NGO, POLICE, seed_ads
from tiphub.online import hub as online

API = "/api/v1/online"


@pytest.fixture
def hub(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    built = build_hub(engine, monkeypatch)
    yield built
    built.close()


def test_ads_clusters_and_statistics_carry_the_command_lines_keys(hub: Hub) -> None:
    rows = seed_ads(hub)
    client = hub.client_for(f"analyst@{NGO}")

    flagged = client.get(f"{API}/ads", params={"flagged": "true"})
    assert flagged.status_code == 200
    ads = flagged.json()["ads"]
    assert [ad["ad_id"] for ad in ads] == ["hostile-1", "net-1", "net-2"]  # highest score first
    first = ads[0]
    assert {"row_id", "ad_id", "score", "flagged", "indicators", "cluster_id"} <= set(first)
    assert first["score"] == pytest.approx(0.93) and first["flagged"] is True
    assert first["indicators"][0] == {"id": "no-experience-needed", "evidence": ["no experience"]}
    assert "<script>alert(1)</script>" in first["text"]  # JSON carries the text as it is
    assert len(client.get(f"{API}/ads").json()["ads"]) == 4
    assert client.get(f"{API}/ads", params={"status": "confirmed"}).json()["ads"] == []
    assert client.get(f"{API}/ads", params={"status": "maybe"}).status_code == 422

    one = client.get(f"{API}/ads/{rows['net-1']}")
    assert one.status_code == 200
    assert one.json()["cluster_id"] == "c1" and one.json()["row_id"] == str(rows["net-1"])

    clusters = client.get(f"{API}/clusters").json()["clusters"]
    assert [set(cluster) >= {"id", "template", "ad_ids", "contacts"} for cluster in clusters] == [
        True
    ]
    assert clusters[0]["ad_ids"] == ["net-1", "net-2"]
    assert client.get(f"{API}/clusters/c1").json()["contacts"] == ["a1b2c3d4e5f6"]

    weeks = client.get(f"{API}/statistics").json()["weeks"]
    assert {"week": "2026-W45", "dimension": "destination", "value": "DE", "flags": 1} in weeks
    assert all(set(row) == {"week", "dimension", "value", "flags"} for row in weeks)


def test_decisions_and_handovers_over_the_api(hub: Hub) -> None:
    rows = seed_ads(hub)
    client = hub.client_for(f"caseworker@{NGO}")
    row_id = str(rows["net-1"])

    decided = client.post(f"{API}/ads/{row_id}/decision", json={"decision": "unsure", "note": "?"})
    assert decided.status_code == 200
    assert decided.json()["review_status"] == "unsure"
    assert client.post(f"{API}/ads/{row_id}/decision", json={"decision": "yes"}).status_code == 422

    both = {"kind": "police", "row_id": row_id, "cluster_id": "c1"}
    assert client.post(f"{API}/handovers", json=both).status_code == 422
    assert client.post(f"{API}/handovers", json={"kind": "police"}).status_code == 422
    assert (
        client.post(f"{API}/handovers", json={"kind": "fax", "row_id": row_id}).status_code == 422
    )

    made = client.post(f"{API}/handovers", json={"kind": "police", "row_id": row_id})
    assert made.status_code == 201
    assert made.json()["task_id"] and made.json()["row_id"] == row_id
    takedown = client.post(f"{API}/handovers", json={"kind": "takedown", "cluster_id": "c1"})
    assert takedown.status_code == 201 and "net-2" in takedown.json()["text"]
    assert (
        client.post(f"{API}/handovers", json={"kind": "police", "cluster_id": "zz"}).status_code
        == 404
    )
    listed = client.get(f"{API}/handovers").json()["handovers"]
    assert sorted(item["kind"] for item in listed) == ["police", "takedown"]

    analyst = hub.client_for(f"analyst@{NGO}")
    assert (
        analyst.post(f"{API}/ads/{row_id}/decision", json={"decision": "dismissed"}).status_code
        == 403
    )
    assert (
        analyst.post(f"{API}/handovers", json={"kind": "police", "row_id": row_id}).status_code
        == 403
    )
    admin = hub.client_for(f"admin@{NGO}")
    assert admin.get(f"{API}/ads").status_code == 403
    assert admin.get(f"{API}/statistics").status_code == 403
    assert hub.anonymous_client().get(f"{API}/ads").status_code == 401


def test_another_organisations_ads_are_not_found(hub: Hub) -> None:
    theirs = seed_ads(hub, POLICE, prefix="police-")
    client = hub.client_for(f"caseworker@{NGO}")
    row_id = str(theirs["police-net-1"])
    assert client.get(f"{API}/ads/{row_id}").status_code == 404
    assert (
        client.post(f"{API}/ads/{row_id}/decision", json={"decision": "dismissed"}).status_code
        == 404
    )
    assert (
        client.post(f"{API}/handovers", json={"kind": "police", "row_id": row_id}).status_code
        == 404
    )
    assert client.get(f"{API}/clusters/police-c1").status_code == 404
    assert client.get(f"{API}/ads").json()["ads"] == []
    assert client.get(f"{API}/clusters").json()["clusters"] == []
    police = hub.principal(f"caseworker@{POLICE}")
    assert online.get_ad(hub.engine, police, theirs["police-net-1"]).review_status == "new"
