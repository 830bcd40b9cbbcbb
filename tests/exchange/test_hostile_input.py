"""Damaged, cut and hostile files are refused whole, with a message that quotes no one.

Each test plants synthetic identities and asserts that the refusal names the file, row and
column, that the database is untouched and that no planted value reaches any message or
the report. Runs on SQLite and (in CI) PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import json
import os
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import Engine, func, select

from tests.exchange.test_import import GOOD_ROWS, HEADER, write_csv
from tiphub.exchange.importer import MAX_ROWS_PER_CASE, ImportResult, import_file
from tiphub.store import models as m

NAMES = ("Zyxmarta", "Qwoplenko", "Ilvradu", "Brontescu")
BIRTH_DATE = "1971-03-17"


def table_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in m.Base.metadata.sorted_tables
        }


def planted_rows() -> list[list[str]]:
    rows = [row[:] for row in GOOD_ROWS]
    rows[0][2], rows[0][3], rows[0][4] = NAMES[0], NAMES[1], BIRTH_DATE
    rows[1][2], rows[1][3] = NAMES[2], NAMES[3]
    return rows


def assert_refused_quietly(
    result: ImportResult, engine: Engine, before: dict[str, int], tmp_path: Path
) -> str:
    """The import was refused, wrote nothing, and no planted value is in any message."""
    assert not result.ok
    assert table_counts(engine) == before
    report = tmp_path / "report.csv"
    result.write_report(report)
    assert report.stat().st_mode & 0o777 == 0o600
    text = "\n".join(str(issue) for issue in result.issues) + report.read_text(encoding="utf-8")
    for planted in (*NAMES, BIRTH_DATE):
        assert planted.casefold() not in text.casefold(), planted
    return text


def csv_text(rows: list[list[str]], header: list[str] = HEADER) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def test_a_file_cut_inside_a_row_is_refused(engine: Engine, tmp_path: Path) -> None:
    text = csv_text(planted_rows())
    cut = text[: text.rindex(",RO") + 3]  # the last row loses its last cells and line end
    path = tmp_path / "cut.csv"
    path.write_text(cut, encoding="utf-8")
    before = table_counts(engine)
    message = assert_refused_quietly(import_file(path, engine=engine), engine, before, tmp_path)
    assert "row 4" in message and "cut short" in message


def test_a_row_with_extra_cells_is_refused(engine: Engine, tmp_path: Path) -> None:
    rows = planted_rows()
    rows[1].append(NAMES[0])
    before = table_counts(engine)
    result = import_file(write_csv(tmp_path / "wide.csv", rows), engine=engine)
    assert "row 3" in assert_refused_quietly(result, engine, before, tmp_path)


def test_an_unterminated_quote_is_refused(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "quote.csv"
    path.write_text(csv_text(planted_rows()) + f'c9,ngo-east,"{NAMES[0]}', encoding="utf-8")
    before = table_counts(engine)
    message = assert_refused_quietly(import_file(path, engine=engine), engine, before, tmp_path)
    assert "never closed" in message


def test_a_file_without_its_header_row_is_refused_without_quoting_it(
    engine: Engine, tmp_path: Path
) -> None:
    rows = planted_rows()
    path = write_csv(tmp_path / "headless.csv", rows[1:], header=rows[0])
    before = table_counts(engine)
    message = assert_refused_quietly(import_file(path, engine=engine), engine, before, tmp_path)
    assert "does not look like a header" in message


def test_an_unknown_column_named_like_a_person_is_not_named(
    engine: Engine, tmp_path: Path
) -> None:
    rows = [[*row, "x"] for row in planted_rows()]
    path = write_csv(tmp_path / "extra.csv", rows, header=[*HEADER, f"{NAMES[0]} {NAMES[1]}"])
    before = table_counts(engine)
    result = import_file(path, engine=engine)
    assert_refused_quietly(result, engine, before, tmp_path)
    assert [issue.column for issue in result.issues] == [f"#{len(HEADER) + 1} (header not shown)"]


@pytest.mark.parametrize("character", ["\x00", "\x07", "\x1b", "\x7f"])
def test_control_characters_in_a_cell_are_refused(
    engine: Engine, tmp_path: Path, character: str
) -> None:
    rows = planted_rows()
    rows[1][3] = NAMES[3] + character + "x"
    before = table_counts(engine)
    result = import_file(write_csv(tmp_path / "nul.csv", rows), engine=engine)
    message = assert_refused_quietly(result, engine, before, tmp_path)
    assert "row 3" in message


@pytest.mark.parametrize("column", range(len(HEADER)))
def test_a_name_in_any_column_is_never_quoted(
    engine: Engine, tmp_path: Path, column: int
) -> None:
    rows = planted_rows()
    rows[2][column] = f"{NAMES[0]} {NAMES[1]}"
    rows[2][4] = BIRTH_DATE if column != 4 else rows[2][4]
    result = import_file(write_csv(tmp_path / "planted.csv", rows), engine=engine)
    report = tmp_path / "planted-report.json"
    result.write_report(report)
    text = "\n".join(map(str, result.issues)) + report.read_text(encoding="utf-8")
    assert NAMES[0] not in text and BIRTH_DATE not in text


def test_a_bad_byte_is_reported_on_its_own_line(engine: Engine, tmp_path: Path) -> None:
    rows = planted_rows() * 4
    for index, row in enumerate(rows):
        row[0] = f"c{index}"
    data = csv_text(rows).encode("utf-8").split(b"\n")
    data[10] = data[10].replace(b"ngo-east", b"ngo-\xffeast")
    path = tmp_path / "latin.csv"
    path.write_bytes(b"\n".join(data))
    before = table_counts(engine)
    message = assert_refused_quietly(import_file(path, engine=engine), engine, before, tmp_path)
    assert "line 11" in message


@pytest.mark.parametrize("kind", ["folder", "fifo", "device"])
def test_what_is_not_a_regular_file_is_refused_at_once(
    engine: Engine, tmp_path: Path, kind: str
) -> None:
    if kind == "folder":
        path = tmp_path / "a-folder"
        path.mkdir()
    elif kind == "fifo":
        path = tmp_path / "pipe.csv"
        os.mkfifo(path)
    else:
        path = Path("/dev/zero")
    before = table_counts(engine)
    result = import_file(path, engine=engine)
    assert not result.ok and table_counts(engine) == before
    assert "folder" in str(result.issues[0]) or "not a regular file" in str(result.issues[0])


def test_a_case_of_a_million_rows_stops_at_the_limit(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "endless.csv"
    with path.open("w", encoding="utf-8") as handle:
        handle.write("tip_CaseId,tip_Organisation,prs_Gender\n")
        handle.write("c1,ngo-east,Feminine\n" * (MAX_ROWS_PER_CASE * 3))
    before = table_counts(engine)
    result = import_file(path, engine=engine)
    assert not result.ok and table_counts(engine) == before
    limits = [issue for issue in result.issues if "rows for one case" in issue.reason]
    assert len(limits) == 1
    # One problem per checked row at most, never one per row of the whole file.
    assert len(result.issues) <= MAX_ROWS_PER_CASE + 2


def test_the_issue_cap_holds_within_one_case(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "bad-case.csv"
    with path.open("w", encoding="utf-8") as handle:
        handle.write("tip_CaseId,tip_Organisation,prs_Gender,tip_PersonId\n")
        for index in range(3_000):
            handle.write(f"c1,ngo-east,Feminine,p{index}\n")  # no trafficking status
    result = import_file(path, engine=engine, max_issues=500)
    assert not result.ok and len(result.issues) <= 501


def _xlsx_with_parts(path: Path, parts: dict[str, bytes]) -> Path:
    seed = io.BytesIO()
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(HEADER)
    for row in planted_rows():
        sheet.append(row)
    workbook.save(seed)
    with zipfile.ZipFile(seed) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for item in source.infolist():
            out.writestr(item.filename, parts.get(item.filename, source.read(item.filename)))
        for name, data in parts.items():
            if name not in source.namelist():
                out.writestr(name, data)
    return path


def test_an_xlsx_bomb_is_refused_before_it_inflates(engine: Engine, tmp_path: Path) -> None:
    bomb = b"<sst>" + b"<si><t>a</t></si>" * 5_000_000 + b"</sst>"  # 85 MB, compresses ~1000:1
    path = _xlsx_with_parts(tmp_path / "bomb.xlsx", {"xl/sharedStrings.xml": bomb})
    assert path.stat().st_size < 2_000_000
    before = table_counts(engine)
    result = import_file(path, engine=engine)
    assert not result.ok and table_counts(engine) == before
    assert "zip bomb" in str(result.issues[0])


@pytest.mark.parametrize(
    "damage",
    [
        b"<worksheet><sheetData><row><c t='inlineStr'><is><t>x</t></row></sheetData>",
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">]><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&f;&f;&f;&f;&f;&f;&f;</t></is></c></row></sheetData></worksheet>',
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&e;</t></is></c></row></sheetData></worksheet>',
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>tip_CaseId</t></is></c></row><row r="99999999999"><c r="A99999999999" t="inlineStr"><is><t>c1</t></is></c></row></sheetData></worksheet>',
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>tip_CaseId</t></is></c></row><row r="1048576"><c r="A1048576" t="inlineStr"><is><t>c1</t></is></c></row></sheetData></worksheet>',
    ],
    ids=["mismatched-tag", "billion-laughs", "xxe", "forged-row-number", "last-excel-row"],
)
def test_damaged_or_hostile_xlsx_xml_is_a_clean_refusal(
    engine: Engine, tmp_path: Path, damage: bytes
) -> None:
    path = _xlsx_with_parts(tmp_path / "damaged.xlsx", {"xl/worksheets/sheet1.xml": damage})
    before = table_counts(engine)
    result = import_file(path, engine=engine)
    assert not result.ok and table_counts(engine) == before
    assert "root:" not in "\n".join(map(str, result.issues))


def test_a_truncated_xlsx_is_refused(engine: Engine, tmp_path: Path) -> None:
    whole = _xlsx_with_parts(tmp_path / "whole.xlsx", {})
    cut = tmp_path / "cut.xlsx"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 2 // 3])
    before = table_counts(engine)
    result = import_file(cut, engine=engine)
    assert not result.ok and table_counts(engine) == before


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested"),
        ('{"external_id": "c1", "deep": ' + "[" * 40 + "]" * 40 + "}", "nested"),
        ('{"external_id": ' + "9" * 5_000 + "}", "number longer"),
        ('{"external_id": 1e999}', "too large"),
        ('{"external_id": NaN}', "NaN"),
        ('{"external_id": "c1", "organisation": "ngo-east", "participants": [{"role": "Victim", '
         f'"person": {{"external_id": "p1", "first_nam": "{NAMES[0]}"}}}}]}}', "Extra inputs"),
        (f'{{"external_id": "c1", "{NAMES[0]}": "{BIRTH_DATE}"}}', "Extra inputs"),
        ('{"external_id": "c\\u0000", "organisation": "ngo-east"}', "control character"),
    ],
    ids=["deep-array", "deep-object", "huge-int", "huge-float", "nan", "extra-key", "name-key", "nul"],
)
def test_hostile_json_lines_are_refused_quietly(
    engine: Engine, tmp_path: Path, line: str, expected: str
) -> None:
    path = tmp_path / "hostile.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    before = table_counts(engine)
    result = import_file(path, engine=engine)
    message = assert_refused_quietly(result, engine, before, tmp_path)
    assert expected in message
    assert json.dumps(result.issues[0].column) is not None


def test_unknown_format_is_refused(engine: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "cases.csv", GOOD_ROWS)
    with pytest.raises(ValueError, match="unknown import format"):
        import_file(path, fmt="bogus", engine=engine)


def test_a_ctdc_export_is_refused_as_export_only(engine: Engine, tmp_path: Path) -> None:
    from tiphub.exchange.exporter import export

    write = import_file(write_csv(tmp_path / "cases.csv", GOOD_ROWS), engine=engine)
    assert write.ok
    path = export(tmp_path / "ctdc.csv", "ctdc", engine=engine).path
    before = table_counts(engine)
    result = import_file(path, engine=engine)
    assert not result.ok and table_counts(engine) == before
    assert "CTDC export" in str(result.issues[0]) and len(result.issues) == 1
