"""Reading tabular files row by row, whatever their encoding, with errors that name the place.

CSV files may be UTF-8 (with or without BOM) or UTF-16 (with BOM); anything else that is
not valid UTF-8 is refused with the line where decoding failed.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tiphub import files
from tiphub.delimited import Layout, detect_layout

# A single cell may hold a long narrative, but not more than this.
MAX_FIELD_CHARS = 100_000
# Wider than any HTCDS or XLSForm export (HTCDS has 65 columns, Kobo's split choices add some).
MAX_COLUMNS = 2_000
# An XLSX is a zip: its parts are bounded before openpyxl sees them, so a small file cannot
# inflate into gigabytes. Worksheets are streamed; every other part is read whole.
MAX_XLSX_TOTAL_BYTES = 1 << 30
MAX_XLSX_PART_BYTES = 64 << 20
MAX_XLSX_RATIO = 200
MAX_XLSX_PARTS = 10_000
# What the separator is detected on: the header and the first rows.
LAYOUT_SAMPLE_BYTES = 64 * 1024
# The csv module holds a cell whole: past this the row is refused without naming the column.
csv.field_size_limit(16 * 1024 * 1024)

CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


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


def check_regular_file(path: Path) -> None:
    """Refuse what is not a regular file before opening it: a FIFO or a device never ends."""
    try:
        files.check_regular_file(path)
    except files.UnreadableFileError as error:
        raise SourceError(path, error.reason) from None


class HashingReader(io.RawIOBase):
    """A binary file whose SHA-256 is taken as it is read, so no pre-pass reads it twice."""

    def __init__(self, path: Path) -> None:
        self._handle = path.open("rb")
        self.sha256 = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self._handle.readinto(buffer)
        if count:
            self.sha256.update(memoryview(buffer)[:count])
        return count or 0

    # Closing the reader (as a text wrapper does when parsing ends) keeps the file open for
    # ``finish``; ``release`` closes it.
    def finish(self) -> str:
        """Hash what was not read yet (the parser may stop early), then the digest."""
        for block in iter(lambda: self._handle.read(1 << 20), b""):
            self.sha256.update(block)
        self.release()
        return self.sha256.hexdigest()

    def release(self) -> None:
        self._handle.close()

    def __del__(self) -> None:
        self._handle.close()


def detect_encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16"
    return "utf-8"


def line_of_bad_byte(path: Path, encoding: str) -> int | None:
    """The line on which decoding first fails: a text reader decodes ahead of the parser."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    line = 1
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            try:
                text = decoder.decode(block)
            except UnicodeDecodeError as error:
                good = decoder.decode(block[: error.start]) if error.start else ""
                return line + good.count("\n")
            line += text.count("\n")
    return None


def control_character(text: str) -> str | None:
    """The first control character in ``text`` as ``U+XXXX``, or None."""
    found = CONTROL_CHARACTERS.search(text)
    return None if found is None else f"U+{ord(found.group()):04X}"


def looks_like_field_name(text: str) -> bool:
    """A header cell that may be quoted: a field name, never a person's name or a date."""
    return (
        bool(re.fullmatch(r"[A-Za-z][A-Za-z0-9]*([_/.:-][A-Za-z0-9]+)+", text)) and len(text) <= 80
    )


def describe_column(name: str, position: int) -> str:
    """How a message names a column: its header when that is a field name, else its place."""
    return name if looks_like_field_name(name) else f"#{position} (header not shown)"


def _sample_text(head: bytes, encoding: str) -> str:
    """The start of the file as text, cut at a character boundary; '' if it does not decode."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="ignore")
    return decoder.decode(head)


def iter_csv(
    path: Path, hasher: HashingReader | None = None, layout: list[Layout] | None = None
) -> tuple[list[str], Iterator[Row]]:
    """The header and a lazy iterator of rows; values are stripped strings, '' for empty.

    The separator (comma, semicolon, tab) is detected; when ``layout`` is given, the
    detected layout is appended to it for the caller's report. Rows with fewer or more
    cells than the header (a cut or damaged file) are refused.
    """
    check_regular_file(path)
    raw: io.RawIOBase = hasher if hasher is not None else HashingReader(path)
    buffered = io.BufferedReader(raw, buffer_size=LAYOUT_SAMPLE_BYTES)
    head = buffered.peek(LAYOUT_SAMPLE_BYTES)[:LAYOUT_SAMPLE_BYTES]
    encoding = detect_encoding(head[:4])
    detected = detect_layout(_sample_text(head, encoding))
    if layout is not None:
        layout.append(detected)
    text = io.TextIOWrapper(buffered, encoding=encoding, errors="strict", newline="")
    reader = csv.reader(text, strict=True, delimiter=detected.separator)

    def undecodable() -> SourceError:
        line = line_of_bad_byte(path, encoding)
        return SourceError(
            path,
            f"the file is not valid {'UTF-16' if encoding == 'utf-16' else 'UTF-8'} text "
            f"(a bad byte{f' on line {line}' if line else ''}); save it as UTF-8 and import again",
            row=line,
        )

    def unreadable(error: csv.Error) -> SourceError:
        reason = str(error)
        if "NUL" in reason:
            reason = "a cell holds a NUL byte (U+0000); remove it or save the file again as CSV"
        elif "unexpected end of data" in reason or "EOF" in reason:
            reason = "a quoted cell is never closed: the file is cut short or damaged"
        elif "field larger than field limit" in reason:
            reason = f"a cell is longer than {MAX_FIELD_CHARS:,} characters"
        else:
            reason = "not a readable CSV file (a quote in the wrong place?)"
        return SourceError(path, reason, row=reader.line_num or 1)

    try:
        header = next(reader)
    except UnicodeDecodeError:
        text.close()
        raise undecodable() from None
    except StopIteration:
        text.close()
        raise SourceError(path, "the file is empty: no header row") from None
    except csv.Error as error:
        text.close()
        raise unreadable(error) from None
    header = [name.strip() for name in header]
    if not any(header):
        text.close()
        raise SourceError(path, "the header row is empty", row=1)
    if len(header) > MAX_COLUMNS:
        text.close()
        raise SourceError(path, f"{len(header):,} columns; at most {MAX_COLUMNS:,}", row=1)

    def rows() -> Iterator[Row]:
        try:
            previous_end = reader.line_num
            for values in reader:
                number = previous_end + 1
                previous_end = reader.line_num
                if not any(cell.strip() for cell in values):
                    continue
                if len(values) != len(header):
                    cut = " (the file may be cut short)" if len(values) < len(header) else ""
                    raise SourceError(
                        path,
                        f"{len(values)} cells where the header has {len(header)} columns{cut}; "
                        "nothing was imported",
                        row=number,
                    )
                yield Row(number, dict(zip(header, (cell.strip() for cell in values), strict=True)))
        except UnicodeDecodeError:
            raise undecodable() from None
        except csv.Error as error:
            raise unreadable(error) from None
        finally:
            text.close()

    return header, rows()


def csv_header(path: Path) -> list[str]:
    """The header row of a CSV file, read from its first kilobytes; [] if there is none."""
    with path.open("rb") as handle:
        head = handle.read(LAYOUT_SAMPLE_BYTES)
    encoding = detect_encoding(head[:4])
    sample = _sample_text(head, encoding).lstrip("\ufeff")
    separator = detect_layout(sample).separator
    try:
        first = next(csv.reader(io.StringIO(sample, newline=""), delimiter=separator), [])
    except csv.Error:
        return []
    return [cell.strip() for cell in first]


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date() if value.time() == dt.time(0) else value
    if isinstance(value, str):
        return value.strip()
    return value


def check_xlsx_container(path: Path) -> None:
    """Refuse zip bombs before any part is inflated: sizes and ratios from the zip directory."""
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise SourceError(
            path, "not a readable XLSX workbook (the zip container is damaged)"
        ) from None
    if len(parts) > MAX_XLSX_PARTS:
        raise SourceError(
            path, f"the workbook has {len(parts):,} parts; at most {MAX_XLSX_PARTS:,}"
        )
    total = 0
    for part in parts:
        total += part.file_size
        streamed = part.filename.startswith("xl/worksheets/")
        if not streamed and part.file_size > MAX_XLSX_PART_BYTES:
            raise SourceError(
                path,
                f"a part of the workbook ({part.filename}) inflates to {part.file_size:,} bytes; "
                f"at most {MAX_XLSX_PART_BYTES:,} (a zip bomb or a damaged file?)",
            )
        if part.file_size > (1 << 20) and part.file_size > MAX_XLSX_RATIO * max(
            part.compress_size, 1
        ):
            raise SourceError(
                path,
                f"a part of the workbook ({part.filename}) is compressed more than "
                f"{MAX_XLSX_RATIO}:1 (a zip bomb?)",
            )
    if total > MAX_XLSX_TOTAL_BYTES:
        raise SourceError(
            path, f"the workbook inflates to {total:,} bytes; at most {MAX_XLSX_TOTAL_BYTES:,}"
        )


# Excel's own limits: a row or column number beyond them is a forged or damaged file.
EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_COLUMNS = 16_384


def _sheet_rows(path: Path, worksheet: Any) -> Iterator[tuple[int, dict[int, Any]]]:
    """(row number, {column number: value}) for the rows the sheet holds, in file order.

    openpyxl's own iterator fills the gap before a row numbered 99,999,999,999 with empty
    rows one by one, which never ends; this reads only the rows that are there.
    """
    from openpyxl.worksheet._reader import WorkSheetParser

    workbook = worksheet.parent
    with worksheet._get_source() as source:
        parser = WorkSheetParser(
            source,
            worksheet._shared_strings,
            data_only=workbook.data_only,
            epoch=workbook.epoch,
            date_formats=workbook._date_formats,
            timedelta_formats=workbook._timedelta_formats,
        )
        for number, cells in parser.parse():
            if not 1 <= number <= EXCEL_MAX_ROWS:
                raise SourceError(
                    path, f"a row number beyond Excel's {EXCEL_MAX_ROWS:,} rows (a damaged file?)"
                )
            values: dict[int, Any] = {}
            for cell in cells:
                column = cell["column"]
                if not 1 <= column <= EXCEL_MAX_COLUMNS:
                    raise SourceError(
                        path,
                        f"a column number beyond Excel's {EXCEL_MAX_COLUMNS:,} (a damaged file?)",
                        row=number,
                    )
                values[column] = cell["value"]
            yield number, values


def iter_xlsx(
    path: Path, header_rows: int = 1, sheet: str | None = None
) -> tuple[list[list[str]], Callable[[list[str]], Iterator[Row]]]:
    """The first ``header_rows`` rows (as text) and a lazy iterator of the rows after them.

    The caller decides from the header rows which one names the columns. Anything that goes
    wrong inside the workbook (damaged XML, entity tricks, bad compression) is a refusal.
    """
    from openpyxl import load_workbook

    check_regular_file(path)
    check_xlsx_container(path)

    def damaged(error: BaseException) -> SourceError:
        return SourceError(
            path, f"the workbook is damaged or not a valid XLSX file ({type(error).__name__})"
        )

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:
        raise damaged(error) from None
    headers: list[list[str]] = [[] for _ in range(header_rows)]
    first_data: tuple[int, dict[int, Any]] | None = None
    try:
        worksheet = workbook[sheet] if sheet else workbook.worksheets[0]
        rows_in_sheet = _sheet_rows(path, worksheet)
        for number, values in rows_in_sheet:
            if number > header_rows:
                first_data = (number, values)
                break
            width = max(values, default=0)
            if width > MAX_COLUMNS:
                raise SourceError(path, f"{width:,} columns; at most {MAX_COLUMNS:,}", row=number)
            headers[number - 1] = [
                "" if values.get(column) is None else str(values[column]).strip()
                for column in range(1, width + 1)
            ]
    except SourceError:
        workbook.close()
        raise
    except Exception as error:
        workbook.close()
        raise damaged(error) from None
    if not any(headers) and first_data is None:
        workbook.close()
        raise SourceError(path, "the workbook's first sheet is empty")

    def rows(header: list[str]) -> Iterator[Row]:
        def row(number: int, values: dict[int, Any]) -> Row:
            cells = [_cell(values.get(column)) for column in range(1, len(header) + 1)]
            return Row(number, dict(zip(header, cells, strict=True)))

        try:
            if first_data is not None:
                yield row(*first_data)
            for number, values in rows_in_sheet:
                yield row(number, values)
        except SourceError:
            raise
        except Exception as error:
            raise damaged(error) from None
        finally:
            workbook.close()

    return headers, rows
