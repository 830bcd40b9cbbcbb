from __future__ import annotations

import csv
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlalchemy import Engine

from tests.factories import case
from tiphub.cases.api import CaseStore
from tiphub.exchange.exporter import export
from tiphub.exchange.spreadsheet import neutralise, restore


@given(st.text())
def test_neutralise_then_restore_gives_the_value_back(value: str) -> None:
    assert restore(neutralise(value)) == value


def test_formula_cells_are_inert_in_csv_and_xlsx(engine: Engine, tmp_path: Path) -> None:
    document = case()
    document["participants"][0]["person"]["first_name"] = '=HYPERLINK("http://x","y")'
    document["participants"][0]["person"]["family_name"] = "@SUM(A1)"
    document["case_owner"] = "+1+2"
    CaseStore(engine).save(document)
    export(tmp_path / "out.csv", "htcds-csv", engine=engine)
    row = next(csv.DictReader((tmp_path / "out.csv").open(encoding="utf-8")))
    assert row["prs_FirstName"].startswith("'=")
    assert row["prs_SecondName"] == "'@SUM(A1)"
    assert row["cas_CaseOwner"] == "'+1+2"
    export(tmp_path / "out.xlsx", "htcds-xlsx", engine=engine)
    sheet = load_workbook(tmp_path / "out.xlsx")["cases"]
    header = [cell.value for cell in sheet[1]]
    cell = sheet.cell(row=2, column=header.index("prs_FirstName") + 1)
    assert cell.data_type == "s"
    assert cell.value == '=HYPERLINK("http://x","y")'
