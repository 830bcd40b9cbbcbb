"""Detect online in the hub's pages: the review queue, one ad (escaped, with its evidence
marked), a cluster, the decision and hand-over forms, the weekly statistics, the upload."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from tests.web.hub_fixtures import Hub, build_hub
from tiphub.online import hub as online
from tiphub.online.ads import IndicatorHit, RawAd
from tiphub.web.routers.pages_online import dimension_views, highlighted

NGO, POLICE = "demo-ngo", "demo-police"
HOSTILE_TEXT = (
    "Earn 3000 EUR a month picking fruit in Germany, no experience needed! "
    '<script>alert(1)</script> =HYPERLINK("http://x") <img src=x onerror=alert(2)>'
)
# A few days apart, so that the flags fall into two ISO weeks.
SEEN = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def hub(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    built = build_hub(engine, monkeypatch)
    yield built
    built.close()


def seed_ads(hub: Hub, organisation: str = NGO, prefix: str = "") -> dict[str, uuid.UUID]:
    """Four synthetic ads of one organisation, screened: a hostile flagged one and two
    flagged ads of one template cluster, and an ordinary ad left unflagged. Row ids by ad id."""
    principal = hub.principal(f"supervisor@{organisation}")
    ads = [
        RawAd(
            ad_id=f"{prefix}hostile-1",
            title="Fruit <b>pickers</b>",
            text=HOSTILE_TEXT,
            seen_at=SEEN,
            source="ads.csv",
            row=2,
        ),
        RawAd(
            ad_id=f"{prefix}net-1",
            text="Hotel work in Dubai, visa and flight paid, pay the "
            "agency fee first. Message us on WhatsApp.",
            seen_at=SEEN,
            source="ads.csv",
            row=3,
        ),
        RawAd(
            ad_id=f"{prefix}net-2",
            text="Hotel work in Doha, visa and flight paid, pay the "
            "agency fee first. Message us on WhatsApp.",
            seen_at=SEEN + dt.timedelta(days=8),
            source="ads.csv",
            row=4,
        ),
        RawAd(
            ad_id=f"{prefix}plain-1",
            text="Office assistant in Leeds, permanent contract, apply through our careers page.",
            seen_at=SEEN,
            source="ads.csv",
            row=5,
        ),
    ]
    online.ingest_ads(hub.engine, principal, ads)
    rows = {ad.ad_id: ad.row_id for ad in online.stored_ads(hub.engine, principal)}
    cluster = f"{prefix}c1"
    results = [
        online.AdResult(
            rows[f"{prefix}hostile-1"],
            0.93,
            True,
            (
                IndicatorHit("no-experience-needed", ("no experience",)),
                IndicatorHit("work-abroad", ("Germany", "<b>")),
            ),
            None,
            "agriculture",
            "DE",
        ),
        online.AdResult(
            rows[f"{prefix}net-1"],
            0.81,
            True,
            (IndicatorHit("recruitment-fee", ("agency fee",)),),
            cluster,
            "hospitality",
            "AE",
        ),
        online.AdResult(
            rows[f"{prefix}net-2"],
            0.78,
            True,
            (IndicatorHit("recruitment-fee", ("agency fee",)),),
            cluster,
            "hospitality",
            "QA",
        ),
        online.AdResult(rows[f"{prefix}plain-1"], 0.02, False, (), None, "office", None),
    ]
    template = "Hotel work in *, visa and flight paid, pay the agency fee first."
    clusters = [
        online.StoredCluster(
            cluster, organisation, template, (f"{prefix}net-1", f"{prefix}net-2"), ("a1b2c3d4e5f6",)
        ),
    ]
    online.save_results(hub.engine, principal, results, clusters)
    return rows


def test_highlighting_escapes_every_piece_before_marking() -> None:
    marked = highlighted("a <script>x</script> NO Experience", ["<script>", "no experience"])
    assert str(marked) == (
        "a <mark>&lt;script&gt;</mark>x&lt;/script&gt; <mark>NO Experience</mark>"
    )
    assert str(highlighted("<i>", [])) == "&lt;i&gt;"


def test_queue_ad_cluster_and_statistics_pages_render_for_a_caseworker(hub: Hub) -> None:
    rows = seed_ads(hub)
    client = hub.session_client_for(f"caseworker@{NGO}")

    queue = client.get("/online")
    assert queue.status_code == 200
    assert 'href="/online"' in queue.text  # the navigation's entry
    assert f'href="/online/ads/{rows["hostile-1"]}"' in queue.text
    assert "plain-1" not in queue.text  # not flagged
    assert re.search(
        r'href="/online/clusters/c1">c1</a></td>\s*<td class="number">2</td>'
        r'\s*<td class="number">2</td>\s*<td class="number">1</td>',
        queue.text,
    )
    everything = client.get("/online", params={"show": "all"})
    assert "plain-1" in everything.text
    by_indicator = client.get("/online", params={"indicator": "recruitment-fee"})
    assert "net-1" in by_indicator.text and "hostile-1" not in by_indicator.text
    by_score = client.get("/online", params={"min_score": "0,9"})
    assert "hostile-1" in by_score.text and "net-1</a>" not in by_score.text
    assert client.get("/online", params={"min_score": "lots"}).status_code == 422
    assert "hostile-1" not in client.get("/online", params={"status": "confirmed"}).text

    ad = client.get(f"/online/ads/{rows['net-1']}")
    assert ad.status_code == 200
    assert "<mark>agency fee</mark>" in ad.text
    assert 'href="/online/clusters/c1"' in ad.text
    assert 'name="decision" value="confirmed"' in ad.text
    assert 'name="kind" value="labour_inspectorate"' in ad.text

    cluster = client.get("/online/clusters/c1")
    assert cluster.status_code == 200
    assert "Hotel work in *, visa and flight paid" in cluster.text
    assert "a1b2c3d4e5f6" in cluster.text
    assert f'href="/online/ads/{rows["net-2"]}"' in cluster.text
    assert client.get("/online/clusters/no-such").status_code == 404

    statistics = client.get("/online/statistics")
    assert statistics.status_code == 200
    assert statistics.text.count('<svg class="line-chart"') == 3
    assert statistics.text.count('<svg class="bar-chart"') == 3
    assert "<polyline" in statistics.text and "<script" not in statistics.text.split("<main")[1]
    assert "2026-W45" in statistics.text and "2026-W46" in statistics.text
    assert "Germany (DE)" in statistics.text


def test_weekly_views_count_per_value_and_week() -> None:
    rows = [
        {"week": "2026-W45", "dimension": "sector", "value": "hospitality", "flags": 2},
        {"week": "2026-W46", "dimension": "sector", "value": "hospitality", "flags": 1},
        {"week": "2026-W46", "dimension": "sector", "value": "agriculture", "flags": 4},
    ]
    views = {view.id: view for view in dimension_views(rows)}
    sector = views["sector"]
    assert sector.weeks == ["2026-W45", "2026-W46"]
    assert sector.table == [("agriculture", [0, 4], 4), ("hospitality", [2, 1], 3)]
    assert sector.line is not None and len(sector.line.series) == 2
    assert sector.bars is not None and sector.bars.bars[0].width > sector.bars.bars[1].width
    assert views["indicator"].table == [] and views["indicator"].line is None


def test_a_hostile_ad_is_shown_as_text_never_as_markup(hub: Hub) -> None:
    rows = seed_ads(hub)
    client = hub.session_client_for(f"caseworker@{NGO}")
    page = client.get(f"/online/ads/{rows['hostile-1']}")
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<img src=x" not in page.text and "&lt;img src=x onerror=alert(2)&gt;" in page.text
    assert "=HYPERLINK(" in page.text
    # The title's markup and an evidence word that is markup are escaped inside the mark.
    assert "<b>pickers</b>" not in page.text
    assert "<mark>&lt;b&gt;</mark>" in page.text
    assert "<mark>no experience</mark>" in page.text
    assert "<mark>Germany</mark>" in page.text
    queue = client.get("/online")
    assert "<b>pickers</b>" not in queue.text and "<script>alert" not in queue.text


def test_roles_without_online_read_are_refused(hub: Hub) -> None:
    seed_ads(hub)
    for role in ("admin", "auditor"):
        client = hub.session_client_for(f"{role}@{NGO}")
        assert client.get("/online").status_code == 403
        assert client.get("/online/statistics").status_code == 403
        assert 'href="/online"' not in client.get("/").text
    anonymous = hub.anonymous_client()
    answer = anonymous.get("/online")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/signin")


def test_decision_and_handover_change_the_ads_state(hub: Hub) -> None:
    rows = seed_ads(hub)
    row_id = rows["hostile-1"]
    reviewer = hub.principal(f"caseworker@{NGO}")
    client = hub.session_client_for(f"caseworker@{NGO}")

    assert (
        client.post(f"/online/ads/{row_id}/decision", data={"decision": "maybe"}).status_code == 422
    )
    decided = client.post(
        f"/online/ads/{row_id}/decision", data={"decision": "confirmed", "note": "fee and travel"}
    )
    assert decided.status_code == 303
    assert online.get_ad(hub.engine, reviewer, row_id).review_status == "confirmed"
    assert "hostile-1" not in client.get("/online", params={"status": "new"}).text

    handed = client.post(f"/online/ads/{row_id}/handover", data={"kind": "labour_inspectorate"})
    assert handed.status_code == 303
    made = [item for item in online.handovers(hub.engine, reviewer) if item.row_id == row_id]
    assert len(made) == 1 and made[0].kind == "labour_inspectorate" and made[0].task_id
    page = client.get(f"/online/ads/{row_id}")
    assert "Referred to the labour inspectorate" in page.text
    assert 'href="/identification"' in page.text
    custody = re.findall(
        r'<tr class="online-custody"><td>[^<]+</td><td>([^<]+)</td><td>([^<]+)</td>', page.text
    )
    assert [action for _who, action in custody][-2:] == ["reviewed", "handed_over"]
    assert custody[0][1] == "captured"
    assert (f"caseworker@{NGO}", "reviewed") in custody

    assert (
        client.post(f"/online/ads/{row_id}/handover", data={"kind": "takedown"}).status_code == 303
    )
    page = client.get(f"/online/ads/{row_id}")
    request_text = re.search(r'<pre class="online-request">(.*?)</pre>', page.text, re.S)
    assert request_text is not None and "hostile-1" in request_text.group(1)
    link = re.search(r'href="(/online/handovers/[0-9a-f-]+/request\.txt)"', page.text)
    assert link is not None
    download = client.get(link.group(1))
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/plain")
    assert "attachment" in download.headers["content-disposition"]
    assert "hostile-1" in download.text and "<script>" not in download.text

    handed_cluster = client.post("/online/clusters/c1/handover", data={"kind": "police"})
    assert handed_cluster.status_code == 303
    assert "Referred to the police" in client.get("/online/clusters/c1").text

    analyst = hub.session_client_for(f"analyst@{NGO}")
    assert analyst.get(f"/online/ads/{row_id}").status_code == 200
    assert 'name="decision"' not in analyst.get(f"/online/ads/{row_id}").text
    refused = analyst.post(f"/online/ads/{row_id}/decision", data={"decision": "dismissed"})
    assert refused.status_code == 403
    assert online.get_ad(hub.engine, reviewer, row_id).review_status == "confirmed"


def test_another_organisations_ad_and_cluster_are_not_found(hub: Hub) -> None:
    theirs = seed_ads(hub, POLICE, prefix="police-")
    client = hub.session_client_for(f"caseworker@{NGO}")
    row_id = theirs["police-hostile-1"]
    assert client.get(f"/online/ads/{row_id}").status_code == 404
    assert (
        client.post(f"/online/ads/{row_id}/decision", data={"decision": "dismissed"}).status_code
        == 404
    )
    assert client.post(f"/online/ads/{row_id}/handover", data={"kind": "police"}).status_code == 404
    assert client.get("/online/clusters/police-c1").status_code == 404
    assert "police-hostile-1" not in client.get("/online", params={"show": "all"}).text
    police = hub.principal(f"caseworker@{POLICE}")
    assert online.get_ad(hub.engine, police, row_id).review_status == "new"
    assert online.handovers(hub.engine, police) == []


def test_upload_stores_ads_or_lists_the_errors_by_row_and_field(hub: Hub) -> None:
    client = hub.session_client_for(f"caseworker@{NGO}")
    assert client.get("/online/ingest").status_code == 200
    good = (
        "ad_id,title,text\n"
        'u-1,Cleaners,"Cleaning work in Oslo, housing paid, <script>alert(1)</script>"\n'
        "u-2,Drivers,Delivery drivers wanted in Bergen\n"
    )
    stored = client.post("/online/ingest", files={"file": ("my ads.csv", good, "text/csv")})
    assert stored.status_code == 200
    assert re.search(r'class="count-stored">2<', stored.text)
    principal = hub.principal(f"caseworker@{NGO}")
    found = {ad.ad_id: ad for ad in online.stored_ads(hub.engine, principal)}
    assert set(found) == {"u-1", "u-2"} and found["u-1"].source == "my_ads.csv"
    again = client.post("/online/ingest", files={"file": ("my ads.csv", good, "text/csv")})
    assert re.search(r'class="count-unchanged">2<', again.text)

    broken = "ad_id,title\nu-3,No text column\n"
    refused = client.post("/online/ingest", files={"file": ("broken.csv", broken, "text/csv")})
    assert refused.status_code == 422
    assert "broken.csv" in refused.text and "online-problems--error" in refused.text
    assert "u-3" not in {ad.ad_id for ad in online.stored_ads(hub.engine, principal)}
    analyst = hub.session_client_for(f"analyst@{NGO}")
    assert analyst.get("/online/ingest").status_code == 403


def test_upload_can_screen_the_stored_ads_at_once(hub: Hub) -> None:
    client = hub.session_client_for(f"caseworker@{NGO}")
    ads = "ad_id,text\n" + "".join(
        f'w-{n},"Work in Germany, no experience needed, travel and housing paid, '
        f'pay the agency fee of 500 EUR first. Ad {n}."\n'
        for n in range(3)
    )
    answer = client.post(
        "/online/ingest", data={"screen": "yes"}, files={"file": ("w.csv", ads, "text/csv")}
    )
    assert answer.status_code == 200
    assert re.search(r'class="count-flagged">\d+<', answer.text)
    principal = hub.principal(f"caseworker@{NGO}")
    assert all(ad.score is not None for ad in online.stored_ads(hub.engine, principal))
