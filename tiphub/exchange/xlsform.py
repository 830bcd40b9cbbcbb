"""Submissions exported from ODK Central or KoboToolbox for the HTCDS XLSForm.

The form names some fields differently from the standard (``prs_First_Name``,
``vic_Methods_of_Control``) and separates multi-select answers with spaces; KoboToolbox
may also split a multi-select into one 0/1 column per choice (``field/choice``). This
module turns each submission into an HTCDS flat row, which the HTCDS reader then checks.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tiphub.delimited import Layout
from tiphub.exchange import htcds
from tiphub.exchange.sources import HashingReader, Row, iter_csv, iter_xlsx

# Fields the form makes select_multiple: answers are space-separated choice names.
MULTI_SELECT = {
    "vic_MethodOfRecruitment",
    "vic_MethodsOfControl",
    "vic_TypeOfExploitation",
    "vic_TypeOfSexExploitation",
    "vic_ForcedLabourIndustry",
}
SUBMISSION_ID_COLUMNS = ("meta/instanceID", "meta-instanceID", "instanceID", "KEY", "_uuid")
METADATA_COLUMNS = {
    "start",
    "end",
    "today",
    "deviceid",
    "__version__",
    "_version_",
    "_id",
    "_uuid",
    "_submission_time",
    "_validation_status",
    "_notes",
    "_status",
    "_submitted_by",
    "_tags",
    "_index",
    "_attachments",
    "_geolocation",
    "_xform_id_string",
    "formhub/uuid",
    "meta/rootUuid",
    "meta/deprecatedID",
    "SubmissionDate",
    "SubmitterID",
    "SubmitterName",
    "AttachmentsPresent",
    "AttachmentsExpected",
    "Status",
    "ReviewState",
    "DeviceID",
    "Edits",
    "FormVersion",
    "KEY",
    "meta/instanceID",
    "meta-instanceID",
    "instanceID",
    "meta/instanceName",
}


def _field_name(column: str) -> str:
    """Strip group prefixes (``group/field`` in Kobo, ``group-field`` in ODK Central)."""
    name = column.rsplit("/", 1)[-1]
    if "-" in name:
        name = name.rsplit("-", 1)[-1]
    return htcds.HEADER_ALIASES.get(name, name)


def looks_like_submissions(header: list[str]) -> bool:
    """Whether a header is an ODK Central or KoboToolbox export rather than an HTCDS file."""
    if "tip_CaseId" in header:
        return False
    markers = set(SUBMISSION_ID_COLUMNS) | {"_submission_time", "SubmissionDate", "formhub/uuid"}
    return any(column in markers for column in header)


def submissions(
    path: Path, hasher: HashingReader | None = None, layout: list[Layout] | None = None
) -> tuple[list[str], Iterator[Row]]:
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        headers, rows_after = iter_xlsx(path, header_rows=1)
        raw_header = headers[0]
        raw_rows = rows_after(raw_header)
    else:
        raw_header, raw_rows = iter_csv(path, hasher, layout)
    id_column = next((c for c in SUBMISSION_ID_COLUMNS if c in raw_header), None)
    split_choices: dict[str, list[tuple[str, str]]] = {}
    renamed: dict[str, str] = {}
    for column in raw_header:
        if column in METADATA_COLUMNS or not column:
            continue
        head, _, choice = column.rpartition("/")
        if head and _field_name(head) in MULTI_SELECT:
            split_choices.setdefault(_field_name(head), []).append((column, choice))
            continue
        renamed[column] = _field_name(column)
    header = [*renamed.values(), *(f for f in split_choices if f not in renamed.values())]
    if id_column is not None:
        header += ["tip_CaseId", "tip_PersonId"]

    def rows() -> Iterator[Row]:
        for row in raw_rows:
            values: dict[str, Any] = {renamed[c]: v for c, v in row.values.items() if c in renamed}
            for field, columns in split_choices.items():
                if values.get(field):
                    continue
                chosen = [
                    choice
                    for column, choice in columns
                    if str(row.values.get(column, "")).strip() in ("1", "True", "TRUE", "true")
                ]
                values[field] = " ".join(chosen)
            for field in MULTI_SELECT:
                if values.get(field):
                    values[field] = "|".join(str(values[field]).split())
            reason = values.get("cas_ReasonForIncomingReferral")
            if reason:
                # The form asks for free text where the standard has a picklist.
                try:
                    htcds.COLUMNS["cas_ReasonForIncomingReferral"].parse(reason)
                except ValueError:
                    details = values.get("cas_IncomingReferralDetails") or ""
                    values["cas_ReasonForIncomingReferral"] = "Other"
                    values["cas_IncomingReferralDetails"] = f"{reason}\n{details}".strip()
            if id_column is not None:
                submission_id = str(row.values.get(id_column) or "").strip()
                if submission_id:
                    values["tip_CaseId"] = submission_id
                    values["tip_PersonId"] = submission_id
            yield Row(row.number, values)

    return header, rows()
