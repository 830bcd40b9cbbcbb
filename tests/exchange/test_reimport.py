"""Exporting and importing back never loses what the file format cannot carry.

A caseworker exports, corrects a typo in a spreadsheet and imports the file again: the
correction lands, and the case keeps its perpetrators, notes, support plans, proceedings
and everything else. Replacing cases whole takes ``--replace``, which says what it removed.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine, select

from tiphub.cases.api import CaseStore
from tiphub.demo.loader import load_demo
from tiphub.exchange.exporter import export
from tiphub.exchange.importer import import_file
from tiphub.store import models as m

FORMATS = {"htcds-csv": "csv", "htcds-xlsx": "xlsx", "jsonl": "jsonl"}


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order."""
    with engine.connect() as connection:
        return {
            table.name: sorted(
                (tuple(map(repr, row)) for row in connection.execute(select(table))),
            )
            for table in m.Base.metadata.sorted_tables
        }


@pytest.fixture
def rich(engine: Engine) -> Engine:
    load_demo(engine, 60, 7, None)
    tables = snapshot(engine)
    for section in (
        "perpetrator_context",
        "note",
        "support_plan",
        "service_provision",
        "criminal_proceeding",
        "identification_decision",
        "person_identifier",
        "consent",
        "referral",
        "trafficking_event",
        "trafficking_status_assertion",
    ):
        assert tables[section], f"the demo should fill {section}"
    return engine


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_export_reimported_changes_no_row(rich: Engine, tmp_path: Path, fmt: str) -> None:
    before = snapshot(rich)
    path = export(tmp_path / f"cases.{FORMATS[fmt]}", fmt, engine=rich).path
    result = import_file(path, engine=rich)
    assert result.ok, result.issues[:5]
    assert result.counts.cases_unchanged == result.cases == 60
    assert result.counts.cases_updated == result.counts.cases_created == 0
    assert snapshot(rich) == before


def _first_victim_row(path: Path) -> tuple[list[dict[str, str]], dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return rows, rows[0]


def _case(engine: Engine, organisation: str, case_id: str) -> dict[str, Any]:
    record = CaseStore(engine).get(organisation, case_id)
    assert record is not None
    return record.model_dump(mode="json")


def _sections(document: dict[str, Any]) -> dict[str, int]:
    return {
        "participants": len(document["participants"]),
        "perpetrators": sum(p["role"] == "Perpetrator" for p in document["participants"]),
        "notes": len(document["notes"]),
        "support_plans": len(document["support_plans"]),
        "criminal_proceedings": len(document["criminal_proceedings"]),
        "identification_decisions": len(document["identification_decisions"]),
        "events": len(document["events"]),
    }


def test_a_spreadsheet_correction_lands_and_the_rest_of_the_case_stays(
    rich: Engine, tmp_path: Path
) -> None:
    path = export(tmp_path / "cases.csv", "htcds-csv", engine=rich).path
    rows, _ = _first_victim_row(path)
    # The richest case: the one with the most sections the flat format cannot carry.
    documents = {
        (row["tip_Organisation"], row["tip_CaseId"]): _case(
            rich, row["tip_Organisation"], row["tip_CaseId"]
        )
        for row in rows
    }
    key = max(documents, key=lambda k: sum(_sections(documents[k]).values()))
    before = documents[key]
    assert _sections(before)["perpetrators"] or _sections(before)["notes"]
    target = next(row for row in rows if (row["tip_Organisation"], row["tip_CaseId"]) == key)
    target["prs_FirstName"] = "Corrected"
    status = "FollowUp" if before.get("status") != "FollowUp" else "Active"
    for row in rows:
        if (row["tip_Organisation"], row["tip_CaseId"]) == key:
            row["cas_Status"] = status
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result = import_file(path, engine=rich)
    assert result.ok, result.issues[:5]
    assert (result.counts.cases_updated, result.counts.cases_unchanged) == (1, 59)
    after = _case(rich, *key)
    assert after["status"] == status
    person = next(
        p["person"] for p in after["participants"]
        if p["person"]["external_id"] == target["tip_PersonId"]
    )
    assert person["first_name"] == "Corrected"
    assert _sections(after) == _sections(before)
    # Everything but the two corrected fields is as it was.
    for name in ("notes", "support_plans", "criminal_proceedings", "events", "consents"):
        assert after[name] == before[name]
    others = [p for p in after["participants"] if p["person"]["external_id"] != target["tip_PersonId"]]
    assert others == [
        p for p in before["participants"] if p["person"]["external_id"] != target["tip_PersonId"]
    ]


def test_an_xlsx_with_fewer_columns_updates_only_those(rich: Engine, tmp_path: Path) -> None:
    before = snapshot(rich)
    path = export(tmp_path / "cases.xlsx", "htcds-xlsx", engine=rich).path
    workbook = load_workbook(path)
    sheet = workbook["cases"]
    keep = {"tip_CaseId", "tip_Organisation", "tip_PersonId", "prs_Gender", "vic_TraffickingStatus"}
    header = [cell.value for cell in sheet[1]]
    for index in sorted((i for i, name in enumerate(header) if name not in keep), reverse=True):
        sheet.delete_cols(index + 1)
    workbook.save(path)
    result = import_file(path, engine=rich)
    assert result.ok, result.issues[:5]
    assert result.counts.cases_unchanged == 60
    assert snapshot(rich) == before


def test_replace_deletes_only_when_asked_and_says_what(rich: Engine, tmp_path: Path) -> None:
    path = export(tmp_path / "cases.csv", "htcds-csv", engine=rich).path
    with rich.connect() as connection:
        perpetrators = len(connection.execute(select(m.PerpetratorContext.__table__)).all())
        notes = len(connection.execute(select(m.Note.__table__)).all())
    result = import_file(path, engine=rich, replace=True)
    assert result.ok
    totals = result.removed_totals()
    assert totals.get("perpetrators") == perpetrators
    assert totals.get("notes") == notes
    with rich.connect() as connection:
        assert connection.execute(select(m.PerpetratorContext.__table__)).all() == []
    report = tmp_path / "report.csv"
    result.write_report(report)
    assert "--replace removed" in report.read_text(encoding="utf-8")


def test_a_json_line_that_leaves_sections_out_keeps_them(rich: Engine, tmp_path: Path) -> None:
    import json

    path = export(tmp_path / "cases.jsonl", "jsonl", engine=rich).path
    document = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    before = _case(rich, document["organisation"], document["external_id"])
    status = "FollowUp" if before.get("status") != "FollowUp" else "Active"
    partial = {key: document[key] for key in ("external_id", "organisation")}
    partial["status"] = status
    path.write_text(json.dumps(partial) + "\n", encoding="utf-8")
    result = import_file(path, engine=rich)
    assert result.ok and result.counts.cases_updated == 1
    after = _case(rich, document["organisation"], document["external_id"])
    assert after["status"] == status
    assert {k: v for k, v in after.items() if k != "status"} == {
        k: v for k, v in before.items() if k != "status"
    }


def test_a_flat_row_cannot_turn_a_perpetrator_into_a_victim(rich: Engine, tmp_path: Path) -> None:
    path = export(tmp_path / "cases.csv", "htcds-csv", engine=rich).path
    rows, _ = _first_victim_row(path)
    for row in rows:
        document = _case(rich, row["tip_Organisation"], row["tip_CaseId"])
        perpetrator = next(
            (p for p in document["participants"] if p["role"] == "Perpetrator"), None
        )
        if perpetrator is not None:
            row["tip_PersonId"] = perpetrator["person"]["external_id"]
            break
    else:
        pytest.fail("the demo should have a case with a perpetrator")
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    before = snapshot(rich)
    result = import_file(path, engine=rich)
    assert not result.ok and snapshot(rich) == before
    assert "without a victim context" in str(result.issues[0])
