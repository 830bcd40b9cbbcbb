"""Files as agencies really send them: any separator, rows of a case anywhere, everyday
words for codes, a missing column. Each is read to the same stored content as the tidy
file, and the import says what it did to read it."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from tiphub.cases.canonical import case_document
from tiphub.cases.persistence import iter_case_documents
from tiphub.delimited import detect_layout
from tiphub.demo.generator import generate
from tiphub.exchange import htcds
from tiphub.exchange.importer import import_file
from tiphub.exchange.regroup import Regrouped
from tiphub.exchange.sources import Row
from tiphub.standard.codelists import codelists, synonym_rows


def _demo_rows(cases: int, seed: int) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for record, _truth in generate(cases, seed):
        for row in htcds.case_rows(case_document(record)):
            row.pop("tip_Organisation", None)
            rows.append(row)
    return rows


def _write(path: Path, rows: list[dict[str, str]], delimiter: str = ",") -> Path:
    header = [name for name in htcds.HEADER if name != "tip_Organisation"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _stored(engine: Engine, organisation: str) -> dict[str, dict[str, Any]]:
    """The organisation's cases, its slug replaced so that two organisations compare."""
    with engine.connect() as connection:
        documents = list(iter_case_documents(connection, organisation=organisation))
    text = json.dumps(documents).replace(json.dumps(organisation), '"ORG"')
    return {document["external_id"]: document for document in json.loads(text)}


def _unordered(document: dict[str, Any]) -> dict[str, Any]:
    return {
        key: sorted(json.dumps(item, sort_keys=True) for item in value)
        if isinstance(value, list)
        else value
        for key, value in document.items()
    }


@pytest.mark.parametrize(("delimiter", "name"), [(";", "semicolon"), ("\t", "tab")])
def test_semicolon_and_tab_files_store_what_the_comma_file_stores(
    engine: Engine, tmp_path: Path, delimiter: str, name: str
) -> None:
    rows = _demo_rows(60, seed=5)
    comma = import_file(_write(tmp_path / "a.csv", rows), organisation="ngo-a", engine=engine)
    other = import_file(
        _write(tmp_path / "b.csv", rows, delimiter), organisation="ngo-b", engine=engine
    )
    assert comma.ok and other.ok, other.issues[:3]
    assert comma.layout is not None and comma.layout.startswith("comma-separated")
    assert other.layout is not None and other.layout.startswith(f"{name}-separated")
    assert any(note.startswith(f"file read as {name}-separated") for note in other.notes)
    assert _stored(engine, "ngo-b") == _stored(engine, "ngo-a")
    assert len(_stored(engine, "ngo-a")) == 60


def test_layout_detection_honours_quotes_and_falls_back_to_commas() -> None:
    assert detect_layout('a;b;c\n"x, y";2;3\n').separator == ";"
    assert detect_layout('a,b,c\n"x; y",2,3\n').separator == ","
    assert detect_layout("a\tb\n1\t2\n").separator == "\t"
    assert detect_layout("only\n").separator == ","
    # A cut last line (a fixed-size read) does not count against the right separator.
    assert detect_layout("a;b;c\n1;2;3\n4;5").separator == ";"
    assert detect_layout('a,b\n"1,5",2\n').quoted


def test_rows_of_a_case_anywhere_in_the_file_are_read_as_one_case(
    engine: Engine, tmp_path: Path
) -> None:
    rows = _demo_rows(120, seed=9)
    by_case: dict[str, int] = {}
    for row in rows:
        by_case[row["tip_CaseId"]] = by_case.get(row["tip_CaseId"], 0) + 1
    assert max(by_case.values()) >= 2, "the demo must have cases with several victims"
    shuffled = rows[:]
    random.Random(3).shuffle(shuffled)
    tidy = import_file(_write(tmp_path / "tidy.csv", rows), organisation="ngo-a", engine=engine)
    messy = import_file(
        _write(tmp_path / "messy.csv", shuffled), organisation="ngo-b", engine=engine
    )
    assert tidy.ok and messy.ok, messy.issues[:3]
    assert messy.cases == tidy.cases == 120
    assert not any("spread through" in note for note in tidy.notes)
    assert any("spread through the file" in note for note in messy.notes)
    stored_tidy, stored_messy = _stored(engine, "ngo-a"), _stored(engine, "ngo-b")
    # Each case's rows are read in file order, so its people and their sections come in
    # another order: compare every list as a multiset.
    assert {k: _unordered(v) for k, v in stored_messy.items()} == {
        k: _unordered(v) for k, v in stored_tidy.items()
    }
    # A second import of the messy file changes nothing.
    again = import_file(tmp_path / "messy.csv", organisation="ngo-b", engine=engine)
    assert again.ok and again.counts.cases_unchanged == 120


def test_scattered_rows_that_disagree_on_the_case_are_still_refused(
    engine: Engine, tmp_path: Path
) -> None:
    rows = _demo_rows(30, seed=2)
    first_id = rows[0]["tip_CaseId"]
    stray = dict(rows[0], tip_PersonId="stray-1", cas_Status="Closed")
    if rows[0].get("cas_Status") == "Closed":
        stray["cas_Status"] = "Active"
    result = import_file(
        _write(tmp_path / "bad.csv", [*rows, stray]), organisation="ngo-a", engine=engine
    )
    assert not result.ok
    assert [(i.row, i.column) for i in result.issues] == [(len(rows) + 2, "cas_Status")]
    assert "differs from the first row of the same case" in result.issues[0].reason
    assert first_id not in _stored(engine, "ngo-a")


def test_the_spill_is_sealed_and_removed(tmp_path: Path) -> None:
    name = "Zenobia-Ştefănescu"
    rows = [Row(n + 2, {"tip_CaseId": f"c{n % 3}", "prs_FirstName": name}) for n in range(9)]
    regrouped = Regrouped(iter(rows))
    iterator = iter(regrouped)
    first = next(iterator)
    spills = list(Path(first_spill_folder()).glob("regroup-*/rows.sqlite"))
    assert len(spills) == 1
    assert name.encode() not in spills[0].read_bytes()
    rest = list(iterator)
    assert [row.number for row in [first, *rest]] == [2, 5, 8, 3, 6, 9, 4, 7, 10]
    assert regrouped.scattered == 3
    assert not spills[0].exists() and not spills[0].parent.exists()


def first_spill_folder() -> str:
    from tiphub.files import run_temp_dir

    return str(run_temp_dir())


def test_a_missing_core_column_is_one_issue_not_one_per_row(engine: Engine, tmp_path: Path) -> None:
    rows = _demo_rows(40, seed=4)
    for row in rows:
        row.pop("prs_Gender")
    header = [n for n in htcds.HEADER if n not in ("tip_Organisation", "prs_Gender")]
    path = tmp_path / "no-gender.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    result = import_file(path, organisation="ngo-a", engine=engine)
    assert not result.ok
    assert len(result.issues) == 1
    issue = result.issues[0]
    assert (issue.row, issue.column) == (1, "prs_Gender")
    assert f"{len(rows)} rows need" in issue.reason


def test_everyday_words_for_codes_are_read_and_listed(engine: Engine, tmp_path: Path) -> None:
    rows = _demo_rows(12, seed=6)
    words = {"Feminine": ["Woman", "F", "female"], "Masculine": ["Man", "M", "male"]}
    expected: dict[str, str] = {}
    for index, row in enumerate(rows):
        options = words.get(row["prs_Gender"])
        if options:
            expected[row["tip_PersonId"]] = row["prs_Gender"]
            row["prs_Gender"] = options[index % len(options)]
    path = _write(tmp_path / "words.csv", rows)
    result = import_file(path, organisation="ngo-a", engine=engine)
    assert result.ok, result.issues[:3]
    stored = _stored(engine, "ngo-a")
    genders = {
        p["person"]["external_id"]: p["person"]["gender"]
        for document in stored.values()
        for p in document["participants"]
    }
    assert expected and all(genders[pid] == code for pid, code in expected.items())
    mapped = [note for note in result.notes if note.startswith("prs_Gender:")]
    used = {row["prs_Gender"].casefold() for row in rows if row["prs_Gender"] not in words}
    assert len(mapped) == len(used)
    assert any("'Woman' read as Feminine" in note for note in mapped)
    # The count in each note is the number of cells that used the word.
    woman = sum(row["prs_Gender"] == "Woman" for row in rows)
    assert any(note.endswith(f"({woman} cell{'s' if woman != 1 else ''})") for note in mapped)


def test_every_synonym_names_a_code_of_its_list_and_shadows_none() -> None:
    lists = codelists()
    for list_name, synonyms in synonym_rows().items():
        codes = lists[list_name]
        for synonym, code in synonyms.items():
            assert code in codes.codes, (list_name, synonym)
            assert synonym not in codes.codes, (list_name, synonym)
            assert codes.normalise(synonym) == code
    assert lists["gender"].synonym_in("Feminine") is None
    assert lists["gender"].synonym_in(" woman ") == "Woman"


def test_a_kobo_semicolon_export_imports_without_options(engine: Engine, tmp_path: Path) -> None:
    header = [
        "start",
        "end",
        "con_Consent",
        "group_person/prs_First_Name",
        "group_person/prs_Gender",
        "group_person/prs_Citizenship",
        "vic_TraffickingStatus",
        "vic_TypeOfExploitation",
        "vic_TypeOfExploitation/ForcedLabour",
        "vic_TypeOfExploitation/SexualExploitation",
        "_id",
        "_uuid",
        "_submission_time",
        "_index",
    ]
    values = [
        "2024-03-01T09:00:00.000+02:00",
        "2024-03-01T09:20:00.000+02:00",
        "yes",
        "Ioana",
        "Feminine",
        "RO",
        "PossibleVictimOfTrafficking",
        "ForcedLabour",
        "1",
        "0",
        "417",
        "5d1c6c3e-kobo",
        "2024-03-01T07:21:00",
        "1",
    ]
    path = tmp_path / "kobo-export.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(header)
        writer.writerow(values)
    result = import_file(path, organisation="ngo-a", engine=engine)
    assert result.ok, result.issues
    assert result.format == "xlsform"
    assert result.layout == "semicolon-separated"
    stored = _stored(engine, "ngo-a")
    case = stored["5d1c6c3e-kobo"]
    person = case["participants"][0]["person"]
    assert person["gender"] == "Feminine" and person["citizenship"] == ["RO"]
    assert case["participants"][0]["victim"]["exploitation_types"] == ["ForcedLabour"]


def test_a_ctdc_export_is_named_as_such(engine: Engine, tmp_path: Path) -> None:
    from tiphub.exchange.ctdc import SYNTHETIC_COLUMNS

    path = tmp_path / "ctdc.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(SYNTHETIC_COLUMNS)
        writer.writerow(["" for _ in SYNTHETIC_COLUMNS])
    result = import_file(path, engine=engine)
    assert len(result.issues) == 1
    assert "CTDC export" in result.issues[0].reason
