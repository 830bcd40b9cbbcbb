"""XLSForms of screening instruments and their ODK Central / Kobo exports read back."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from tiphub.screening.instruments import instrument, score
from tiphub.screening.xlsform import (
    SubmissionError,
    field_name,
    form_id,
    indicator_of_column,
    read_submissions,
    workbook_rows,
    write_xlsform,
)

EC = "ilo-ec-2009-adult-labour"


def sheet_dicts(path: Path, title: str) -> list[dict[str, str]]:
    sheet = load_workbook(path)[title]
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    header = [str(value) for value in rows[0]]
    return [
        {
            name: ("" if value is None else str(value))
            for name, value in zip(header, row, strict=True)
        }
        for row in rows[1:]
    ]


def test_the_form_has_one_yes_no_question_per_indicator_grouped_by_dimension(
    tmp_path: Path,
) -> None:
    chosen = instrument(EC)
    path = tmp_path / "ec.xlsx"
    write_xlsform(chosen, path)
    assert path.stat().st_mode & 0o077 == 0
    workbook = load_workbook(path)
    assert workbook.sheetnames == ["survey", "choices", "settings"]
    survey = sheet_dicts(path, "survey")
    label = "label::English (en)"
    questions = [row for row in survey if row["type"] == "select_one yes_no"]
    assert [row["name"] for row in questions] == [field_name(i) for i in chosen.indicators]
    assert [row[label] for row in questions] == [i.text for i in chosen.indicators]
    names = [row["name"] for row in survey if row["type"] != "end_group"]
    assert len(names) == len(set(names))
    assert {"case_external_id", "person_external_id"} <= {
        row["name"] for row in survey if row["type"] == "text"
    }
    # Each question sits between its dimension's begin_group and end_group.
    group = None
    for row in survey:
        if row["type"] == "begin_group":
            assert group is None
            group = row["name"]
        elif row["type"] == "end_group":
            assert row["name"] == group
            group = None
        elif row["type"] == "select_one yes_no":
            assert chosen.indicator(row["name"].replace("__", ".", 1)).dimension == group
    assert [row["name"] for row in survey if row["type"] == "begin_group"] == [
        d.id for d in chosen.dimensions
    ]
    strong = next(
        row for row in questions if row["name"].startswith("coercion_at_destination__confiscation")
    )
    assert strong["hint::English (en)"] == "Grade: strong"
    assert any(row["type"] == "note" and "not been verified" in row[label] for row in survey)
    choices = sheet_dicts(path, "choices")
    assert [(c["list_name"], c["name"]) for c in choices] == [("yes_no", "yes"), ("yes_no", "no")]
    settings = sheet_dicts(path, "settings")
    assert settings == [
        {
            "form_title": chosen.name,
            "form_id": "tiphub_screen_ilo-ec-2009-adult-labour",
            "version": "2009.09-tiphub.1",
        }
    ]


def test_a_translated_instrument_gets_a_label_column_per_language() -> None:
    chosen = instrument("palermo-amp")
    sheets = workbook_rows(chosen, default_language="fr")
    header = sheets["survey"][0]
    assert header[:5] == [
        "type",
        "name",
        "label::English (en)",
        "label::French (fr)",
        "label::Romanian (ro)",
    ]
    recruitment = next(row for row in sheets["survey"] if row[1] == "act__recruitment")
    assert recruitment[2:5] == [
        "Recruitment of the person",
        "Recrutement de la personne",
        "Recrutarea persoanei",
    ]
    assert sheets["choices"][1] == ["yes_no", "yes", "Yes", "Oui", "Da"]
    assert sheets["settings"][0][-1] == "default_language"
    assert sheets["settings"][1][-1] == "French (fr)"
    assert form_id(chosen) == "tiphub_screen_palermo-amp"


def test_only_english_when_asked_and_unknown_languages_refused() -> None:
    chosen = instrument("palermo-amp")
    assert workbook_rows(chosen, languages=[])["survey"][0][2:4] == [
        "label::English (en)",
        "hint::English (en)",
    ]
    with pytest.raises(ValueError, match="no translations for language 'xx'"):
        workbook_rows(chosen, languages=["xx"])


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        (
            "deceptive_recruitment-deceptive_recruitment__wages_earnings",
            "deceptive_recruitment.wages_earnings",
        ),
        (
            "deceptive_recruitment/deceptive_recruitment__wages_earnings",
            "deceptive_recruitment.wages_earnings",
        ),
        ("screen/deceptive_recruitment/wages_earnings", "deceptive_recruitment.wages_earnings"),
        ("deceptive_recruitment.wages_earnings", "deceptive_recruitment.wages_earnings"),
        ("coercion_at_destination__debt_bondage", "coercion_at_destination.debt_bondage"),
        (
            "coercive_recruitment-coercive_recruitment__debt_bondage",
            "coercive_recruitment.debt_bondage",
        ),
        ("SubmissionDate", None),
        ("case_external_id", None),
        ("wages_earnings", None),
    ],
)
def test_export_columns_map_to_indicators(column: str, expected: str | None) -> None:
    assert indicator_of_column(instrument(EC), column) == expected


def write_csv(path: Path, rows: list[list[str]], delimiter: str = ",") -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, delimiter=delimiter).writerows(rows)


def test_submissions_read_back_with_ids_and_blank_as_not_asked(tmp_path: Path) -> None:
    chosen = instrument("ilo-11")
    path = tmp_path / "export.csv"
    write_csv(
        path,
        [
            ["SubmissionDate", "case_external_id", "person_external_id",
             "forced_labour-forced_labour__deception", "forced_labour-forced_labour__debt_bondage",
             "meta-instanceID", "KEY"],
            ["2025-01-01", "C-1", "P-1", "yes", "", "uuid:1", "uuid:1"],
            ["2025-01-02", "", "", "No", "YES", "uuid:2", "uuid:2"],
        ],
    )  # fmt: skip
    rows = read_submissions(chosen, path)
    assert [(r.row, r.case_external_id, r.person_external_id, r.submission_id) for r in rows] == [
        (2, "C-1", "P-1", "uuid:1"),
        (3, None, None, "uuid:2"),
    ]
    assert rows[0].answers == {"forced_labour.deception": True}
    assert rows[1].answers == {"forced_labour.deception": False, "forced_labour.debt_bondage": True}


def test_semicolon_exports_and_kobo_xlsx(tmp_path: Path) -> None:
    chosen = instrument("qyit")
    ids = [field_name(item) for item in chosen.indicators]
    header = [
        "_uuid",
        *(f"{item.dimension}/{name}" for item, name in zip(chosen.indicators, ids, strict=True)),
    ]
    semicolons = tmp_path / "kobo.csv"
    write_csv(semicolons, [header, ["a", "yes", "no", "", "no"]], delimiter=";")
    (row,) = read_submissions(chosen, semicolons)
    assert row.submission_id == "a"
    assert score(chosen, row.answers).positive

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    sheet.append(["b", "no", "no", "no", "no"])
    xlsx = tmp_path / "kobo.xlsx"
    workbook.save(xlsx)
    (row,) = read_submissions(chosen, xlsx)
    assert row.row == 2 and row.submission_id == "b"
    assert row.answers == dict.fromkeys((i.id for i in chosen.indicators), False)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            [["KEY", "forced_labour-forced_labour__deception"], ["k", "Ana Popescu"]],
            "export.csv, row 2, column 'forced_labour-forced_labour__deception': expected yes or no",
        ),
        (
            [["KEY", "forced_labour__deception", "x/forced_labour__deception"], ["k", "yes", "no"]],
            "export.csv, row 1, column 'x/forced_labour__deception': answers item forced_labour.deception",
        ),
        (
            [["KEY", "name"], ["k", "x"]],
            "export.csv, row 1: no column answers an item of instrument ilo-11",
        ),
        (
            [["KEY", "forced_labour__deception"], ["k", "yes", "surplus"]],
            "export.csv, row 2: 3 cells where the header has 2 columns",
        ),
    ],
)
def test_submission_errors_name_file_row_and_column(
    tmp_path: Path, rows: list[list[str]], message: str
) -> None:
    path = tmp_path / "export.csv"
    write_csv(path, rows)
    with pytest.raises(SubmissionError) as caught:
        read_submissions(instrument("ilo-11"), path)
    assert str(caught.value).startswith(message)
    assert "Popescu" not in str(caught.value)


def test_an_unreadable_export_is_a_submission_error(tmp_path: Path) -> None:
    with pytest.raises(SubmissionError, match=r"missing\.csv: file not found"):
        read_submissions(instrument("ilo-11"), tmp_path / "missing.csv")
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"KEY,forced_labour__deception\nk,\xe9\n")
    with pytest.raises(SubmissionError, match=r"latin\.csv, row 2: not UTF-8"):
        read_submissions(instrument("ilo-11"), latin)
