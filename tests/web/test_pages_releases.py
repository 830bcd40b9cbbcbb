"""Share safely: an analyst builds a release from the de-identified view, a supervisor
approves and publishes it, and anyone reads it on the public data page without signing in.

The demo hub here holds a few hundred cases, so that k = 11 has something to release.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.web import hub_fixtures
from tests.web.hub_fixtures import Hub
from tiphub.cases import accounts
from tiphub.cases.access import local_operator
from tiphub.release.publishing import list_releases

ORG = "demo-police"
ANALYST = f"analyst@{ORG}"
SUPERVISOR = f"supervisor@{ORG}"
RELEASE_URL = re.compile(r"^/releases/([0-9a-f-]{36})$")


@pytest.fixture(name="hub")
def release_hub(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    monkeypatch.setattr(hub_fixtures, "DEMO_CASES", 300)
    built = hub_fixtures.build_hub(engine, monkeypatch)
    yield built
    built.close()


def _csrf(page: str) -> str:
    found = hub_fixtures.CSRF_INPUT.search(page)
    assert found, "no CSRF token on the page"
    return html.unescape(found.group(1) or found.group(2))


def _build(client: TestClient, **fields: str) -> str:
    form = client.get("/releases/new")
    assert form.status_code == 200
    answer = client.post("/releases", data={"csrf_token": _csrf(form.text), **fields})
    assert answer.status_code == 303, answer.text[:2000]
    found = RELEASE_URL.match(answer.headers["location"])
    assert found, answer.headers["location"]
    return found.group(1)


def _post(client: TestClient, path: str, page_path: str) -> int:
    page = client.get(page_path)
    return client.post(path, data={"csrf_token": _csrf(page.text)}).status_code


def _audit(hub: Hub, action: str) -> list[dict[str, object]]:
    auditor = hub.client_for(f"auditor@{ORG}")
    answer = auditor.get("/api/v1/audit", params={"action": action})
    assert answer.status_code == 200
    return list(answer.json()["items"])


def test_build_approve_publish_and_read_on_the_public_page(hub: Hub) -> None:
    analyst = hub.session_client_for(ANALYST)
    listing = analyst.get("/releases")
    assert listing.status_code == 200
    assert 'id="privacy-budget"' in listing.text
    assert 'href="/releases"' in listing.text and 'href="/data"' in listing.text

    release_id = _build(
        analyst,
        title="Victims by route and means of control",
        method="k-anon",
        k="11",
        # Pairs of values: three-value combinations take the synthesis ten times longer.
        max_combination="2",
        epsilon="",
        delta="",
    )
    listing = analyst.get("/releases")
    assert f'data-release="{release_id}"' in listing.text
    assert 'data-status="draft"' in listing.text
    detail = analyst.get(f"/releases/{release_id}")
    assert detail.status_code == 200
    assert 'id="release-utility"' in detail.text
    assert f"/releases/{release_id}/report" in detail.text
    assert f"/releases/{release_id}/approve" not in detail.text, "only approvers see the button"
    report = analyst.get(f"/releases/{release_id}/report")
    assert report.status_code == 200
    assert report.headers["content-type"].startswith("text/html")
    policy = report.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert "style-src 'unsafe-inline'" in policy and "img-src data:" in policy
    metrics = analyst.get(f"/releases/{release_id}/files/metrics.json")
    assert metrics.status_code == 200 and "utility" in metrics.json()
    assert analyst.get(f"/releases/{release_id}/files/secrets.txt").status_code == 404

    # The analyst may not approve (no release:approve); nothing changes.
    assert _post(analyst, f"/releases/{release_id}/approve", f"/releases/{release_id}") == 403
    assert 'data-status="draft"' in analyst.get(f"/releases/{release_id}").text

    # Not published yet: not on the public page.
    anonymous = hub.anonymous_client()
    assert anonymous.get(f"/data/{release_id}").status_code == 404
    assert anonymous.get(f"/data/{release_id}/aggregates.csv").status_code == 404

    supervisor = hub.session_client_for(SUPERVISOR)
    detail = supervisor.get(f"/releases/{release_id}")
    assert f"/releases/{release_id}/approve" in detail.text
    assert _post(supervisor, f"/releases/{release_id}/approve", f"/releases/{release_id}") == 303
    assert 'data-status="approved"' in supervisor.get(f"/releases/{release_id}").text
    assert _post(supervisor, f"/releases/{release_id}/publish", f"/releases/{release_id}") == 303
    detail = supervisor.get(f"/releases/{release_id}")
    assert 'data-status="published"' in detail.text
    assert f'href="/data/{release_id}"' in detail.text

    # A published release never changes: approving or publishing again is a conflict.
    page = supervisor.get(f"/releases/{release_id}")
    again = supervisor.post(
        f"/releases/{release_id}/approve", data={"csrf_token": _csrf(page.text)}
    )
    assert again.status_code == 409
    assert "published" in again.text and 'class="message message--error"' in again.text

    # The public page, without signing in.
    public = anonymous.get("/data")
    assert public.status_code == 200
    assert f'href="/data/{release_id}"' in public.text
    assert "Victims by route and means of control" in public.text
    assert ANALYST not in public.text and SUPERVISOR not in public.text
    page = anonymous.get(f"/data/{release_id}")
    assert page.status_code == 200
    assert "k = 11" in page.text
    assert page.text.count('class="statistics-block release-chart"') >= 3
    assert '<svg class="bar"' in page.text
    assert "/report" not in page.text and "report.html" not in page.text
    assert "metrics.json" not in page.text
    assert ANALYST not in page.text and SUPERVISOR not in page.text
    synthetic = anonymous.get(f"/data/{release_id}/synthetic.csv")
    assert synthetic.status_code == 200
    assert synthetic.headers["content-type"].startswith("text/csv")
    assert "attachment" in synthetic.headers["content-disposition"]
    header = next(csv.reader(io.StringIO(synthetic.text)))
    assert "gender" in header and "ageBroad" in header
    assert len(synthetic.text.splitlines()) > 11
    aggregates = anonymous.get(f"/data/{release_id}/aggregates.csv")
    assert aggregates.status_code == 200 and aggregates.text.startswith("combination,count")
    # The charts are the released counts, not the real ones.
    released = {
        row["combination"].removeprefix("gender="): row["count"]
        for row in csv.DictReader(io.StringIO(aggregates.text))
        if row["combination"].startswith("gender=") and ";" not in row["combination"]
    }
    gender = page.text.split(">Gender</h3>", 1)[1].split("</table>", 1)[0]
    charted = dict(
        re.findall(r'<th scope="row">([^<]+)</th>\s*<td class="number">(\d+)</td>', gender)
    )
    assert charted and charted == released
    privacy = anonymous.get(f"/data/{release_id}/privacy.json")
    assert privacy.status_code == 200 and privacy.json()["method"] == "k-anon"
    assert privacy.json()["k"] == 11
    assert anonymous.get(f"/data/{release_id}/codebook.csv").status_code == 200
    for review_file in ("report.html", "metrics.json", "nothing.csv"):
        assert anonymous.get(f"/data/{release_id}/{review_file}").status_code == 404
    assert anonymous.get(f"/data/{uuid.uuid4()}").status_code == 404
    assert anonymous.get("/data/not-a-release").status_code == 404
    # Signed-in pages stay signed-in only.
    assert anonymous.get("/releases").status_code == 303
    assert anonymous.get(f"/releases/{release_id}/report").status_code == 303

    # Every step is audited, each by the one who took it.
    built = [e for e in _audit(hub, "release.build") if e["resource_id"] == release_id]
    assert [(e["actor"], e["outcome"]) for e in built] == [(ANALYST, "ok")]
    for action in ("release.approve", "release.publish"):
        entries = [e for e in _audit(hub, action) if e["resource_id"] == release_id]
        assert [(e["actor"], e["outcome"]) for e in entries] == [(SUPERVISOR, "ok")]
    assert any(e["resource_id"] == release_id for e in _audit(hub, "release.download"))


def test_refusals_keep_nothing_and_say_why(hub: Hub) -> None:
    analyst = hub.session_client_for(ANALYST)
    form = analyst.get("/releases/new")
    csrf = _csrf(form.text)

    # More ε than the budget holds: refused before anything is computed, nothing stored.
    over = analyst.post(
        "/releases",
        data={
            "csrf_token": csrf,
            "title": "Too much",
            "method": "dp",
            "k": "11",
            "max_combination": "3",
            "epsilon": "50",
        },
    )
    assert over.status_code == 422
    refusal = re.search(r'id="release-refusal">([^<]+)<', over.text)
    assert refusal and "budget" in html.unescape(refusal.group(1))
    assert "tiphub release" not in refusal.group(1), "no command-line hints"
    assert 'value="Too much"' in over.text, "the form keeps what was typed"
    assert list_releases(hub.engine, hub.principal(ANALYST)) == []
    refused = [e for e in _audit(hub, "release.build") if e["outcome"] == "refused"]
    assert refused and refused[-1]["actor"] == ANALYST

    # A bad parameter, named by the domain; a malformed one, named by the form.
    bad_k = analyst.post(
        "/releases",
        data={"csrf_token": csrf, "title": "k of one", "method": "k-anon", "k": "1"},
    )
    assert bad_k.status_code == 422 and "k must be at least 2" in html.unescape(bad_k.text)
    malformed = analyst.post(
        "/releases",
        data={"csrf_token": csrf, "title": "", "method": "k-anon", "k": "eleven"},
    )
    assert malformed.status_code == 422
    assert 'id="f-k-error"' in malformed.text and 'id="f-title-error"' in malformed.text
    assert list_releases(hub.engine, hub.principal(ANALYST)) == []

    # Too little data for the k asked for.
    tiny = analyst.post(
        "/releases",
        data={"csrf_token": csrf, "title": "Tiny", "method": "aggregates", "k": "100000"},
    )
    assert tiny.status_code == 422
    assert "nothing can be released" in html.unescape(tiny.text)

    # A caseworker works with no releases; the public page is for everyone.
    caseworker = hub.session_client_for(f"caseworker@{ORG}")
    assert caseworker.get("/releases").status_code == 403
    assert caseworker.get("/releases/new").status_code == 403
    assert 'href="/releases"' not in caseworker.get("/data").text
    assert caseworker.get("/data").status_code == 200


def test_the_api_builds_approves_and_publishes(hub: Hub) -> None:
    analyst = hub.client_for(ANALYST)
    supervisor = hub.client_for(SUPERVISOR)
    made = analyst.post(
        "/api/v1/releases",
        json={"title": "Counts by sex", "method": "aggregates", "max_combination": 1},
    )
    assert made.status_code == 201, made.text
    body = made.json()
    release_id = body["id"]
    assert made.headers["location"].endswith(f"/api/v1/releases/{release_id}")
    assert body["status"] == "draft" and body["k"] == 11 and body["created_by"] == ANALYST
    assert "utility" in body["summary"]
    listed = analyst.get("/api/v1/releases").json()
    assert [item["id"] for item in listed["releases"]] == [release_id]
    assert listed["budget"]["epsilon_left"] == listed["budget"]["epsilon_total"]

    denied = analyst.post(f"/api/v1/releases/{release_id}/approve")
    assert denied.status_code == 403
    assert denied.headers["content-type"].startswith("application/problem+json")
    approved = supervisor.post(f"/api/v1/releases/{release_id}/approve")
    assert approved.status_code == 200 and approved.json()["approved_by"] == SUPERVISOR
    early = hub.anonymous_client().get(f"/data/{release_id}/privacy.json")
    assert early.status_code == 404
    published = supervisor.post(f"/api/v1/releases/{release_id}/publish")
    assert published.status_code == 200
    assert published.json()["public_url"] == f"/data/{release_id}"
    conflict = supervisor.post(f"/api/v1/releases/{release_id}/approve")
    assert conflict.status_code == 409
    assert conflict.headers["content-type"].startswith("application/problem+json")
    assert "published" in conflict.json()["detail"]
    privacy = hub.anonymous_client().get(f"/data/{release_id}/privacy.json")
    assert json.loads(privacy.content)["method"] == "aggregates"

    # A differentially private release spends from the budget, and says so in plain words.
    private = analyst.post(
        "/api/v1/releases",
        json={"title": "Noisy counts", "method": "dp", "epsilon": 1, "max_combination": 2},
    )
    assert private.status_code == 201, private.text
    assert private.json()["epsilon"] == 1 and private.json()["epsilon_spent"] == 1
    budget = analyst.get("/api/v1/releases").json()["budget"]
    assert budget["epsilon_left"] == budget["epsilon_total"] - 1
    private_id = private.json()["id"]
    for step in ("approve", "publish"):
        assert supervisor.post(f"/api/v1/releases/{private_id}/{step}").status_code == 200
    public = hub.anonymous_client().get(f"/data/{private_id}")
    assert public.status_code == 200
    assert "Differential privacy with ε = 1 and δ = 1e-06" in html.unescape(public.text)

    over = analyst.post(
        "/api/v1/releases", json={"title": "Too much", "method": "dp", "epsilon": 50}
    )
    assert over.status_code == 422 and "budget" in over.json()["detail"]
    unknown = analyst.get(f"/api/v1/releases/{uuid.uuid4()}")
    assert unknown.status_code == 404
    other = hub.client_for("supervisor@demo-ngo")
    assert other.get(f"/api/v1/releases/{release_id}").status_code == 404
    assert other.post(f"/api/v1/releases/{release_id}/publish").status_code == 404
    assert hub.client_for(f"caseworker@{ORG}").get("/api/v1/releases").status_code == 403
    assert hub.anonymous_client().get("/api/v1/releases").status_code == 401


def test_a_role_that_only_approves_reads_what_it_approves(hub: Hub) -> None:
    operator = local_operator("operator:test")
    accounts.define_role(
        hub.engine, operator, "release_approver", ["release:approve"], "organisation", False
    )
    approver = f"approver@{ORG}"
    accounts.add_user(hub.engine, operator, approver, ORG, ["release_approver"], hub.password)
    analyst = hub.session_client_for(ANALYST)
    release_id = _build(
        analyst,
        title="For approval",
        method="aggregates",
        k="11",
        max_combination="2",
        epsilon="",
        delta="",
    )

    client = hub.session_client_for(approver)
    listing = client.get("/releases")
    assert listing.status_code == 200
    assert f'data-release="{release_id}"' in listing.text
    assert 'href="/releases/new"' not in listing.text, "an approver does not build"
    assert client.get("/releases/new").status_code == 403
    detail = client.get(f"/releases/{release_id}")
    assert detail.status_code == 200 and f"/releases/{release_id}/approve" in detail.text
    assert client.get(f"/releases/{release_id}/report").status_code == 200
    assert _post(client, f"/releases/{release_id}/approve", f"/releases/{release_id}") == 303
    assert 'data-status="approved"' in client.get(f"/releases/{release_id}").text
    api = hub.client_for(approver)
    assert api.get(f"/api/v1/releases/{release_id}").json()["status"] == "approved"
