"""Export the store to HTCDS CSV/XLSX, JSON Lines or CTDC CSV, streaming case by case.

Spreadsheet formats neutralise formula injection (see ``spreadsheet.py``); JSON Lines is
data, not a spreadsheet, and is exact.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from tiphub.cases.persistence import iter_case_documents
from tiphub.exchange import ctdc, htcds
from tiphub.exchange.spreadsheet import is_dangerous, neutralise
from tiphub.files import run_temp_dir, staged_file
from tiphub.store.db import default_engine, ensure_schema

FORMATS = ("htcds-csv", "htcds-xlsx", "jsonl", "ctdc", "ctdc-global")


@dataclass
class ExportResult:
    path: Path
    format: str
    cases: int = 0
    rows: int = 0


def _tabular(fmt: str) -> tuple[list[str], Callable[[dict[str, Any]], list[dict[str, str]]]]:
    if fmt == "htcds-csv" or fmt == "htcds-xlsx":
        return htcds.HEADER, htcds.case_rows
    if fmt == "ctdc":
        return ctdc.SYNTHETIC_COLUMNS, ctdc.synthetic_rows
    return ctdc.GLOBAL_COLUMNS, ctdc.global_rows


def export(
    path: Path,
    fmt: str,
    engine: Engine | None = None,
    organisation: str | None = None,
    on_progress: Callable[[int], None] | None = None,
    include_identity: bool = True,
) -> ExportResult:
    """Write every case (or one organisation's) to ``path``; the file appears whole or not at all."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    engine = engine or default_engine()
    ensure_schema(engine)
    path = Path(path)
    result = ExportResult(path, fmt)
    # openpyxl spools to Python's temporary folder, which this points into the run's own.
    run_temp_dir()
    with staged_file(path) as temporary, engine.connect() as connection:
        documents = iter_case_documents(
            connection,
            organisation=organisation,
            # CTDC rows carry no identity but need the birth date for age bands.
            include_identity=include_identity or fmt.startswith("ctdc"),
        )
        counted = _counting(documents, result, on_progress)
        if fmt == "jsonl":
            with temporary.open("w", encoding="utf-8", newline="\n") as handle:
                for document in counted:
                    handle.write(json.dumps(document, ensure_ascii=False, sort_keys=True))
                    handle.write("\n")
                    result.rows += 1
        else:
            header, to_rows = _tabular(fmt)
            rows = (row for document in counted for row in to_rows(document))
            if fmt == "htcds-xlsx":
                result.rows = _write_xlsx(temporary, header, rows)
            else:
                result.rows = _write_csv(temporary, header, rows)
    return result


def _counting(
    documents: Iterator[dict[str, Any]],
    result: ExportResult,
    on_progress: Callable[[int], None] | None,
) -> Iterator[dict[str, Any]]:
    for document in documents:
        result.cases += 1
        if on_progress is not None:
            on_progress(result.cases)
        yield document


def _write_csv(path: Path, header: list[str], rows: Iterable[dict[str, str]]) -> int:
    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            writer.writerow([neutralise(row.get(name, "")) for name in header])
            count += 1
    return count


def _write_xlsx(path: Path, header: list[str], rows: Iterable[dict[str, str]]) -> int:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("cases")
    sheet.append(header)

    def cell(value: str) -> Any:
        if not value:
            return None
        if is_dangerous(value):
            # A string-typed cell is shown as text and never evaluated as a formula.
            text_cell = WriteOnlyCell(sheet, value=None)
            text_cell.value = value
            text_cell.data_type = "s"
            return text_cell
        return value

    count = 0
    for row in rows:
        sheet.append([cell(row.get(name, "")) for name in header])
        count += 1
    attribution = workbook.create_sheet("about")
    attribution.append(["Exported by tiphub in the HTCDS 2.0 flat layout (one row per victim)."])
    attribution.append(
        [
            "HTCDS by IOM, https://github.com/UNMigration/HTCDS, CC BY 4.0; tip_ columns are tiphub extensions."
        ]
    )
    workbook.save(path)
    return count
