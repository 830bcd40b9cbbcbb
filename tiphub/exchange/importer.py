"""All-or-nothing import of case files.

Every row is checked and every problem is collected (file, row, column, reason);
rows are written batch by batch inside one transaction, which is committed only when the
whole file was clean. Memory stays flat: rows stream from the file (hashed as they are
read), only 64-bit fingerprints of the IDs already seen are kept, and every input has
limits (rows per case, columns, cell size, JSON depth and number size, XLSX inflation).

An import never deletes what its format cannot say: a flat file (HTCDS CSV/XLSX, XLSForm)
updates the fields and sections it carries and keeps the rest of a stored case (its
perpetrators, notes, support plans, proceedings…); a JSON Lines case keeps the sections
its line leaves out. Replacing cases whole takes ``replace=True``, and the result lists
what that removes.

No message quotes a cell: a name typed into a code column would be printed. Messages name
the file, row and column, and at most suggest a valid code.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import math
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, Engine, update

from tiphub.cases.canonical import case_document, content_hash
from tiphub.cases.persistence import (
    CaseWriter,
    WriteCounts,
    iter_case_documents,
    lock_case_writes,
    table_of,
)
from tiphub.cases.schema import CaseRecord
from tiphub.delimited import Layout
from tiphub.exchange import ctdc, htcds, xlsform
from tiphub.exchange.merge import MergeError, merge_flat_case, removed_by_replace
from tiphub.exchange.regroup import Regrouped
from tiphub.exchange.seen import FingerprintMap, fingerprint
from tiphub.exchange.sources import (
    MAX_FIELD_CHARS,
    HashingReader,
    Row,
    SourceError,
    check_regular_file,
    control_character,
    csv_header,
    describe_column,
    iter_csv,
    iter_xlsx,
    line_of_bad_byte,
)
from tiphub.exchange.spreadsheet import neutralise, restore
from tiphub.files import open_private
from tiphub.standard.codelists import codelist, htcds_fields
from tiphub.store import models as m
from tiphub.store.db import default_engine, ensure_schema, refresh_statistics
from tiphub.store.models import utcnow

FORMATS = ("htcds-csv", "htcds-xlsx", "jsonl", "xlsform")
FLAT_FORMATS = ("htcds-csv", "htcds-xlsx", "xlsform")
# Shown in reports where a refused cell had a value: the value itself is never repeated.
WITHHELD = "<withheld>"
# A case holds one row per victim; thousands are possible in labour cases, a million is not.
MAX_ROWS_PER_CASE = 5_000
MAX_JSON_LINE_CHARS = 16 * 1024 * 1024
MAX_JSON_DEPTH = 16
MAX_JSON_NUMBER_CHARS = 20


@dataclass(frozen=True)
class ImportIssue:
    file: str
    row: int | None
    column: str | None
    value: str | None
    reason: str

    def __str__(self) -> str:
        where = self.file + (f", row {self.row}" if self.row is not None else "")
        where += f", column {self.column}" if self.column else ""
        return f"{where}: {self.reason}"


@dataclass
class ImportResult:
    path: Path
    format: str
    rows: int = 0
    cases: int = 0
    counts: WriteCounts = field(default_factory=WriteCounts)
    issues: list[ImportIssue] = field(default_factory=list)
    batch_id: uuid.UUID | None = None
    replace: bool = False
    # With ``replace``: per replaced case, what replacing it removed (section -> count).
    removals: list[tuple[str, dict[str, int]]] = field(default_factory=list)
    # How a CSV file was read (e.g. "semicolon-separated"), for the report.
    layout: str | None = None
    # What the import did to read the file as it came, e.g. which synonyms it mapped.
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.issues

    def audit_details(self) -> dict[str, str | int | bool]:
        """What an audit entry says about this import: format and counts, never content."""
        return {
            "format": self.format,
            "rows": self.rows,
            "cases": self.cases,
            "created": self.counts.cases_created,
            "updated": self.counts.cases_updated,
            "unchanged": self.counts.cases_unchanged,
            "issues": len(self.issues),
            "replace": self.replace,
        }

    def removed_totals(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for _, removed in self.removals:
            for section, count in removed.items():
                totals[section] = totals.get(section, 0) + count
        return totals

    def write_report(self, path: Path) -> None:
        """The issues as CSV (or JSON when the name ends in .json), private to the user.

        CSV cells are formula-neutralised like exports: a report is opened in a spreadsheet.
        """
        keys = ("file", "row", "column", "value", "reason")
        if path.suffix.lower() == ".json":
            payload = {
                "file": self.path.name,
                "format": self.format,
                "ok": self.ok,
                "rows": self.rows,
                "cases": self.cases,
                "counts": vars(self.counts),
                "layout": self.layout,
                "notes": self.notes,
                "issues": [{key: getattr(issue, key) for key in keys} for issue in self.issues],
                "removed": [
                    {"case": case_id, "sections": removed} for case_id, removed in self.removals
                ],
            }
            with open_private(path, "w", encoding="utf-8") as handle:
                handle.write(json.dumps(payload, indent=2, ensure_ascii=False))
            return
        with open_private(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(keys)
            for issue in self.issues:
                writer.writerow(
                    [
                        neutralise("" if getattr(issue, key) is None else str(getattr(issue, key)))
                        for key in keys
                    ]
                )
            for case_id, removed in self.removals:
                summary = ", ".join(f"{count} {section}" for section, count in removed.items())
                writer.writerow(
                    [
                        neutralise(self.path.name),
                        "",
                        "tip_CaseId",
                        neutralise(case_id),
                        f"--replace removed: {summary}",
                    ]
                )


def guess_format(path: Path) -> str:
    """The format from the file name, and for tables from the header: an ODK Central or
    KoboToolbox export of the HTCDS XLSForm is read as such without ``--format``."""
    by_name = _format_by_name(path)
    if by_name == "jsonl":
        return by_name
    try:
        if by_name == "htcds-xlsx":
            header = iter_xlsx(path, header_rows=1)[0][0]
        else:
            header = csv_header(path)
    except (OSError, SourceError):
        return by_name  # the import itself says why the file cannot be read
    return "xlsform" if xlsform.looks_like_submissions(header) else by_name


def _format_by_name(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    return "htcds-xlsx" if suffix in (".xlsx", ".xlsm") else "htcds-csv"


@dataclass
class _Unit:
    """One case as read from the file: its document, or the reason it could not be built."""

    first_row: int
    document: dict[str, Any] | None
    issues: list[ImportIssue]
    person_rows: list[int] = field(default_factory=list)
    # The parsed rows of a flat file, to merge into a stored case without losing its rest.
    rows: list[dict[str, Any]] = field(default_factory=list)


class _Importer:
    def __init__(
        self, path: Path, fmt: str, organisation: str | None, regroup: bool = False
    ) -> None:
        self.path = path
        # Whether rows are read case by case through a spill (see regroup.py).
        self.regroup = regroup
        self.regrouped: Regrouped | None = None
        self.name = path.name
        self.format = fmt
        self.organisation = organisation
        self.rows_read = 0
        self.hasher: HashingReader | None = None
        # Filled by the CSV reader: how the file was found to be laid out.
        self.layouts: list[Layout] = []
        # (column, documented synonym, code) → how many cells it was read in.
        self.synonyms_read: dict[tuple[str, str, str], int] = {}
        # Core columns the header lacks → how many rows needed them.
        self.absent_columns: dict[str, int] = {}

    def issue(self, row: int | None, column: str | None, value: Any, reason: str) -> ImportIssue:
        """An issue; a cell's value is never repeated, only that there was one."""
        shown = None if value is None or str(value) == "" else WITHHELD
        return ImportIssue(self.name, row, column, shown, reason)

    def sha256(self) -> str:
        if self.hasher is not None:
            return self.hasher.finish()
        digest = hashlib.sha256()
        with self.path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()

    # -- tabular (HTCDS CSV/XLSX, XLSForm submissions) ------------------------------------------
    def tabular_units(
        self,
        header: list[str],
        rows: Iterator[Row],
        separator_fix: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> Iterator[_Unit | ImportIssue]:
        known = [name for name in header if name in htcds.COLUMNS]
        filled = [name for name in header if name]
        ctdc_columns = {*ctdc.SYNTHETIC_COLUMNS, *ctdc.GLOBAL_COLUMNS}
        if filled and sum(name in ctdc_columns for name in filled) * 2 > len(filled):
            raise SourceError(
                self.path,
                "this is a CTDC export: statistics without identities or case IDs, which "
                "cannot be imported back. Import tiphub's HTCDS or JSON Lines export instead",
                row=1,
            )
        if len(known) * 2 < len(filled):
            # Mostly not field names: the first row is data (a name, a date), so none of it
            # may be quoted.
            raise SourceError(
                self.path,
                f"the first row does not look like a header: {len(known)} of its {len(filled)} "
                "cells are HTCDS field names (e.g. prs_Gender, vic_TraffickingStatus). "
                "Add the header row and import again",
                row=1,
            )
        for position, name in enumerate(header, start=1):
            if name and name not in htcds.COLUMNS:
                yield self.issue(
                    1,
                    describe_column(name, position),
                    None,
                    "unknown column; expected an HTCDS field name (e.g. prs_Gender) or a tiphub tip_ column",
                )
        duplicates = {name for name in known if known.count(name) > 1}
        for name in sorted(duplicates):
            yield self.issue(1, name, None, "column appears more than once")
        columns = list(dict.fromkeys(known))
        if self.regroup:
            self.regrouped = Regrouped(rows)
            rows = iter(self.regrouped)
        self.absent_columns = {name: 0 for name in CORE_COLUMNS if name not in known}
        has_case_id = "tip_CaseId" in known
        group: list[tuple[int, dict[str, Any]]] = []
        group_key: str | None = None
        for row in rows:
            self.rows_read += 1
            # Every header column is present (an empty cell is a value the user cleared);
            # a reader may derive more columns (XLSForm's referral details).
            values = {name: row.values.get(name, "") for name in columns}
            values.update(
                (name, value)
                for name, value in row.values.items()
                if name in htcds.COLUMNS and name not in values
            )
            if separator_fix is not None:
                values = separator_fix(values)
            if not any(str(value).strip() for value in values.values() if value is not None):
                continue
            parsed, issues = self.parse_row(row.number, values)
            if issues:
                yield from issues
                parsed["_broken"] = True
            key = parsed.get("tip_CaseId") if has_case_id else None
            if key is None:
                key = htcds.derived_id(
                    tuple(sorted((k, str(v)) for k, v in values.items() if v not in ("", None)))
                )
                if has_case_id and not issues:
                    yield self.issue(row.number, "tip_CaseId", None, "missing case ID")
            parsed["tip_CaseId"] = key
            if group and key != group_key:
                yield self.build_unit(group)
                group = []
            group_key = key
            if len(group) >= MAX_ROWS_PER_CASE:
                if len(group) == MAX_ROWS_PER_CASE:
                    yield self.issue(
                        row.number,
                        "tip_CaseId",
                        None,
                        f"more than {MAX_ROWS_PER_CASE:,} rows for one case (one row per "
                        "victim); the rest of this case's rows are not checked",
                    )
                    group[0][1]["_broken"] = True
                    group.append((row.number, {"_broken": True, "tip_CaseId": key}))
                continue
            group.append((row.number, parsed))
        if group:
            yield self.build_unit(group)
        for name, rows_needing in self.absent_columns.items():
            if rows_needing:
                yield self.issue(
                    1,
                    name,
                    None,
                    f"the header has no {name} column, a core field "
                    f"({CORE_COLUMNS[name]}) that {_rows_phrase(rows_needing)}; "
                    "add the column and import again",
                )

    def parse_row(
        self, number: int, values: dict[str, Any]
    ) -> tuple[dict[str, Any], list[ImportIssue]]:
        parsed: dict[str, Any] = {}
        issues: list[ImportIssue] = []
        # One search over the whole row: the cells are checked one by one only when it finds
        # something (newlines, allowed in cells, join them).
        texts = [value for value in values.values() if isinstance(value, str)]
        joined = "\n".join(texts)
        clean_row = len(joined) <= MAX_FIELD_CHARS and control_character(joined) is None
        for name, value in values.items():
            if value == "" or value is None:
                # Most of a row's cells are empty: what the column reads an empty cell as.
                parsed[name] = [] if name in _LIST_COLUMNS else None
                continue
            column = htcds.COLUMNS[name]
            if isinstance(value, str) and not clean_row:
                if len(value) > MAX_FIELD_CHARS:
                    issues.append(
                        self.issue(
                            number,
                            name,
                            value,
                            f"cell is longer than {MAX_FIELD_CHARS:,} characters ({len(value):,})",
                        )
                    )
                    continue
                control = control_character(value)
                if control is not None:
                    issues.append(
                        self.issue(
                            number, name, value, f"cell holds a control character ({control})"
                        )
                    )
                    continue
            try:
                parsed[name] = column.parse(value)
            except (ValueError, OverflowError) as error:
                issues.append(self.issue(number, name, value, str(error)))
                continue
            if isinstance(column.parse, htcds.CodeParser) and value:
                read = parsed[name]
                spelled = read if isinstance(read, list) else [read]
                # Codes as spelled need no lookup: only other words can be synonyms.
                if column.parse.parts(value) != spelled:
                    self.count_synonyms(name, column.parse, value)
        return parsed, issues

    def count_synonyms(self, name: str, parser: htcds.CodeParser, value: Any) -> None:
        codes = codelist(parser.list_name)
        for part in parser.parts(value):
            synonym = codes.synonym_in(part)
            if synonym is not None:
                key = (name, synonym, codes.synonyms[synonym])
                self.synonyms_read[key] = self.synonyms_read.get(key, 0) + 1

    def notes(self) -> list[str]:
        """What the report says about how the file was read (never a cell's own text: a
        synonym is shown as the documented list spells it)."""
        notes = [f"file read as {layout.describe()}" for layout in self.layouts if self.rows_read]
        if self.regrouped is not None and self.regrouped.scattered:
            count = self.regrouped.scattered
            notes.append(
                f"the rows of {count:,} {'case were' if count == 1 else 'cases were'} spread "
                "through the file; each case was read whole, its rows in file order"
            )
        notes += [
            f"{name}: {synonym!r} read as {code} ({count:,} {'cell' if count == 1 else 'cells'})"
            for (name, synonym, code), count in sorted(self.synonyms_read.items())
        ]
        return notes

    def build_unit(self, group: list[tuple[int, dict[str, Any]]]) -> _Unit:
        first_row, first = group[0]
        issues: list[ImportIssue] = []
        for number, parsed in group[1:]:
            for name in htcds.CASE_COLUMNS:
                if name in parsed and parsed.get(name) != first.get(name):
                    issues.append(
                        self.issue(
                            number,
                            name,
                            parsed.get(name),
                            "differs from the first row of the same case",
                        )
                    )
        organisation = first.get("tip_Organisation") or self.organisation
        if (
            self.organisation
            and first.get("tip_Organisation")
            and first["tip_Organisation"] != self.organisation
        ):
            issues.append(
                self.issue(
                    first_row,
                    "tip_Organisation",
                    first["tip_Organisation"],
                    "differs from the organisation given with --organisation",
                )
            )
        if not organisation:
            issues.append(
                self.issue(
                    first_row,
                    "tip_Organisation",
                    None,
                    "no organisation: add a tip_Organisation column or pass --organisation",
                )
            )
            organisation = "unknown"
        person_rows = []
        for number, parsed in group:
            if parsed.get("_broken"):
                continue
            for column, what in CORE_COLUMNS.items():
                if parsed.get(column) is None and (
                    column != "vic_TraffickingStatus"
                    or parsed.get("tip_Role") in (None, "Victim", "PresumedVictim")
                ):
                    if column in self.absent_columns:
                        # Reported once for the file, at the header, when reading ends.
                        self.absent_columns[column] += 1
                    else:
                        issues.append(
                            self.issue(number, column, None, f"missing core field: {what}")
                        )
                    parsed["_broken"] = True
        for index, (number, parsed) in enumerate(group):
            if not parsed.get("tip_PersonId"):
                parsed["tip_PersonId"] = f"{parsed['tip_CaseId']}-p{index + 1}"
            person_rows.append(number)
        if any(parsed.get("_broken") for _, parsed in group):
            # The row's own problems are reported already; a half-parsed case would only add noise.
            return _Unit(first_row, None, issues, person_rows)
        person_values = [parsed for _, parsed in group]
        document = htcds.build_case(first, person_values, organisation)
        return _Unit(first_row, document, issues, person_rows, person_values)

    # -- JSON Lines ------------------------------------------------------------------------------
    def jsonl_units(self) -> Iterator[_Unit | ImportIssue]:
        self.hasher = HashingReader(self.path)
        buffered = io.BufferedReader(self.hasher)
        head = buffered.peek(4)[:4]
        if not head:
            buffered.close()
            raise SourceError(self.path, "the file is empty")
        utf16 = head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
        encoding = "utf-16" if utf16 else "utf-8-sig"
        handle = io.TextIOWrapper(buffered, encoding=encoding, errors="strict")
        number = 0
        try:
            while True:
                try:
                    line = handle.readline(MAX_JSON_LINE_CHARS + 1)
                except UnicodeDecodeError:
                    bad = line_of_bad_byte(self.path, encoding)
                    raise SourceError(
                        self.path,
                        f"the file is not valid UTF-8 or UTF-16 text (a bad byte"
                        f"{f' on line {bad}' if bad else ''}); save it as UTF-8 and import again",
                        row=bad,
                    ) from None
                if not line:
                    break
                number += 1
                if len(line) > MAX_JSON_LINE_CHARS and not line.endswith("\n"):
                    while line and not line.endswith("\n"):
                        line = handle.readline(1 << 20)
                    yield self.issue(
                        number, None, None, f"line longer than {MAX_JSON_LINE_CHARS:,} characters"
                    )
                    continue
                if not line.strip():
                    continue
                self.rows_read += 1
                problem, document = _parse_json_case(line)
                if problem is not None:
                    yield self.issue(number, None, None, problem)
                    continue
                assert document is not None
                control = _control_character_path(document)
                if control is not None:
                    yield self.issue(
                        number, control[0], None, f"text holds a control character ({control[1]})"
                    )
                    continue
                if self.organisation and "organisation" not in document:
                    document["organisation"] = self.organisation
                elif self.organisation and document.get("organisation") != self.organisation:
                    # As for flat files: never write another organisation's case.
                    yield self.issue(
                        number,
                        "organisation",
                        document.get("organisation"),
                        "differs from the organisation given with --organisation",
                    )
                    continue
                yield _Unit(number, document, [])
        finally:
            handle.close()

    def units(self) -> Iterator[_Unit | ImportIssue]:
        if self.format == "jsonl":
            yield from self.jsonl_units()
        elif self.format == "htcds-csv":
            self.hasher = HashingReader(self.path)
            header, rows = iter_csv(self.path, self.hasher, self.layouts)
            yield from self.tabular_units(
                [htcds.HEADER_ALIASES.get(n, n) for n in header], _renamed(rows)
            )
        elif self.format == "htcds-xlsx":
            header, rows = _htcds_xlsx(self.path)
            yield from self.tabular_units(header, rows)
        elif self.format == "xlsform":
            if self.path.suffix.lower() not in (".xlsx", ".xlsm"):
                self.hasher = HashingReader(self.path)
            header, rows = xlsform.submissions(self.path, self.hasher, self.layouts)
            yield from self.tabular_units(header, rows)
        else:
            raise ValueError(
                f"unknown import format {self.format!r}; choose one of {', '.join(FORMATS)}"
            )


# Columns whose empty cell reads as an empty list rather than None.
_LIST_COLUMNS = frozenset(name for name, column in htcds.COLUMNS.items() if column.parse("") == [])

CORE_COLUMNS = {
    "prs_Gender": "gender (use NonSpecifiedUnknown when it is not known)",
    "vic_TraffickingStatus": "trafficking status",
}


def _rows_phrase(count: int) -> str:
    return "1 row needs" if count == 1 else f"{count:,} rows need"


def _renamed(rows: Iterator[Row]) -> Iterator[Row]:
    """Standard header spellings, and cells as they were before export neutralised them."""
    aliases = htcds.HEADER_ALIASES
    for row in rows:
        yield Row(
            row.number,
            {aliases.get(k, k): restore(v) if v[:1] == "'" else v for k, v in row.values.items()},
        )


def _label_to_field() -> dict[str, str]:
    return {
        row["label"].strip().casefold(): name
        for name, row in htcds_fields().items()
        if name[:4] in ("cas_", "prs_", "vic_", "con_")
    }


def _htcds_xlsx(path: Path) -> tuple[list[str], Iterator[Row]]:
    """The HTCDS v2.0 Excel template (field names, then labels) or a plain one-header sheet."""
    headers, rows_after = iter_xlsx(path, header_rows=2)
    names = [htcds.HEADER_ALIASES.get(name, name) for name in headers[0]]
    second = headers[1] if len(headers) > 1 else []
    labels = _label_to_field()
    filled = [cell for cell in second if cell]
    labelled = bool(filled) and sum(cell.casefold() in labels for cell in filled) * 2 > len(filled)
    if labelled:
        # The template's field-name row lacks cas_ReasonForOutgoingReferral: recover from labels.
        for index, name in enumerate(names):
            if not name and index < len(second):
                names[index] = labels.get(second[index].casefold(), "")
        return names, rows_after(names)
    # A plain sheet: the second row we read was data; put it back in front.
    first_data = Row(2, dict(zip(names, second, strict=False)))

    def rows() -> Iterator[Row]:
        yield first_data
        yield from rows_after(names)

    return names, rows()


def _validation_issues(
    importer: _Importer, unit: _Unit, error: ValidationError
) -> list[ImportIssue]:
    issues = []
    for detail in error.errors():
        location = detail["loc"]
        row = unit.first_row
        if (
            importer.format != "jsonl"
            and len(location) > 1
            and location[0] == "participants"
            and isinstance(location[1], int)
            and location[1] < len(unit.person_rows)
        ):
            row = unit.person_rows[location[1]]
        column = ".".join(_safe_key(part) for part in location) or None
        message = detail["msg"].removeprefix("Value error, ")
        issues.append(importer.issue(row, column, detail.get("input"), message))
    return issues


def _safe_key(part: str | int) -> str:
    """A JSON key as a message may show it: a schema-like name, never a name typed as a key."""
    text = str(part)
    return text if re.fullmatch(r"[a-z][a-z0-9_]{0,60}|[0-9]{1,9}", text) else "<key>"


class _JSONLimitError(ValueError):
    pass


def _bounded_int(text: str) -> int:
    if len(text) > MAX_JSON_NUMBER_CHARS:
        raise _JSONLimitError(f"a number longer than {MAX_JSON_NUMBER_CHARS} digits")
    return int(text)


def _bounded_float(text: str) -> float:
    if len(text) > MAX_JSON_NUMBER_CHARS * 2:
        raise _JSONLimitError(f"a number longer than {MAX_JSON_NUMBER_CHARS * 2} characters")
    value = float(text)
    if not math.isfinite(value):
        raise _JSONLimitError("a number too large to store")
    return value


def _no_constant(text: str) -> Any:
    raise _JSONLimitError("NaN and Infinity are not JSON numbers")


def _parse_json_case(line: str) -> tuple[str | None, dict[str, Any] | None]:
    """(problem, None) or (None, the case object) for one line; never quotes the line."""
    try:
        document = json.loads(
            line,
            parse_int=_bounded_int,
            parse_float=_bounded_float,
            parse_constant=_no_constant,
        )
    except json.JSONDecodeError as error:
        return f"not valid JSON ({error.msg} at character {error.pos})", None
    except _JSONLimitError as error:
        return str(error), None
    except RecursionError:
        return f"JSON nested deeper than {MAX_JSON_DEPTH} levels", None
    except ValueError:
        return "not valid JSON (a number that cannot be read)", None
    if not isinstance(document, dict):
        return "each line must be one JSON object (a case)", None
    if _depth(document) > MAX_JSON_DEPTH:
        return f"JSON nested deeper than {MAX_JSON_DEPTH} levels", None
    return None, document


def _depth(value: Any) -> int:
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_JSON_DEPTH:
            return level
        if isinstance(item, dict):
            stack.extend((child, level + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, level + 1) for child in item)
    return deepest


def _control_character_path(document: dict[str, Any]) -> tuple[str, str] | None:
    """Where the first control character in a JSON case is (a safe path), and which one."""
    stack: list[tuple[Any, str]] = [(document, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                place = f"{path}.{_safe_key(key)}" if path else _safe_key(key)
                found = control_character(str(key))
                if found is not None:
                    return place, found
                stack.append((child, place))
        elif isinstance(item, list):
            stack.extend((child, f"{path}.{index}") for index, child in enumerate(item))
        elif isinstance(item, str):
            found = control_character(item)
            if found is not None:
                return path, found
    return None


def import_file(
    path: Path,
    fmt: str | None = None,
    organisation: str | None = None,
    engine: Engine | None = None,
    actor: str = "tiphub-import",
    batch_size: int = 1000,
    on_progress: Callable[[int], None] | None = None,
    max_issues: int = 10_000,
    replace: bool = False,
    on_wait: Callable[[], None] | None = None,
) -> ImportResult:
    """Import one file; on any problem nothing is written and the result lists every issue.

    Cases already stored are updated, never cut: see the module's docstring. With
    ``replace`` they are replaced whole and ``result.removals`` says what that removed.
    ``on_wait`` is called if another writer holds the store, before this import waits.
    """
    path = Path(path)
    if fmt is not None and fmt not in FORMATS:
        raise ValueError(f"unknown import format {fmt!r}; choose one of {', '.join(FORMATS)}")
    try:
        # Before the format is guessed from the header: a FIFO would block the reading.
        check_regular_file(path)
    except SourceError as error:
        result = ImportResult(path=path, format=fmt or _format_by_name(path), replace=replace)
        result.issues.append(ImportIssue(path.name, None, None, None, error.reason))
        return result
    guessed = fmt is None
    fmt = fmt or guess_format(path)
    engine = engine or default_engine()
    ensure_schema(engine)
    options = _Options(organisation, actor, batch_size, on_progress, max_issues, replace, on_wait)
    try:
        result = _import_once(engine, _Importer(path, fmt, organisation), options)
    except _ScatteredRowsError:
        # Rows of one case far apart: start again (the transaction was rolled back), this
        # time reading the file case by case through a spill.
        result = _import_once(engine, _Importer(path, fmt, organisation, regroup=True), options)
    if guessed and fmt == "xlsform":
        result.notes.insert(
            0, "recognised as an ODK Central or KoboToolbox export of the HTCDS XLSForm"
        )
    return result


class _ScatteredRowsError(Exception):
    """A flat file's case ID came back after other cases' rows."""


@dataclass(frozen=True)
class _Options:
    organisation: str | None
    actor: str
    batch_size: int
    on_progress: Callable[[int], None] | None
    max_issues: int
    replace: bool
    on_wait: Callable[[], None] | None


def _import_once(engine: Engine, importer: _Importer, options: _Options) -> ImportResult:
    path, fmt = importer.path, importer.format
    organisation, actor, batch_size = options.organisation, options.actor, options.batch_size
    on_progress, max_issues, on_wait = options.on_progress, options.max_issues, options.on_wait
    result = ImportResult(path=path, format=fmt, replace=options.replace)
    seen_cases = FingerprintMap()
    seen_people = FingerprintMap()
    pending: list[_Pending] = []

    def add_issues(issues: list[ImportIssue]) -> None:
        room = max_issues - len(result.issues)
        result.issues.extend(issues[: max(room, 0)])

    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            lock_case_writes(connection, on_wait)
            batch_id = m.new_id()
            connection.execute(
                table_of(m.ImportBatch).insert(),
                {
                    "id": batch_id,
                    "source_name": path.name[:1000],
                    "source_sha256": "",
                    "format": fmt,
                    "organisation_slug": organisation,
                    "imported_by": actor,
                    "started_at": utcnow(),
                    "cases_created": 0,
                    "cases_updated": 0,
                    "cases_unchanged": 0,
                },
            )
            writer = CaseWriter(connection, actor, batch_id)

            def flush() -> None:
                if pending and not result.issues:
                    records, documents = _with_stored_cases(connection, importer, pending, result)
                    if not result.issues:
                        result.counts.add(writer.write(records, documents))
                pending.clear()

            try:
                for unit in importer.units():
                    if on_progress is not None:
                        on_progress(importer.rows_read)
                    # Checked for every unit, so that a file of nothing but bad rows stops too.
                    if len(result.issues) >= max_issues:
                        result.issues.append(
                            ImportIssue(
                                path.name, None, None, None, f"stopped after {max_issues:,} issues"
                            )
                        )
                        break
                    if isinstance(unit, ImportIssue):
                        result.issues.append(unit)
                        continue
                    add_issues(unit.issues)
                    if unit.document is None:
                        continue
                    partial = None
                    try:
                        record: CaseRecord | None = CaseRecord.model_validate(unit.document)
                    except ValidationError as error:
                        partial = _partial_update(unit.document, error, fmt)
                        if partial is None:
                            add_issues(_validation_issues(importer, unit, error))
                            continue
                        record = None
                    slug, external_id = (
                        (record.organisation, record.external_id) if record is not None else partial
                    ) or ("", "")
                    key = fingerprint(slug, external_id)
                    first_row = seen_cases.setdefault(key, unit.first_row)
                    if first_row != unit.first_row:
                        if fmt in FLAT_FORMATS and not importer.regroup:
                            raise _ScatteredRowsError
                        result.issues.append(
                            importer.issue(
                                unit.first_row,
                                "tip_CaseId" if fmt != "jsonl" else "external_id",
                                None,
                                f"duplicate case ID: already used at row {first_row}",
                            )
                        )
                        continue
                    document = case_document(record) if record is not None else None
                    for participant, dumped in zip(
                        record.participants if record is not None else (),
                        document["participants"] if document is not None else (),
                        strict=True,
                    ):
                        person_key = fingerprint(slug, participant.person.external_id)
                        # 60 bits of the hash: enough to tell details apart, and fits int64.
                        digest = int(content_hash(dumped["person"])[:15], 16)
                        if seen_people.setdefault(person_key, digest) != digest:
                            result.issues.append(
                                importer.issue(
                                    unit.first_row,
                                    "tip_PersonId"
                                    if fmt != "jsonl"
                                    else "participants.person.external_id",
                                    None,
                                    "the same person ID appears earlier in this file with different details",
                                )
                            )
                    result.cases += 1
                    pending.append(_Pending(unit, record, slug, external_id, document))
                    if len(pending) >= batch_size:
                        flush()
                flush()
            except SourceError as error:
                result.issues.append(ImportIssue(path.name, error.row, None, None, error.reason))
            result.rows = importer.rows_read
            result.layout = importer.layouts[0].describe() if importer.layouts else None
            result.notes = importer.notes()
            if not result.issues and result.rows == 0:
                result.issues.append(
                    ImportIssue(path.name, None, None, None, "the file holds no rows to import")
                )
            if result.issues:
                transaction.rollback()
                return result
            counts = result.counts
            if not (
                counts.cases_created
                or counts.cases_updated
                or counts.people_created
                or counts.people_updated
            ):
                transaction.rollback()  # nothing changed: leave no trace, not even a batch row
                return result
            table = table_of(m.ImportBatch)
            connection.execute(
                update(table)
                .where(table.c.id == batch_id)
                .values(
                    source_sha256=importer.sha256(),
                    cases_created=counts.cases_created,
                    cases_updated=counts.cases_updated,
                    cases_unchanged=counts.cases_unchanged,
                )
            )
            result.batch_id = batch_id
            transaction.commit()
        except BaseException:
            if transaction.is_active:
                transaction.rollback()
            raise
        finally:
            if importer.hasher is not None:
                importer.hasher.release()
    refresh_statistics(engine, result.counts.cases_created + result.counts.cases_updated)
    return result


@dataclass
class _Pending:
    """A case read from the file, waiting for its batch; ``record`` is None for a JSON line
    that only updates a stored case (it leaves required sections out)."""

    unit: _Unit
    record: CaseRecord | None
    organisation: str
    external_id: str
    # The record's canonical document, made while reading (None when record is None).
    document: dict[str, Any] | None = None


def _partial_update(
    document: dict[str, Any] | None, error: ValidationError, fmt: str
) -> tuple[str, str] | None:
    """(organisation, external ID) when a JSON line lacks only whole top-level sections."""
    if fmt != "jsonl" or document is None:
        return None
    if not all(d["type"] == "missing" and len(d["loc"]) == 1 for d in error.errors()):
        return None
    organisation, external_id = document.get("organisation"), document.get("external_id")
    if isinstance(organisation, str) and isinstance(external_id, str):
        return organisation.strip(), external_id.strip()
    return None


def _with_stored_cases(
    connection: Connection,
    importer: _Importer,
    pending: list[_Pending],
    result: ImportResult,
) -> tuple[list[CaseRecord], list[dict[str, Any]]]:
    """The batch's records, each merged into the case already stored under its ID, and
    their canonical documents (made while reading for a record not merged since).

    A flat file carries only part of a case; a JSON line may leave sections out. What the
    file does not say is kept, unless the import replaces cases whole.
    """
    wanted: dict[str, list[str]] = {}
    for item in pending:
        wanted.setdefault(item.organisation, []).append(item.external_id)
    stored: dict[tuple[str, str], dict[str, Any]] = {}
    for slug, external_ids in wanted.items():
        for start in range(0, len(external_ids), 900):
            chunk = external_ids[start : start + 900]
            for document in iter_case_documents(connection, organisation=slug, external_ids=chunk):
                stored[(slug, document["external_id"])] = document
    records: list[CaseRecord] = []
    documents: list[dict[str, Any]] = []

    def keep(kept: CaseRecord, document: dict[str, Any] | None = None) -> None:
        records.append(kept)
        documents.append(document if document is not None else case_document(kept))

    for item in pending:
        unit, record = item.unit, item.record
        existing = stored.get((item.organisation, item.external_id))
        if existing is None or (result.replace and record is not None):
            if record is None:
                # Not stored: the line had to be a whole case after all.
                try:
                    keep(CaseRecord.model_validate(unit.document))
                except ValidationError as error:
                    result.issues.extend(_validation_issues(importer, unit, error))
                continue
            assert item.document is not None
            if existing is not None:
                removed = removed_by_replace(existing, item.document)
                if removed:
                    result.removals.append((record.external_id, removed))
            keep(record, item.document)
            continue
        if importer.format in FLAT_FORMATS:
            try:
                merged = merge_flat_case(existing, unit.rows, item.organisation)
            except MergeError as error:
                result.issues.append(
                    importer.issue(unit.first_row, "tip_PersonId", None, str(error))
                )
                continue
        else:
            assert unit.document is not None
            merged = {**existing, **unit.document}
        try:
            keep(CaseRecord.model_validate(merged))
        except ValidationError as error:
            result.issues.extend(_validation_issues(importer, unit, error))
    return records, documents
