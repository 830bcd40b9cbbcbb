"""Screening instruments as XLSForms for ODK and KoboToolbox, and their submissions read back.

The form has one ``select_one yes_no`` question per indicator, grouped by dimension, plus
``case_external_id`` and ``person_external_id`` text fields; its ``form_id`` is
``tiphub_screen_<instrument id>`` and its version the instrument's version, so a team can
screen offline and tiphub can score what comes back. No question is required: a question
left unanswered was not asked, which the score reports as such.

Question names are the indicator ids with ``.`` written ``__`` (``act__recruitment``): names
stay plain identifiers whatever tool reads the export. Exports name columns by group path
(ODK Central ``act-act__recruitment``, Kobo ``act/act__recruitment``); both are read, as are
the plain ids.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tiphub import files
from tiphub.delimited import SAMPLE_CHARS, detect_layout
from tiphub.errors import LocatedError
from tiphub.screening.instruments import (
    DEFAULT_LANGUAGE,
    Indicator,
    Instrument,
    available_languages,
)

__all__ = [
    "CASE_FIELD",
    "FORM_ID_PREFIX",
    "PERSON_FIELD",
    "Submission",
    "SubmissionError",
    "field_name",
    "form_id",
    "indicator_of_column",
    "read_submissions",
    "workbook_rows",
    "write_xlsform",
]

FORM_ID_PREFIX = "tiphub_screen_"
CASE_FIELD = "case_external_id"
PERSON_FIELD = "person_external_id"
CHOICE_LIST = "yes_no"
SUBMISSION_ID_COLUMNS = ("KEY", "meta-instanceID", "meta/instanceID", "instanceID", "_uuid")
# A screening export is a few hundred rows; anything far larger is not one.
MAX_SUBMISSION_BYTES = 64 << 20
YES = frozenset({"yes", "true", "1", "oui", "da"})
NO = frozenset({"no", "false", "0", "non", "nu"})

LANGUAGE_NAMES = {"en": "English", "fr": "French", "ro": "Romanian"}
# The form's own words; item texts come from the instrument and its catalogues.
UI_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "intro": "Screening with {name} (version {version}). Answer yes only for what the "
        "person said or you observed; leave a question unanswered if it was not asked. "
        "A screening result is not an identification decision.",
        "unverified": "Warning: some items or rules of this instrument have not been verified "
        "against the source publication.",
        "case": "Case ID (as your organisation records it)",
        "person": "Person ID (within the case)",
        "yes": "Yes",
        "no": "No",
        "grade": "Grade: {grade}",
    },
    "fr": {
        "intro": "Dépistage avec {name} (version {version}). Répondez oui uniquement pour ce "
        "que la personne a dit ou ce que vous avez observé ; laissez sans réponse une question "
        "qui n'a pas été posée. Un résultat de dépistage n'est pas une décision "
        "d'identification.",
        "unverified": "Attention : certains éléments ou règles de cet instrument n'ont pas été "
        "vérifiés par rapport à la publication source.",
        "case": "Identifiant du dossier (tel que votre organisation l'enregistre)",
        "person": "Identifiant de la personne (dans le dossier)",
        "yes": "Oui",
        "no": "Non",
        "grade": "Degré : {grade}",
    },
    "ro": {
        "intro": "Evaluare cu {name} (versiunea {version}). Răspundeți „da” doar pentru ce a "
        "spus persoana sau ce ați observat; lăsați fără răspuns o întrebare care nu a fost "
        "pusă. Un rezultat al evaluării nu este o decizie de identificare.",
        "unverified": "Atenție: unele elemente sau reguli ale acestui instrument nu au fost "
        "verificate față de publicația sursă.",
        "case": "ID-ul cazului (așa cum îl înregistrează organizația dumneavoastră)",
        "person": "ID-ul persoanei (în cadrul cazului)",
        "yes": "Da",
        "no": "Nu",
        "grade": "Grad: {grade}",
    },
}
GRADE_WORDS = {
    "fr": {"strong": "fort", "medium": "moyen", "weak": "faible"},
    "ro": {"strong": "puternic", "medium": "mediu", "weak": "slab"},
}


class SubmissionError(LocatedError):
    """A submissions export that cannot be scored: names the file, row and column."""


@dataclass(frozen=True)
class Submission:
    row: int  # line of the export, the header being row 1
    submission_id: str | None
    case_external_id: str | None
    person_external_id: str | None
    answers: dict[str, bool]


def form_id(instrument: Instrument) -> str:
    return f"{FORM_ID_PREFIX}{instrument.id}"


def field_name(indicator: Indicator) -> str:
    return indicator.id.replace(".", "__")


def _language_column(kind: str, language: str) -> str:
    return f"{kind}::{LANGUAGE_NAMES.get(language, language)} ({language})"


def _ui(language: str, key: str) -> str:
    return UI_TEXT.get(language, UI_TEXT[DEFAULT_LANGUAGE])[key]


def _languages(instrument: Instrument, languages: Sequence[str] | None) -> list[str]:
    wanted = [DEFAULT_LANGUAGE, *(instrument.translations() if languages is None else languages)]
    unknown = [
        lang for lang in wanted if lang != DEFAULT_LANGUAGE and lang not in available_languages()
    ]
    if unknown:
        raise ValueError(
            f"no translations for language {unknown[0]!r}; available: "
            f"{', '.join([DEFAULT_LANGUAGE, *available_languages()])}"
        )
    return list(dict.fromkeys(wanted))


def workbook_rows(
    instrument: Instrument,
    languages: Sequence[str] | None = None,
    default_language: str = DEFAULT_LANGUAGE,
) -> dict[str, list[list[str]]]:
    """The form's sheets (``survey``, ``choices``, ``settings``) as rows of text, header first.

    ``languages``: the translations to add beside English (default: every language whose
    catalogue translates this instrument); an item without a translation keeps its English
    text in that language's column, so no question is ever blank.
    """
    chosen = _languages(instrument, languages)
    labels = [_language_column("label", lang) for lang in chosen]
    hints = [_language_column("hint", lang) for lang in chosen]
    survey: list[list[str]] = [["type", "name", *labels, *hints, "required"]]
    blank_hints = [""] * len(hints)

    def row(kind: str, name: str, texts: list[str], hint_texts: list[str] | None = None) -> None:
        survey.append([kind, name, *texts, *(hint_texts or blank_hints), ""])

    row(
        "note",
        "screening_intro",
        [
            _ui(lang, "intro").format(name=instrument.name, version=instrument.version)
            for lang in chosen
        ],
    )
    if not instrument.verified or not instrument.rule.verified:
        row("note", "screening_unverified", [_ui(lang, "unverified") for lang in chosen])
    row("text", CASE_FIELD, [_ui(lang, "case") for lang in chosen])
    row("text", PERSON_FIELD, [_ui(lang, "person") for lang in chosen])
    for dimension in instrument.dimensions:
        row(
            "begin_group",
            dimension.id,
            [instrument.dimension_label(dimension.id, lang) for lang in chosen],
        )
        for item in instrument.items_of(dimension.id):
            grade_hints = (
                [
                    _ui(lang, "grade").format(
                        grade=GRADE_WORDS.get(lang, {}).get(item.strength, item.strength)
                    )
                    for lang in chosen
                ]
                if item.strength
                else None
            )
            row(
                f"select_one {CHOICE_LIST}",
                field_name(item),
                [instrument.indicator_text(item.id, lang) for lang in chosen],
                grade_hints,
            )
        survey.append(["end_group", dimension.id, *[""] * len(labels), *blank_hints, ""])
    choices = [
        ["list_name", "name", *labels],
        [CHOICE_LIST, "yes", *[_ui(lang, "yes") for lang in chosen]],
        [CHOICE_LIST, "no", *[_ui(lang, "no") for lang in chosen]],
    ]
    settings_header = ["form_title", "form_id", "version"]
    settings_row = [instrument.name, form_id(instrument), instrument.version]
    if len(chosen) > 1:
        default = default_language if default_language in chosen else DEFAULT_LANGUAGE
        settings_header.append("default_language")
        settings_row.append(f"{LANGUAGE_NAMES.get(default, default)} ({default})")
    return {"survey": survey, "choices": choices, "settings": [settings_header, settings_row]}


def write_xlsform(
    instrument: Instrument,
    path: Path,
    languages: Sequence[str] | None = None,
    default_language: str = DEFAULT_LANGUAGE,
) -> None:
    """Write the instrument's XLSForm to ``path`` (0600, like every file tiphub writes)."""
    from openpyxl import Workbook

    sheets = workbook_rows(instrument, languages, default_language)
    workbook = Workbook()
    first = True
    for title, rows in sheets.items():
        if first:
            sheet = workbook.active
            sheet.title = title
            first = False
        else:
            sheet = workbook.create_sheet(title)
        for values in rows:
            sheet.append(values)
        # Texts are data, never formulas, whatever they start with.
        for cells in sheet.iter_rows():
            for cell in cells:
                if isinstance(cell.value, str):
                    cell.data_type = "s"
    buffer = io.BytesIO()
    workbook.save(buffer)
    files.write_private_bytes(path, buffer.getvalue())


# -- reading submissions back ------------------------------------------------------------------


def indicator_of_column(instrument: Instrument, column: str) -> str | None:
    """The indicator id an export column answers, or None for any other column."""
    names: dict[str, str] = {}
    for item in instrument.indicators:
        names[field_name(item)] = item.id
        names[item.id] = item.id
    if column in names:
        return names[column]
    parts = [part for part in re.split(r"[/-]", column) if part]
    if parts and parts[-1] in names:
        return names[parts[-1]]
    # A group path ending in dimension and slug (``deceptive_recruitment/wages_earnings``).
    if len(parts) >= 2 and f"{parts[-2]}.{parts[-1]}" in names:
        return names[f"{parts[-2]}.{parts[-1]}"]
    return None


def _field(column: str) -> str:
    return re.split(r"[/-]", column)[-1]


def _csv_rows(path: Path) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    from tiphub.exchange.sources import detect_encoding

    name = path.name
    try:
        with files.open_regular_file(path) as handle:
            data = handle.read(MAX_SUBMISSION_BYTES + 1)
    except files.UnreadableFileError as error:
        raise SubmissionError(error.reason, source=name) from None
    except OSError as error:
        raise SubmissionError(
            f"cannot read the file ({error.strerror or type(error).__name__})", source=name
        ) from None
    if len(data) > MAX_SUBMISSION_BYTES:
        raise SubmissionError(
            f"larger than {MAX_SUBMISSION_BYTES >> 20} MB: not a screening export", source=name
        )
    encoding = detect_encoding(data[:4])
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise SubmissionError(
            "not UTF-8 text: export the submissions again as UTF-8 CSV", source=name, row=line
        ) from None
    text = text.removeprefix("\ufeff")
    first_line = text.split("\n", 1)[0]
    if not first_line.strip():
        raise SubmissionError("the file is empty or has no header row", source=name, row=1)
    # ODK Central writes commas; Kobo lets the user choose commas or semicolons.
    delimiter = detect_layout(text[:SAMPLE_CHARS]).separator
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = [cell.strip() for cell in next(reader)]
    except csv.Error:
        raise SubmissionError("the header row is not readable CSV", source=name, row=1) from None

    def rows() -> Iterator[tuple[int, list[str]]]:
        previous_end = reader.line_num
        try:
            for values in reader:
                number = previous_end + 1
                previous_end = reader.line_num
                if not any(cell.strip() for cell in values):
                    continue
                if len(values) != len(header):
                    raise SubmissionError(
                        f"{len(values)} cells where the header has {len(header)} columns",
                        source=name,
                        row=number,
                    )
                yield number, values
        except csv.Error:
            raise SubmissionError(
                "not readable CSV (a quote in the wrong place?)",
                source=name,
                row=reader.line_num,
            ) from None

    return header, rows()


def _xlsx_rows(path: Path) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    from tiphub.exchange.sources import SourceError, iter_xlsx

    try:
        headers, rows_after = iter_xlsx(path, header_rows=1)
    except SourceError as error:
        raise SubmissionError(error.reason, source=path.name, row=error.row) from None
    header = headers[0]

    def rows() -> Iterator[tuple[int, list[str]]]:
        try:
            for row in rows_after(header):
                # By name, so that positions stay those of the header.
                values = [
                    "" if row.values.get(column) is None else str(row.values.get(column))
                    for column in header
                ]
                if any(value.strip() for value in values):
                    yield row.number, values
        except SourceError as error:
            raise SubmissionError(error.reason, source=path.name, row=error.row) from None

    return header, rows()


def submission_header(path: Path) -> list[str]:
    """The header row of an export (CSV or XLSX); the data rows are not read, so a file cut
    short is still recognised, and refused later with the row that is cut."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        header, _ = _xlsx_rows(path)
    else:
        header, _ = _csv_rows(path)
    return header


def read_submissions(instrument: Instrument, path: Path) -> list[Submission]:
    """The answers of every submission in an ODK Central or KoboToolbox export of the
    instrument's form (CSV with comma or semicolon, or XLSX).

    ``yes``/``no`` (any case; also the form's French and Romanian labels and true/false,
    1/0) are answers; an empty cell was not asked. Raises :class:`SubmissionError` naming
    the file, row and column; cell values are never quoted.
    """
    from tiphub.exchange.sources import describe_column

    name = path.name
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        header, rows = _xlsx_rows(path)
    else:
        header, rows = _csv_rows(path)
    answer_columns: dict[int, str] = {}
    seen: dict[str, str] = {}
    special: dict[str, int] = {}
    for position, column in enumerate(header):
        if not column:
            continue
        item = indicator_of_column(instrument, column)
        # A column that answers an item is one of the form's names, safe to quote; any other
        # header is quoted only when it looks like a field name.
        shown = column if item is not None else describe_column(column, position + 1)
        if header.count(column) > 1:
            raise SubmissionError("this column appears twice", source=name, row=1, column=shown)
        if item is not None:
            if item in seen:
                raise SubmissionError(
                    f"answers item {item} like column '{seen[item]}'",
                    source=name,
                    row=1,
                    column=shown,
                )
            seen[item] = column
            answer_columns[position] = item
            continue
        field = _field(column)
        if field in (CASE_FIELD, PERSON_FIELD) and field not in special:
            special[field] = position
        elif column in SUBMISSION_ID_COLUMNS and "submission" not in special:
            special["submission"] = position
    if not answer_columns:
        raise SubmissionError(
            f"no column answers an item of instrument {instrument.id}; is this an export of "
            f"the form {form_id(instrument)}?",
            source=name,
            row=1,
        )

    def text_at(values: list[str], key: str) -> str | None:
        position = special.get(key)
        if position is None:
            return None
        return values[position].strip() or None

    submissions: list[Submission] = []
    for number, values in rows:
        answers: dict[str, bool] = {}
        for position, item in answer_columns.items():
            cell = values[position].strip().lower()
            if not cell:
                continue
            if cell in YES:
                answers[item] = True
            elif cell in NO:
                answers[item] = False
            else:
                raise SubmissionError(
                    "expected yes or no (or an empty cell when the question was not asked)",
                    source=name,
                    row=number,
                    column=header[position],
                )
        submissions.append(
            Submission(
                number,
                text_at(values, "submission"),
                text_at(values, CASE_FIELD),
                text_at(values, PERSON_FIELD),
                answers,
            )
        )
    return submissions
