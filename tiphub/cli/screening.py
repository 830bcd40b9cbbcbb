"""``tiphub screen``: list screening instruments, score answers, write and read back XLSForms.

Exit codes: 0 done; 2 bad input (an unknown instrument or language, an answers or
submissions file that cannot be read or scored, options that do not go together), with the
reason on standard error naming the file and the item, and nothing on standard output;
1 the XLSForm could not be written.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from tiphub.cli.progress import errors
from tiphub.cli.text import plural

if TYPE_CHECKING:
    from tiphub.screening.instruments import Instrument

console = Console(emoji=False, highlight=False)

# An answers file is a small JSON object; a bigger one is a mistake, not a screening.
MAX_ANSWERS_BYTES = 1 << 20
_LANGUAGE_OPTION = re.compile(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*")


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(key)


def _fail(message: str, code: int = 2) -> NoReturn:
    # soft_wrap: a message piped to a log stays on one line, whole and greppable.
    errors.print(f"Error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code=code)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _DuplicateKeyError(key)
        found[key] = value
    return found


def _read_answers_file(path: Path, chosen: Instrument) -> dict[str, bool]:
    """The answers file checked against the instrument, or exit 2 with a message naming the
    file and the item (never a value)."""
    from tiphub import files
    from tiphub.screening.instruments import AnswersError, parse_answers, quoted_item

    shown = str(path)
    try:
        with files.open_regular_file(path) as handle:
            data = handle.read(MAX_ANSWERS_BYTES + 1)
    except files.UnreadableFileError as error:
        _fail(f"{shown}: {error.reason}")
    except OSError as error:
        _fail(f"{shown}: cannot read the file ({error.strerror or type(error).__name__})")
    if len(data) > MAX_ANSWERS_BYTES:
        _fail(f"{shown}: larger than {MAX_ANSWERS_BYTES >> 10} KB; not an answers file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        _fail(f"{shown}: not UTF-8 text")
    try:
        raw = json.loads(text, object_pairs_hook=_no_duplicates)
    except _DuplicateKeyError as error:
        _fail(str(AnswersError(f"{quoted_item(error.key)} is given twice", source=shown)))
    except json.JSONDecodeError as error:
        # The decoder's message names what it expected, never the text it found.
        _fail(f"{shown}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})")
    except RecursionError:
        _fail(f"{shown}: not an answers file (JSON nested too deeply)")
    try:
        return parse_answers(chosen, raw, source=shown)
    except AnswersError as error:
        _fail(str(error))


def _language(language: str) -> str:
    from tiphub.screening.instruments import (
        DEFAULT_LANGUAGE,
        available_languages,
        resolved_language,
    )

    if not _LANGUAGE_OPTION.fullmatch(language):
        _fail("--language takes a language code such as en, fr or ro")
    resolved = resolved_language(language)
    if resolved == DEFAULT_LANGUAGE and re.split(r"[-_]", language.lower())[0] != "en":
        errors.print(
            f"No translations for {language}: texts are in English "
            f"(translations: {', '.join(available_languages()) or 'none'}).",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    return resolved


def _instrument(instrument_id: str) -> Instrument:
    from tiphub.screening.instruments import UnknownInstrumentError, instrument

    try:
        return instrument(instrument_id)
    except UnknownInstrumentError as error:
        _fail(str(error))


def screen_command(
    list_instruments: Annotated[
        bool,
        typer.Option(
            "--list", help="List the instruments (with --instrument, one instrument's items)."
        ),
    ] = False,
    instrument_id: Annotated[
        str | None,
        typer.Option("--instrument", help="Instrument id, e.g. ilo-ec-2009-adult-labour."),
    ] = None,
    answers: Annotated[
        Path | None,
        typer.Option(
            "--answers",
            help="Score this JSON file: an object of item id → true/false (an item left "
            "out was not asked).",
        ),
    ] = None,
    xlsform: Annotated[
        Path | None,
        typer.Option("--xlsform", help="Write the instrument as an XLSForm (.xlsx) for ODK/Kobo."),
    ] = None,
    submissions: Annotated[
        Path | None,
        typer.Option(
            "--submissions",
            help="Score every submission of an ODK Central / Kobo export (CSV or XLSX) of "
            "the instrument's XLSForm.",
        ),
    ] = None,
    rescore: Annotated[
        bool,
        typer.Option(
            "--rescore",
            help="Recompute every stored screening (of --instrument, or all) with the current "
            "rules and list those whose result changed.",
        ),
    ] = False,
    record: Annotated[
        str | None,
        typer.Option(
            "--record",
            help="With --answers: store the screening with this case, given as ORG/CASE_ID "
            "(a positive screen opens a task to consider a referral).",
        ),
    ] = None,
    person: Annotated[
        str | None,
        typer.Option("--person", help="With --record: external ID of the person screened."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    language: Annotated[
        str,
        typer.Option(
            "--language", help="Language of item texts (en, fr, ro; others fall back to English)."
        ),
    ] = "en",
) -> None:
    """Screening instruments: list them, score answers, write an XLSForm, score submissions.

    A screening result is never an identification decision: a positive screen prompts a
    trained person's judgement and a referral.
    """
    actions = [
        flag
        for flag, given in (
            ("--list", list_instruments),
            ("--answers", answers is not None),
            ("--xlsform", xlsform is not None),
            ("--submissions", submissions is not None),
            ("--rescore", rescore),
        )
        if given
    ]
    if len(actions) > 1:
        _fail(f"{' and '.join(actions)} do not go together; give one of them")
    text_language = _language(language)
    if actions == ["--rescore"]:
        _rescore(instrument_id, as_json)
        return
    if not actions or actions == ["--list"]:
        _list(instrument_id, as_json, text_language)
        return
    if instrument_id is None:
        _fail(f"{actions[0]} needs --instrument ID (see tiphub screen --list)")
    chosen = _instrument(instrument_id)
    if (record is None) != (person is None) or (record is not None and answers is None):
        _fail("--record ORG/CASE_ID and --person go together, with --answers")
    if answers is not None and record is not None and person is not None:
        _record_answers(chosen, answers, record, person, as_json)
    elif answers is not None:
        _score_answers(chosen, answers, as_json)
    elif xlsform is not None:
        _write_form(chosen, xlsform, text_language, as_json)
    elif submissions is not None:
        _score_submissions(chosen, submissions, as_json)


def _list(instrument_id: str | None, as_json: bool, language: str) -> None:
    from tiphub.screening.instruments import instruments

    chosen = [_instrument(instrument_id)] if instrument_id is not None else instruments()
    if as_json:
        print(json.dumps([item.to_dict(language) for item in chosen], indent=2, ensure_ascii=False))
        return
    if instrument_id is None:
        table = Table(title="Instruments", title_justify="left")
        table.add_column("id", no_wrap=True)
        table.add_column("version", no_wrap=True)
        table.add_column("items", justify="right")
        table.add_column("verified")
        table.add_column("population")
        for item in chosen:
            table.add_row(
                item.id,
                item.version,
                str(len(item.indicators)),
                "yes" if item.verified else "[yellow]no[/yellow]",
                _plain(item.population),
            )
        console.print(table)
        console.print("Items of one instrument: tiphub screen --list --instrument ID")
        return
    one = chosen[0]
    console.print(f"[bold]{_plain(one.name)}[/bold] — {one.id} {one.version}")
    console.print(f"Population: {one.population}", markup=False)
    console.print(f"Source: {one.source}", markup=False)
    if not one.verified:
        console.print("[yellow]Not every item is verified against the source.[/yellow]")
    table = Table()
    table.add_column("item", overflow="fold")
    table.add_column("grade")
    table.add_column("text")
    table.add_column("verified")
    for dimension in one.dimensions:
        table.add_section()
        table.add_row(f"[bold]{_plain(one.dimension_label(dimension.id, language))}[/bold]")
        for indicator in one.items_of(dimension.id):
            table.add_row(
                indicator.id,
                indicator.strength or "",
                _plain(one.indicator_text(indicator.id, language)),
                "yes" if indicator.verified else "[yellow]no[/yellow]",
            )
    console.print(table)


def _plain(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _score_answers(chosen: Instrument, path: Path, as_json: bool) -> None:
    from tiphub.screening.instruments import score

    result = score(chosen, _read_answers_file(path, chosen)).to_dict()
    if as_json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return
    _print_result(chosen, result)


def _rescore(instrument_id: str | None, as_json: bool) -> None:
    from tiphub.cases.access import local_operator
    from tiphub.cases.screenings import rescore
    from tiphub.cli.app import _engine

    if instrument_id is not None:
        _instrument(instrument_id)
    changed = rescore(_engine(), local_operator(), instrument_id)
    if as_json:
        print(
            json.dumps(
                [
                    {
                        "screening_id": str(item.screening_id),
                        "instrument": item.instrument_id,
                        "answered_with_version": item.stored_version,
                        "was_positive": item.was_positive,
                        "now_positive": item.now_positive,
                    }
                    for item in changed
                ],
                indent=2,
            )
        )
        return
    console.print(f"{plural(len(changed), 'screening')} changed result under the current rules.")
    for item in changed:
        before = "positive" if item.was_positive else "negative"
        after = "positive" if item.now_positive else "negative"
        console.print(f"  {item.screening_id} ({item.instrument_id}): {before} → {after}")


def _record_answers(
    chosen: Instrument, path: Path, record: str, person: str, as_json: bool
) -> None:
    from tiphub.cases.access import local_operator
    from tiphub.cases.api import CaseStore
    from tiphub.cases.screenings import record_screening
    from tiphub.cli.app import _engine

    organisation, _, case = record.partition("/")
    if not organisation or not case:
        _fail("--record takes ORG/CASE_ID, e.g. demo-labour/LAB-000123")
    answers = _read_answers_file(path, chosen)
    engine = _engine()
    principal = local_operator()
    case_id = CaseStore(engine, principal).case_id_of(organisation, case)
    if case_id is None:
        _fail(f"no case {case!r} at {organisation}")
    try:
        stored = record_screening(
            engine, principal, chosen.id, answers, case_id=case_id, person_external_id=person
        )
    except ValueError as error:
        _fail(str(error))
    if as_json:
        print(json.dumps({**stored.result, "screening_id": str(stored.id)}, indent=2))
        return
    _print_result(chosen, stored.result)
    console.print(f"Stored as screening {stored.id}.", markup=False)
    if stored.positive:
        console.print("A task to consider a referral to the national mechanism is open.")


def _print_result(chosen: Instrument, result: dict[str, Any]) -> None:
    verdict = "[bold red]POSITIVE[/bold red]" if result["positive"] else "[bold]negative[/bold]"
    console.print(f"{_plain(chosen.name)} ({chosen.id} {chosen.version}): screen {verdict}")
    table = Table("dimension", "", "present", "not asked")
    present = set(result["indicators_present"])
    not_asked = set(result["not_asked"])
    for dimension in chosen.dimensions:
        items = chosen.items_of(dimension.id)
        table.add_row(
            _plain(dimension.label),
            "[green]✓[/green]" if result["dimensions"][dimension.id] else "✗",
            str(sum(1 for item in items if item.id in present)),
            str(sum(1 for item in items if item.id in not_asked)),
        )
    console.print(table)
    console.print(result["explanation"], markup=False)


def _write_form(chosen: Instrument, path: Path, language: str, as_json: bool) -> None:
    from tiphub.screening.xlsform import form_id, write_xlsform

    try:
        write_xlsform(chosen, path, default_language=language)
    except OSError as error:
        _fail(f"cannot write {path}: {error.strerror or type(error).__name__}", code=1)
    if as_json:
        print(
            json.dumps(
                {
                    "xlsform": str(path),
                    "form_id": form_id(chosen),
                    "version": chosen.version,
                    "questions": len(chosen.indicators),
                }
            )
        )
        return
    console.print(
        f"Wrote the XLSForm {form_id(chosen)} version {chosen.version} "
        f"({plural(len(chosen.indicators), 'question')}) to {path}.",
        markup=False,
    )


def _score_submissions(chosen: Instrument, path: Path, as_json: bool) -> None:
    from tiphub.screening.instruments import score
    from tiphub.screening.xlsform import SubmissionError, read_submissions

    try:
        rows = read_submissions(chosen, path)
    except SubmissionError as error:
        _fail(str(error))
    results = [
        {
            "row": row.row,
            "submission_id": row.submission_id,
            "case_external_id": row.case_external_id,
            "person_external_id": row.person_external_id,
            **score(chosen, row.answers).to_dict(),
        }
        for row in rows
    ]
    if as_json:
        print(json.dumps(results, indent=2, ensure_ascii=False))
        return
    if not results:
        console.print(f"{path.name} holds no submission.", markup=False)
        return
    table = Table("row", "case", "person", "screen", "present", "not asked", "unverified used")
    for result in results:
        table.add_row(
            str(result["row"]),
            _plain(result["case_external_id"] or ""),
            _plain(result["person_external_id"] or ""),
            "[bold red]positive[/bold red]" if result["positive"] else "negative",
            str(len(result["indicators_present"])),
            str(len(result["not_asked"])),
            str(len(result["unverified_items_used"])),
        )
    console.print(table)
    positives = sum(1 for result in results if result["positive"])
    console.print(
        f"{positives:,} of {plural(len(results), 'submission')} "
        f"{'screens' if positives == 1 else 'screen'} positive: consider a referral for "
        "each; a screen is not an identification decision. --json gives every explanation.",
        markup=False,
    )
