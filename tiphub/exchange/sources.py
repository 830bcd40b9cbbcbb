"""Reading tabular files row by row, whatever their encoding, with errors that name the place.

CSV files may be UTF-8 (with or without BOM) or UTF-16 (with BOM); anything else that is
not valid UTF-8 is refused with the line where decoding failed.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# A single cell may hold a long narrative, but not more than this.
MAX_FIELD_CHARS = 100_000
csv.field_size_limit(16 * 1024 * 1024)


class SourceError(Exception):
    """The file as a whole cannot be read (encoding, emptiness, broken container)."""

    def __init__(self, path: Path, reason: str, row: int | None = None) -> None:
        self.path = path
        self.reason = reason
        self.row = row
        where = f"{path.name}" + (f", row {row}" if row is not None else "")
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class Row:
    number: int  # 1-based line/row in the file, counting the header as row 1
    values: dict[str, Any]


def detect_encoding(path: Path) -> str:
    with path.open("rb") as handle:
        head = handle.read(4)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16"
    return "utf-8"


def iter_csv(path: Path) -> tuple[list[str], Iterator[Row]]:
    """The header and a lazy iterator of rows; values are stripped strings, '' for empty."""
    raw = path.open("rb")
    text = io.TextIOWrapper(raw, encoding=detect_encoding(path), errors="strict", newline="")
    reader = csv.reader(text)

    def undecodable(error: UnicodeDecodeError) -> SourceError:
        return SourceError(
            path,
            f"the file is not valid UTF-8 or UTF-16 text ({error.reason} near line "
            f"{reader.line_num + 1}); save it as UTF-8 and import again",
            row=reader.line_num + 1,
        )

    try:
        header = next(reader)
    except UnicodeDecodeError as error:
        raw.close()
        raise undecodable(error) from None
    except StopIteration:
        raw.close()
        raise SourceError(path, "the file is empty: no header row") from None
    except csv.Error as error:
        raw.close()
        raise SourceError(path, f"not a readable CSV file ({error})", row=1) from None
    header = [name.strip() for name in header]
    if not any(header):
        raw.close()
        raise SourceError(path, "the header row is empty", row=1)

    def rows() -> Iterator[Row]:
        try:
            for values in reader:
                if not any(cell.strip() for cell in values):
                    continue
                number = reader.line_num
                if len(values) > len(header):
                    raise SourceError(
                        path, f"{len(values)} cells but only {len(header)} columns", row=number
                    )
                yield Row(
                    number, dict(zip(header, (cell.strip() for cell in values), strict=False))
                )
        except UnicodeDecodeError as error:
            raise undecodable(error) from None
        except csv.Error as error:
            raise SourceError(
                path, f"not a readable CSV file ({error})", row=reader.line_num
            ) from None
        finally:
            raw.close()

    return header, rows()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date() if value.time() == dt.time(0) else value
    if isinstance(value, str):
        return value.strip()
    return value


def iter_xlsx(
    path: Path, header_rows: int = 1, sheet: str | None = None
) -> tuple[list[list[str]], Callable[[list[str]], Iterator[Row]]]:
    """The first ``header_rows`` rows (as text) and a lazy iterator of the rows after them.

    The caller decides from the header rows which one names the columns.
    """
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise SourceError(
            path, f"not a readable XLSX workbook ({type(error).__name__}: {error})"
        ) from None
    worksheet = workbook[sheet] if sheet else workbook.worksheets[0]
    iterator = worksheet.iter_rows(values_only=True)
    headers: list[list[str]] = []
    try:
        for _ in range(header_rows):
            headers.append(["" if cell is None else str(cell).strip() for cell in next(iterator)])
    except StopIteration:
        workbook.close()
        raise SourceError(path, "the workbook's first sheet is empty") from None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        workbook.close()
        raise SourceError(path, f"the workbook is damaged ({type(error).__name__})") from None

    def rows(header: list[str]) -> Iterator[Row]:
        try:
            for number, values in enumerate(iterator, start=header_rows + 1):
                cells = [_cell(value) for value in values]
                yield Row(number, dict(zip(header, cells, strict=False)))
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
            raise SourceError(path, f"the workbook is damaged ({type(error).__name__})") from None
        finally:
            workbook.close()

    return headers, rows
