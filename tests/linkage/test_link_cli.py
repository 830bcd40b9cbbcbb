"""``tiphub link`` and ``tiphub linkage …`` end to end in a subprocess, on the test database."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd

from tests.test_cli import tiphub
from tiphub.linkage import datasets
from tiphub.linkage.normalise import is_possible_date
from tiphub.linkage.population import generate_register


def _write_lists(tmp_path: Path) -> tuple[list[Path], pd.DataFrame, pd.DataFrame]:
    frame, truth = datasets.demo_person_records(1200, seed=9)
    frame["region"] = (
        frame["nationality"]
        .fillna("unknown")
        .map(
            lambda code: "europe" if code in {"GBR", "UKR", "ROU", "POL", "BGR", "ALB"} else "other"
        )
    )
    paths = []
    for name in ("gb-police", "gb-nra", "gb-harbour"):
        path = tmp_path / f"{name}.csv"
        frame[frame["list"] == name].drop(columns=["role"]).to_csv(path, index=False)
        paths.append(path)
    kept = frame[frame["list"].isin(["gb-police", "gb-nra", "gb-harbour"])]
    return paths, kept, truth[truth["record_id"].isin(kept["record_id"])]


def test_link_files_writes_clusters_histories_report(database_url: str, tmp_path: Path) -> None:
    paths, frame, truth = _write_lists(tmp_path)
    truth_path = tmp_path / "truth.csv"
    truth.to_csv(truth_path, index=False)
    out = tmp_path / "clusters.csv"
    histories = tmp_path / "histories.csv"
    report = tmp_path / "report.html"
    links = tmp_path / "links.csv"
    done = tiphub(
        database_url,
        "link",
        *map(str, paths),
        "--output",
        str(out),
        "--capture-histories",
        str(histories),
        "--strata",
        "region",
        "--report",
        str(report),
        "--links",
        str(links),
        "--truth",
        str(truth_path),
        "--json",
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    clusters = pd.read_csv(out, dtype=str)
    assert list(clusters.columns[:2]) == ["record_id", "cluster_id"]
    assert sorted(clusters["record_id"]) == sorted(frame["record_id"])
    assert summary["evaluation"]["f1"] > 0.8
    assert summary["evaluation"]["blocking_recall"] > 0.9
    # The capture histories are the estimation issue's table, one 0/1 column per list.
    with histories.open(encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    assert header[0] == "region" and header[-1] == "count"
    assert set(header[1:-1]) == {"gb-police", "gb-nra", "gb-harbour"}
    estimated = tiphub(
        database_url,
        "estimate",
        str(histories),
        "--strata",
        "region",
        "--method",
        "main",
        "--bootstrap",
        "20",
        "--json",
    )
    assert estimated.returncode == 0, estimated.stderr
    stratified = json.loads(estimated.stdout)
    assert stratified["observed"] == clusters["cluster_id"].nunique()
    assert stratified["population"] >= stratified["observed"]
    counted = pd.read_csv(histories)["count"].sum()
    assert counted == clusters["cluster_id"].nunique()
    # The sidecar states what plain files let it know: files, lists, strata, no roles.
    sidecar = json.loads((tmp_path / "histories.csv.json").read_text(encoding="utf-8"))
    population = sidecar["population"]
    assert population["source"] == "files"
    assert population["files"] == [path.name for path in paths]
    assert set(population["lists"]) == {"gb-police", "gb-nra", "gb-harbour"}
    assert population["strata"] == "region"
    assert population["roles"] is None and "roles_note" in population
    assert (population["records"], population["clusters"]) == (len(clusters), counted)
    assert "uncertain_links" not in sidecar["linkage"]
    assert stratified["population_described"] == population
    # No identities in the shareable outputs.
    html_text = report.read_text(encoding="utf-8")
    links_text = links.read_text(encoding="utf-8")
    names = {name for name in frame["family_name"].dropna() if len(name) > 4}
    assert names and not any(name in html_text or name in links_text for name in names)
    sidecar_text = (tmp_path / "histories.csv.json").read_text(encoding="utf-8")
    assert not any(name in sidecar_text for name in names)
    assert not any(record in sidecar_text for record in frame["record_id"] if len(record) > 4)
    assert not any(birth in sidecar_text for birth in frame["date_of_birth"].dropna())
    # Uncertain pairs went to the review queue.
    assert summary["review_queued"] >= 0
    listed = tiphub(database_url, "linkage", "review")
    assert listed.returncode == 0, listed.stderr
    assert "pending" in listed.stdout


def test_review_decisions_feed_back(database_url: str, tmp_path: Path) -> None:
    first = tmp_path / "a.csv"
    second = tmp_path / "b.csv"
    first.write_text(
        "record_id,list,given_name,family_name,date_of_birth\n"
        + "".join(f"a{i},A,Name{i},Family{i},1990-01-{i + 1:02d}\n" for i in range(25))
        + "a-x,A,Olena,Bondarenko,1991\n",
        encoding="utf-8",
    )
    second.write_text(
        "record_id,list,given_name,family_name,date_of_birth\n"
        + "".join(f"b{i},B,Name{i},Family{i},1990-01-{i + 1:02d}\n" for i in range(25))
        + "b-x,B,Elena,Kovalchuk,1985\n",
        encoding="utf-8",
    )
    out = tmp_path / "clusters.csv"
    args = ["link", str(first), str(second), "--output", str(out), "--threshold", "0.5"]
    assert tiphub(database_url, *args).returncode == 0
    before = pd.read_csv(out, dtype=str).set_index("record_id")["cluster_id"]
    assert before["a-x"] != before["b-x"]
    # A reviewer who knows they are the same person says so; the next run links them.
    from tiphub.linkage.review import ReviewCandidate, enqueue, pending, start_run
    from tiphub.store.db import make_engine

    engine = make_engine(database_url)
    run_id = start_run(engine, inputs="test", settings={})
    enqueue(
        engine,
        run_id,
        [
            ReviewCandidate("a-x", "b-x", "A", "B", 0.4, -0.5, [], {}, {}),
        ],
    )
    queued = pending(engine, limit=None, run_id=run_id)
    item = next(entry for entry in queued if entry.left_key == "a-x")
    decided = tiphub(database_url, "linkage", "review", str(item.id), "--decision", "match")
    assert decided.returncode == 0, decided.stderr
    assert tiphub(database_url, *args).returncode == 0
    after = pd.read_csv(out, dtype=str).set_index("record_id")["cluster_id"]
    assert after["a-x"] == after["b-x"]
    engine.dispose()


def test_link_reports_bad_input_without_values(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("record_id,list,given_name\n1,A,Svitlana\n1,A,Oksana\n", encoding="utf-8")
    done = tiphub(database_url, "link", str(path), "--output", str(tmp_path / "o.csv"))
    assert done.returncode == 2
    assert "bad.csv, row 3, column 'record_id'" in done.stderr
    assert "Oksana" not in done.stderr


def test_link_database_persons(database_url: str, tmp_path: Path) -> None:
    truth = tmp_path / "truth.csv"
    assert (
        tiphub(
            database_url, "demo", "--cases", "400", "--seed", "4", "--truth", str(truth)
        ).returncode
        == 0
    )
    out = tmp_path / "clusters.csv"
    graph = tmp_path / "graph.graphml"
    done = tiphub(database_url, "link", "--output", str(out), "--report", str(tmp_path / "r.html"))
    assert done.returncode == 0, done.stderr
    clusters = pd.read_csv(out, dtype=str)
    truth_rows = pd.read_csv(truth, dtype=str)
    keys = truth_rows["organisation"] + ":" + truth_rows["person_external_id"]
    assert set(clusters["record_id"]) <= set(keys)
    true_of = dict(zip(keys, truth_rows["true_person_id"], strict=True))
    clusters["true_id"] = clusters["record_id"].map(true_of)
    # Every predicted cluster of two or more holds one true person in the large majority.
    multi = clusters.groupby("cluster_id").filter(lambda group: len(group) > 1)
    pure = multi.groupby("cluster_id")["true_id"].nunique().eq(1).mean()
    assert pure > 0.9
    exported = tiphub(database_url, "linkage", "graph", str(out), "--graphml", str(graph))
    assert exported.returncode == 0, exported.stderr
    assert graph.exists()


def test_link_a_register_with_impossible_dates_deduplicates_it(
    database_url: str, tmp_path: Path
) -> None:
    records, truth = generate_register(300, seed=4)
    path = tmp_path / "register.csv"
    records.to_csv(path, index=False)
    truth_path = tmp_path / "truth.csv"
    truth.to_csv(truth_path, index=False)
    out = tmp_path / "clusters.csv"
    done = tiphub(
        database_url,
        "link",
        str(path),
        "--output",
        str(out),
        "--truth",
        str(truth_path),
        "--no-review",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    impossible = sum(
        1 for value in records["date_of_birth"].dropna() if not is_possible_date(value)
    )
    assert impossible > 0
    assert summary["impossible_birth_dates"] == impossible
    assert summary["one_to_one_within_list"] is False
    assert summary["evaluation"]["f1"] > 0.8
    assert summary["clusters"] < len(records)
    assert isinstance(summary["training_notes"], list)


def test_summary_numbers_are_shown_as_people_read_them() -> None:
    from tiphub.cli.linkage import shown

    # A threshold from the grid's arithmetic, a count and a word.
    assert shown(0.1 + 0.2 - 0.286) == "0.014"
    assert shown(0.013999999999999999) == "0.014"
    assert shown(1027) == "1027"
    assert shown("precision ÷ recall = 1") == "precision ÷ recall = 1"
