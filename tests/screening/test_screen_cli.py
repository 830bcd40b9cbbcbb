"""``tiphub screen`` in-process: the JSON contracts, exit code 2 on bad input, the XLSForm
and the round trip of an ODK export of it."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner, Result

from tiphub.cli.app import app
from tiphub.screening.instruments import instrument, score

runner = CliRunner()
EC = "ilo-ec-2009-adult-labour"
REQUIRED_RESULT_KEYS = {
    "instrument",
    "version",
    "dimensions",
    "positive",
    "indicators_present",
    "unverified_items_used",
    "explanation",
}
POSITIVE_EC = {
    "deceptive_recruitment.nature_of_job_location_or_employer": True,
    "deceptive_recruitment.wages_earnings": True,
    "exploitative_conditions.excessive_working_days_or_hours": True,
    "exploitative_conditions.hazardous_work": True,
    "abuse_of_vulnerability_at_destination.dependency_on_exploiters": True,
    "abuse_of_vulnerability_at_destination.economic_reasons": True,
    "abuse_of_vulnerability_at_destination.family_situation": True,
    "coercive_recruitment.violence_on_victims": False,
}


def screen(*args: str) -> Result:
    return runner.invoke(app, ["screen", *args])


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def one_line(text: str) -> str:
    return " ".join(text.split())


def test_list_json_shape() -> None:
    result = screen("--list", "--json")
    assert result.exit_code == 0, result.stderr
    listed = json.loads(result.stdout)
    ids = [entry["id"] for entry in listed]
    assert {
        "palermo-amp",
        "us-amp",
        "ilo-11",
        EC,
        "qyit",
        "sscst",
        "unodc-forced-criminality",
    } <= set(ids)
    for entry in listed:
        assert {"id", "version", "verified", "indicators"} <= set(entry)
        assert isinstance(entry["verified"], bool)
        for item in entry["indicators"]:
            assert {"id", "dimension", "strength", "text"} <= set(item)
            assert item["strength"] in ("strong", "medium", "weak", None)
            assert item["id"].startswith(item["dimension"] + ".")
    ec = next(entry for entry in listed if entry["id"] == EC)
    assert ec["version"] == "2009.09-tiphub.1" and ec["verified"] is False
    assert len(ec["indicators"]) == 67


def test_list_one_instrument_in_french() -> None:
    result = screen("--list", "--instrument", "ilo-11", "--json", "--language", "fr")
    assert result.exit_code == 0, result.stderr
    (entry,) = json.loads(result.stdout)
    assert entry["id"] == "ilo-11" and entry["verified"] is True
    texts = {item["id"]: item["text"] for item in entry["indicators"]}
    assert texts["forced_labour.debt_bondage"] == "Servitude pour dettes"
    assert all(item["strength"] is None for item in entry["indicators"])


def test_list_as_a_table() -> None:
    result = screen("--list")
    assert result.exit_code == 0
    assert "palermo-amp" in result.stdout and "Instruments" in result.stdout
    items = runner.invoke(app, ["screen", "--list", "--instrument", EC], env={"COLUMNS": "200"})
    assert items.exit_code == 0
    assert "coercion_at_destination.confiscation_of_documents" in items.stdout
    assert "Coercion at destination" in items.stdout


def test_an_unknown_language_falls_back_to_english_with_a_note() -> None:
    result = screen("--list", "--instrument", "ilo-11", "--json", "--language", "de")
    assert result.exit_code == 0
    (entry,) = json.loads(result.stdout)
    assert entry["indicators"][0]["text"] == "Abuse of vulnerability"
    assert "No translations for de" in result.stderr


def test_score_answers_json(tmp_path: Path) -> None:
    answers = write_json(tmp_path / "answers.json", POSITIVE_EC)
    result = screen("--instrument", EC, "--answers", str(answers), "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) >= REQUIRED_RESULT_KEYS
    assert data["instrument"] == EC and data["version"] == "2009.09-tiphub.1"
    assert data["positive"] is True
    assert data["dimensions"] == {
        "deceptive_recruitment": True,
        "coercive_recruitment": False,
        "recruitment_abuse_of_vulnerability": False,
        "exploitative_conditions": True,
        "coercion_at_destination": False,
        "abuse_of_vulnerability_at_destination": True,
    }
    present = [key for key, value in POSITIVE_EC.items() if value]
    assert data["indicators_present"] == present
    assert data["unverified_items_used"] == present
    assert data == score(instrument(EC), POSITIVE_EC).to_dict()


def test_score_answers_summary(tmp_path: Path) -> None:
    answers = write_json(tmp_path / "answers.json", POSITIVE_EC)
    result = screen("--instrument", EC, "--answers", str(answers))
    assert result.exit_code == 0, result.stderr
    text = one_line(result.stdout)
    assert "POSITIVE" in text and "✓" in text and "✗" in text
    assert "Deceptive recruitment is positive" in text
    assert "not a legal determination or an identification decision" in text


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            {"forced_labour.deceptoin": True},
            "'forced_labour.deceptoin' is not an item of instrument ilo-11",
        ),
        (
            {"forced_labour.deception": "Ana Popescu"},
            "item 'forced_labour.deception' must be true or false",
        ),
        ({"forced_labour.deception": 1}, "item 'forced_labour.deception' must be true or false"),
        ({"forced_labour.deception": None}, "item 'forced_labour.deception' must be true or false"),
        (["forced_labour.deception"], "must be a JSON object"),
        ({"Ana Popescu": True}, "a key that is not an item id (not shown)"),
    ],
)
def test_bad_answers_exit_2_naming_file_and_item(
    tmp_path: Path, content: Any, expected: str
) -> None:
    answers = write_json(tmp_path / "visit.json", content)
    result = screen("--instrument", "ilo-11", "--answers", str(answers), "--json")
    assert result.exit_code == 2
    assert result.stdout == ""
    message = one_line(result.stderr)
    assert str(answers) in message
    assert expected in message
    assert "Popescu" not in message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"forced_labour.deception": tru}', "not valid JSON (line 1, column 29"),
        (b"", "not valid JSON"),
        (
            b'{"forced_labour.deception": true, "forced_labour.deception": false}',
            "'forced_labour.deception' is given twice",
        ),
        (b"\xff\xfe{}", "not UTF-8 text"),
    ],
)
def test_unreadable_answers_exit_2(tmp_path: Path, raw: bytes, expected: str) -> None:
    path = tmp_path / "visit.json"
    path.write_bytes(raw)
    result = screen("--instrument", "ilo-11", "--answers", str(path))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert expected in one_line(result.stderr) and "visit.json" in result.stderr


def test_missing_file_folder_and_unknown_instrument_exit_2(tmp_path: Path) -> None:
    missing = screen("--instrument", "ilo-11", "--answers", str(tmp_path / "none.json"))
    assert missing.exit_code == 2 and "none.json: file not found" in one_line(missing.stderr)
    folder = screen("--instrument", "ilo-11", "--answers", str(tmp_path))
    assert folder.exit_code == 2 and "is a folder" in folder.stderr
    answers = write_json(tmp_path / "a.json", {})
    unknown = screen("--instrument", "ilo-99", "--answers", str(answers), "--json")
    assert unknown.exit_code == 2 and unknown.stdout == ""
    assert "unknown instrument 'ilo-99'" in one_line(unknown.stderr)
    assert "palermo-amp" in unknown.stderr


def test_options_that_do_not_go_together_exit_2(tmp_path: Path) -> None:
    answers = write_json(tmp_path / "a.json", {})
    both = screen("--list", "--instrument", "ilo-11", "--answers", str(answers))
    assert both.exit_code == 2 and "do not go together" in both.stderr and both.stdout == ""
    alone = screen("--answers", str(answers))
    assert alone.exit_code == 2 and "--answers needs --instrument" in alone.stderr
    bad_language = screen("--list", "--language", "../../etc")
    assert bad_language.exit_code == 2


def test_xlsform_generation(tmp_path: Path) -> None:
    out = tmp_path / "palermo.xlsx"
    result = screen("--instrument", "palermo-amp", "--xlsform", str(out))
    assert result.exit_code == 0, result.stderr
    workbook = load_workbook(out)
    assert {"survey", "choices", "settings"} <= set(workbook.sheetnames)
    settings = list(workbook["settings"].iter_rows(values_only=True))
    assert (
        dict(zip(settings[0], settings[1], strict=True))["form_id"] == "tiphub_screen_palermo-amp"
    )
    assert (
        dict(zip(settings[0], settings[1], strict=True))["version"]
        == instrument("palermo-amp").version
    )
    survey = list(workbook["survey"].iter_rows(values_only=True))
    header = survey[0]
    types = [row[header.index("type")] for row in survey[1:]]
    assert types.count("select_one yes_no") == len(instrument("palermo-amp").indicators)
    assert types.count("begin_group") == types.count("end_group") == 4
    names = [row[header.index("name")] for row in survey[1:]]
    assert "case_external_id" in names and "person_external_id" in names
    assert "label::French (fr)" in header
    assert "tiphub_screen_palermo-amp" in one_line(result.stdout)


def odk_export(
    form: Path, rows: list[dict[str, str]], delimiter: str, separator: str
) -> list[list[str]]:
    """The CSV ODK Central (``group-name``) or Kobo (``group/name``) would export."""
    survey = list(load_workbook(form)["survey"].iter_rows(values_only=True))
    header = survey[0]
    kind, name = header.index("type"), header.index("name")
    columns = ["SubmissionDate"]
    group: str | None = None
    for row in survey[1:]:
        if row[kind] == "begin_group":
            group = row[name]
        elif row[kind] == "end_group":
            group = None
        elif row[kind] in ("text", "select_one yes_no"):
            columns.append(f"{group}{separator}{row[name]}" if group else str(row[name]))
    columns += ["meta-instanceID", "KEY"]
    table = [columns]
    for number, values in enumerate(rows, start=1):
        line = []
        for column in columns:
            field = column.split(separator)[-1]
            if column in ("meta-instanceID", "KEY"):
                line.append(f"uuid:{number}")
            elif column == "SubmissionDate":
                line.append("2025-03-01T10:00:00.000Z")
            else:
                line.append(values.get(field, ""))
        table.append(line)
    return table


@pytest.mark.parametrize(("delimiter", "separator"), [(",", "-"), (";", "/")])
def test_submissions_round_trip(tmp_path: Path, delimiter: str, separator: str) -> None:
    form = tmp_path / "ec.xlsx"
    assert screen("--instrument", EC, "--xlsform", str(form)).exit_code == 0
    positive = {
        key.replace(".", "__"): "yes" if value else "no" for key, value in POSITIVE_EC.items()
    }
    negative = {
        "deceptive_recruitment__wages_earnings": "yes",
        "exploitative_conditions__hazardous_work": "no",
    }
    rows = [
        {"case_external_id": "C-7", "person_external_id": "P-1", **positive},
        {"case_external_id": "C-8", "person_external_id": "P-2", **negative},
    ]
    export = tmp_path / "export.csv"
    with export.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, delimiter=delimiter).writerows(
            odk_export(form, rows, delimiter, separator)
        )
    result = screen("--instrument", EC, "--submissions", str(export), "--json")
    assert result.exit_code == 0, result.stderr
    scored = json.loads(result.stdout)
    assert [
        (s["row"], s["case_external_id"], s["person_external_id"], s["submission_id"])
        for s in scored
    ] == [
        (2, "C-7", "P-1", "uuid:1"),
        (3, "C-8", "P-2", "uuid:2"),
    ]
    assert [s["positive"] for s in scored] == [True, False]
    expected = score(instrument(EC), POSITIVE_EC).to_dict()
    assert {key: scored[0][key] for key in expected} == expected
    assert scored[1]["indicators_present"] == ["deceptive_recruitment.wages_earnings"]
    assert set(scored[1]) >= REQUIRED_RESULT_KEYS

    table = screen("--instrument", EC, "--submissions", str(export))
    assert table.exit_code == 0
    assert "C-7" in table.stdout and "1 of 2 submissions screens positive" in one_line(table.stdout)


def test_a_bad_submission_cell_exits_2_naming_file_row_and_column(tmp_path: Path) -> None:
    export = tmp_path / "export.csv"
    export.write_text(
        "KEY,forced_labour-forced_labour__deception,forced_labour-forced_labour__isolation\n"
        "uuid:1,yes,no\n"
        "uuid:2,Ana Popescu,no\n",
        encoding="utf-8",
    )
    result = screen("--instrument", "ilo-11", "--submissions", str(export), "--json")
    assert result.exit_code == 2
    assert result.stdout == ""
    message = one_line(result.stderr)
    assert "export.csv, row 3, column 'forced_labour-forced_labour__deception'" in message
    assert "Popescu" not in message
