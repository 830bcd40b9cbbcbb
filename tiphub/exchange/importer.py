"""All-or-nothing import of case files.

Every row is checked and every problem is collected (file, row, column, value, reason);
rows are written batch by batch inside one transaction, which is committed only when the
whole file was clean. Memory stays flat: rows stream from the file, and only 64-bit
fingerprints of the IDs already seen are kept.
"""

from __future__ import annotations

import csv
import hashlib
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine, update

from tiphub.cases.canonical import IDENTITY_FIELDS, content_hash, person_document
from tiphub.cases.persistence import CaseWriter, WriteCounts, table_of
from tiphub.cases.schema import CaseRecord
from tiphub.exchange import htcds, xlsform
from tiphub.exchange.sources import MAX_FIELD_CHARS, Row, SourceError, iter_csv, iter_xlsx
from tiphub.exchange.spreadsheet import restore
from tiphub.standard.codelists import htcds_fields
from tiphub.store import models as m
from tiphub.store.db import default_engine, ensure_schema
from tiphub.store.models import utcnow

FORMATS = ("htcds-csv", "htcds-xlsx", "jsonl", "xlsform")
REDACTED = "<redacted>"


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
        shown = f" (value {self.value!r})" if self.value not in (None, "") else ""
        return f"{where}: {self.reason}{shown}"


@dataclass
class ImportResult:
    path: Path
    format: str
    rows: int = 0
    cases: int = 0
    counts: WriteCounts = field(default_factory=WriteCounts)
    issues: list[ImportIssue] = field(default_factory=list)
    batch_id: uuid.UUID | None = None

    @property
    def ok(self) -> bool:
        return not self.issues

    def write_report(self, path: Path) -> None:
        """The issues as CSV (or JSON when the name ends in .json)."""
        keys = ("file", "row", "column", "value", "reason")
        if path.suffix.lower() == ".json":
            payload = {
                "file": str(self.path),
                "format": self.format,
                "ok": self.ok,
                "rows": self.rows,
                "cases": self.cases,
                "counts": vars(self.counts),
                "issues": [{key: getattr(issue, key) for key in keys} for issue in self.issues],
            }
            path.write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")
            return
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(keys)
            for issue in self.issues:
                writer.writerow([getattr(issue, key) for key in keys])


def guess_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix in (".xlsx", ".xlsm"):
        return "htcds-xlsx"
    return "htcds-csv"


def _fingerprint(*parts: str) -> int:
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest)


@dataclass
class _Unit:
    """One case as read from the file: its document, or the reason it could not be built."""

    first_row: int
    document: dict[str, Any] | None
    issues: list[ImportIssue]
    person_rows: list[int] = field(default_factory=list)


class _Importer:
    def __init__(self, path: Path, fmt: str, organisation: str | None) -> None:
        self.path = path
        self.name = path.name
        self.format = fmt
        self.organisation = organisation
        self.rows_read = 0

    def issue(
        self, row: int | None, column: str | None, value: Any, reason: str, identity: bool = False
    ) -> ImportIssue:
        shown = (
            None if value is None else (REDACTED if identity and str(value) else str(value)[:200])
        )
        return ImportIssue(self.name, row, column, shown, reason)

    # -- tabular (HTCDS CSV/XLSX, XLSForm submissions) ------------------------------------------
    def tabular_units(
        self,
        header: list[str],
        rows: Iterator[Row],
        separator_fix: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> Iterator[_Unit | ImportIssue]:
        known = [name for name in header if name in htcds.COLUMNS]
        unknown = [name for name in header if name and name not in htcds.COLUMNS]
        for name in unknown:
            yield self.issue(
                1,
                name,
                None,
                "unknown column; expected an HTCDS field name (e.g. prs_Gender) or a tiphub tip_ column",
            )
        duplicates = {name for name in known if known.count(name) > 1}
        for name in sorted(duplicates):
            yield self.issue(1, name, None, "column appears more than once")
        has_case_id = "tip_CaseId" in known
        group: list[tuple[int, dict[str, Any]]] = []
        group_key: str | None = None
        for row in rows:
            self.rows_read += 1
            values = {name: value for name, value in row.values.items() if name in htcds.COLUMNS}
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
            group.append((row.number, parsed))
        if group:
            yield self.build_unit(group)

    def parse_row(
        self, number: int, values: dict[str, Any]
    ) -> tuple[dict[str, Any], list[ImportIssue]]:
        parsed: dict[str, Any] = {}
        issues: list[ImportIssue] = []
        for name, value in values.items():
            column = htcds.COLUMNS[name]
            if isinstance(value, str) and len(value) > MAX_FIELD_CHARS:
                issues.append(
                    self.issue(
                        number,
                        name,
                        f"{len(value)} characters",
                        f"cell is longer than {MAX_FIELD_CHARS} characters",
                    )
                )
                continue
            try:
                parsed[name] = column.parse(value)
            except ValueError as error:
                issues.append(self.issue(number, name, value, str(error), identity=column.identity))
        return parsed, issues

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
                            identity=htcds.COLUMNS[name].identity,
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
                    f"differs from --organisation {self.organisation}",
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
                    issues.append(self.issue(number, column, None, f"missing core field: {what}"))
                    parsed["_broken"] = True
        for index, (number, parsed) in enumerate(group):
            if not parsed.get("tip_PersonId"):
                parsed["tip_PersonId"] = f"{parsed['tip_CaseId']}-p{index + 1}"
            person_rows.append(number)
        if any(parsed.get("_broken") for _, parsed in group):
            # The row's own problems are reported already; a half-parsed case would only add noise.
            return _Unit(first_row, None, issues, person_rows)
        document = htcds.build_case(first, [parsed for _, parsed in group], organisation)
        return _Unit(first_row, document, issues, person_rows)

    # -- JSON Lines ------------------------------------------------------------------------------
    def jsonl_units(self) -> Iterator[_Unit | ImportIssue]:
        with self.path.open("rb") as raw:
            head = raw.read(4)
        if not head:
            raise SourceError(self.path, "the file is empty")
        encoding = "utf-16" if head[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
        with self.path.open(encoding=encoding, errors="strict") as handle:
            number = 0
            while True:
                try:
                    line = handle.readline()
                except UnicodeDecodeError as error:
                    raise SourceError(
                        self.path,
                        f"the file is not valid UTF-8 or UTF-16 text ({error.reason} at line {number + 1})",
                        row=number + 1,
                    ) from None
                if not line:
                    break
                number += 1
                if not line.strip():
                    continue
                self.rows_read += 1
                try:
                    document = json.loads(line)
                except json.JSONDecodeError as error:
                    yield self.issue(
                        number, None, None, f"not valid JSON ({error.msg} at character {error.pos})"
                    )
                    continue
                if not isinstance(document, dict):
                    yield self.issue(
                        number, None, None, "each line must be one JSON object (a case)"
                    )
                    continue
                if self.organisation and "organisation" not in document:
                    document["organisation"] = self.organisation
                yield _Unit(number, document, [])

    def units(self) -> Iterator[_Unit | ImportIssue]:
        if self.format == "jsonl":
            yield from self.jsonl_units()
        elif self.format == "htcds-csv":
            header, rows = iter_csv(self.path)
            yield from self.tabular_units(
                [htcds.HEADER_ALIASES.get(n, n) for n in header], _renamed(rows)
            )
        elif self.format == "htcds-xlsx":
            header, rows = _htcds_xlsx(self.path)
            yield from self.tabular_units(header, rows)
        elif self.format == "xlsform":
            header, rows = xlsform.submissions(self.path)
            yield from self.tabular_units(header, rows)
        else:
            raise ValueError(
                f"unknown import format {self.format!r}; choose one of {', '.join(FORMATS)}"
            )


CORE_COLUMNS = {
    "prs_Gender": "gender (use NonSpecifiedUnknown when it is not known)",
    "vic_TraffickingStatus": "trafficking status",
}


def _renamed(rows: Iterator[Row]) -> Iterator[Row]:
    """Standard header spellings, and cells as they were before export neutralised them."""
    for row in rows:
        yield Row(
            row.number,
            {htcds.HEADER_ALIASES.get(k, k): restore(v) for k, v in row.values.items()},
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
        column = ".".join(str(part) for part in location) or None
        value = detail.get("input")
        identity = any(str(part) in IDENTITY_KEYS for part in location)
        shown = value if isinstance(value, str | int | float) else None
        message = detail["msg"].removeprefix("Value error, ")
        issues.append(importer.issue(row, column, shown, message, identity=identity))
    return issues


# Report values under these keys are masked: they can identify a person.
IDENTITY_KEYS = {
    *IDENTITY_FIELDS,
    "value",
    "case_owner",
    "referring_case_worker",
    "referred_case_worker",
}


def import_file(
    path: Path,
    fmt: str | None = None,
    organisation: str | None = None,
    engine: Engine | None = None,
    actor: str = "tiphub-import",
    batch_size: int = 1000,
    on_progress: Callable[[int], None] | None = None,
    max_issues: int = 10_000,
) -> ImportResult:
    """Import one file; on any problem nothing is written and the result lists every issue."""
    path = Path(path)
    fmt = fmt or guess_format(path)
    if fmt not in FORMATS:
        raise ValueError(f"unknown import format {fmt!r}; choose one of {', '.join(FORMATS)}")
    engine = engine or default_engine()
    ensure_schema(engine)
    result = ImportResult(path=path, format=fmt)
    if not path.exists():
        result.issues.append(ImportIssue(path.name, None, None, None, "file not found"))
        return result
    importer = _Importer(path, fmt, organisation)
    seen_cases: dict[int, int] = {}
    seen_people: dict[int, int] = {}
    batch: list[CaseRecord] = []
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)

    with engine.connect() as connection:
        transaction = connection.begin()
        batch_id = m.new_id()
        connection.execute(
            table_of(m.ImportBatch).insert(),
            {
                "id": batch_id,
                "source_name": path.name,
                "source_sha256": sha.hexdigest(),
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
            if batch and not result.issues:
                result.counts.add(writer.write(batch))
            batch.clear()

        try:
            for unit in importer.units():
                if on_progress is not None:
                    on_progress(importer.rows_read)
                # Checked for every unit, so that a file of nothing but bad rows stops too.
                if len(result.issues) >= max_issues:
                    result.issues.append(
                        ImportIssue(
                            path.name, None, None, None, f"stopped after {max_issues} issues"
                        )
                    )
                    break
                if isinstance(unit, ImportIssue):
                    result.issues.append(unit)
                    continue
                result.issues.extend(unit.issues)
                if unit.document is None:
                    continue
                try:
                    record = CaseRecord.model_validate(unit.document)
                except ValidationError as error:
                    result.issues.extend(_validation_issues(importer, unit, error))
                    continue
                key = _fingerprint(record.organisation, record.external_id)
                if key in seen_cases:
                    result.issues.append(
                        importer.issue(
                            unit.first_row,
                            "tip_CaseId" if fmt != "jsonl" else "external_id",
                            record.external_id,
                            f"duplicate case ID: already used at row {seen_cases[key]}",
                        )
                    )
                    continue
                seen_cases[key] = unit.first_row
                for participant in record.participants:
                    person_key = _fingerprint(record.organisation, participant.person.external_id)
                    digest = int(content_hash(person_document(participant.person))[:16], 16)
                    if seen_people.setdefault(person_key, digest) != digest:
                        result.issues.append(
                            importer.issue(
                                unit.first_row,
                                "tip_PersonId"
                                if fmt != "jsonl"
                                else "participants.person.external_id",
                                participant.person.external_id,
                                "the same person ID appears earlier in this file with different details",
                            )
                        )
                result.cases += 1
                batch.append(record)
                if len(batch) >= batch_size:
                    flush()
            flush()
        except SourceError as error:
            result.issues.append(ImportIssue(path.name, error.row, None, None, error.reason))
        except BaseException:
            transaction.rollback()
            raise
        result.rows = importer.rows_read
        if not result.issues and result.rows == 0:
            result.issues.append(
                ImportIssue(path.name, None, None, None, "the file holds no rows to import")
            )
        if result.issues:
            transaction.rollback()
            return result
        counts = result.counts
        if (
            counts.cases_created
            or counts.cases_updated
            or counts.people_created
            or counts.people_updated
        ):
            table = table_of(m.ImportBatch)
            connection.execute(
                update(table)
                .where(table.c.id == batch_id)
                .values(
                    cases_created=counts.cases_created,
                    cases_updated=counts.cases_updated,
                    cases_unchanged=counts.cases_unchanged,
                )
            )
            result.batch_id = batch_id
            transaction.commit()
        else:
            transaction.rollback()  # nothing changed: leave no trace, not even a batch row
    return result
