"""The ``tiphub`` command: a thin shell over the package's domain functions."""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from tiphub.cli.lazy import LazyEntry, LazyGroup
from tiphub.cli.progress import progress_bar as _progress
from tiphub.cli.text import EMPTY_HINT, plural
from tiphub.store.config import database_url

if TYPE_CHECKING:
    from sqlalchemy import Engine

# Built only when named on the command line: see tiphub.cli.lazy. The help line is the one
# the listing shows (tests/test_cli_startup.py checks it against the command's own).
LAZY_COMMANDS = (
    LazyEntry(
        "estimate",
        "tiphub.cli.estimate:estimate_command",
        "Estimate the hidden population by Multiple Systems Estimation.",
    ),
    LazyEntry(
        "link",
        "tiphub.cli.linkage:link_command",
        "Link person records across lists; write one cluster ID per record.",
    ),
    LazyEntry(
        "serve",
        "tiphub.cli.hub:serve_command",
        "Serve the hub (web interface and REST API under /api/v1).",
    ),
    LazyEntry(
        "screen",
        "tiphub.cli.screening:screen_command",
        "Screening instruments: list them, score answers, write an XLSForm, score submissions.",
    ),
    LazyEntry(
        "cases",
        "tiphub.cli.cases:cases_app",
        "Find cases: list them, show one.",
        group=True,
    ),
    LazyEntry("linkage", "tiphub.cli.linkage:linkage_app", "Record linkage tools.", group=True),
    LazyEntry("users", "tiphub.cli.hub:users_app", "User accounts of the hub.", group=True),
    LazyEntry("org", "tiphub.cli.hub:org_app", "Organisations of the hub.", group=True),
    LazyEntry("audit", "tiphub.cli.hub:audit_app", "The hash-chained audit log.", group=True),
    LazyEntry(
        "roles", "tiphub.cli.hub:roles_app", "Roles: built-in and custom (as data).", group=True
    ),
    LazyEntry(
        "retention",
        "tiphub.cli.hub:retention_app",
        "Retention rules and erasure requests.",
        group=True,
    ),
    LazyEntry(
        "keys",
        "tiphub.cli.keys:keys_app",
        "Encryption keys of names, birth dates, identifiers and free text.",
        group=True,
    ),
    LazyEntry(
        "workflow",
        "tiphub.cli.workflow:workflow_app",
        "National referral mechanisms: refer, record decisions, watch deadlines.",
        group=True,
    ),
    LazyEntry(
        "tasks",
        "tiphub.cli.workflow:tasks_app",
        "Open tasks: referrals to consider, decisions due, follow-ups.",
        group=True,
    ),
    LazyEntry(
        "proceedings",
        "tiphub.cli.workflow:proceedings_app",
        "The criminal-justice track: proceedings, the victim's status and protection in them.",
        group=True,
    ),
    LazyEntry(
        "services",
        "tiphub.cli.services:services_app",
        "The service directory: find providers by need and distance, refer to them.",
        group=True,
    ),
    LazyEntry(
        "helpline",
        "tiphub.cli.services:helpline_app",
        "The anonymous helpline call log.",
        group=True,
    ),
    LazyEntry(
        "release",
        "tiphub.cli.release:release_app",
        "Share safely: k-anonymous or differentially private statistics and synthetic data.",
        group=True,
    ),
    LazyEntry(
        "online",
        "tiphub.cli.online:online_app",
        "Detect online: screen job ads for trafficking indicators, cluster templates, "
        "keep the evidence.",
        group=True,
    ),
)


class _TiphubGroup(LazyGroup):
    lazy = LAZY_COMMANDS


app = typer.Typer(
    help="tiphub — a counter-trafficking data hub on the HTCDS standard. "
    "Add --debug to any command to see the full traceback of an unexpected error.",
    no_args_is_help=True,
    add_completion=False,
    cls=_TiphubGroup,
    # Tracebacks with local variables would print survivors' names: never.
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")
console = Console()
errors = Console(stderr=True)

DEFAULT_DEMO_CASES = 2_000


def _quiet_alembic() -> None:
    logging.getLogger("alembic").setLevel(logging.WARNING)


def _audit(engine: Engine, action: str, **kwargs: Any) -> None:
    """The command line is audited like anyone else, as the named local operator."""
    from tiphub.cases import audit
    from tiphub.cases.access import local_operator

    audit.record_now(engine, local_operator(), action, **kwargs)


def _engine() -> Engine:
    """The configured database, migrated, with its keys checked (a new key file announced)."""
    from tiphub.store.db import default_engine, ensure_schema

    _quiet_alembic()
    engine = default_engine()
    status = ensure_schema(engine)
    if status.created:
        errors.print(
            f"Created the encryption key file {status.key_file} (mode 0600). Back it up apart "
            "from the database: without it nobody can read the names stored in tiphub.",
            highlight=False,
        )
    return engine


@app.command("import")
def import_command(
    path: Annotated[Path, typer.Argument(help="File to import.")],
    format: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="htcds-csv | htcds-xlsx | jsonl | xlsform (default: from the file name)",
        ),
    ] = None,
    organisation: Annotated[
        str | None,
        typer.Option("--organisation", help="Slug of the organisation the records belong to."),
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write every issue to this CSV (or .json) file.")
    ] = None,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Replace stored cases whole with the file's version, deleting what the file "
            "does not carry (perpetrators, notes, support plans… for flat files); the "
            "output and --report list what was removed. Without it, an import only updates.",
        ),
    ] = False,
) -> None:
    """Import a case file, all or nothing: any invalid row means nothing is written.

    A case already stored is updated with what the file says and keeps everything else.
    """
    from tiphub.exchange.importer import FORMATS, import_file

    if format is not None and format not in FORMATS:
        errors.print(f"Unknown format {format!r}; choose one of {', '.join(FORMATS)}.")
        raise typer.Exit(code=2)
    engine = _engine()
    if format in (None, "xlsform") and _is_screening_export(path, format):
        _import_screenings(engine, path, organisation)
        return

    def waiting() -> None:
        errors.print("Another import is writing to this database; waiting for it to finish…")

    with _progress(f"importing {path.name}") as progress:
        result = import_file(
            path,
            fmt=format,
            organisation=organisation,
            engine=engine,
            on_progress=lambda rows: progress.update(progress.task_ids[0], completed=rows),
            replace=replace,
            on_wait=waiting,
        )
    if report is not None:
        result.write_report(report)
    if not result.ok:
        errors.print(
            f"[red]Import refused: {plural(len(result.issues), 'problem')}; nothing was written.[/red]"
        )
        for note in result.notes:
            errors.print(f"  note: {note}", markup=False, highlight=False)
        for issue in result.issues[:50]:
            errors.print(f"  {issue}", markup=False, highlight=False)
        if len(result.issues) > 50:
            errors.print(
                f"  … and {len(result.issues) - 50} more"
                + (f" (see {report})" if report else " (use --report FILE)")
            )
        raise typer.Exit(code=1)
    counts = result.counts
    _audit(engine, "import.run", details=result.audit_details())
    console.print(
        f"Imported {plural(result.cases, 'case')} from {plural(result.rows, 'row')}: "
        f"{counts.cases_created:,} new, {counts.cases_updated:,} updated, {counts.cases_unchanged:,} unchanged."
    )
    for note in result.notes:
        console.print(f"  note: {note}", markup=False, highlight=False)
    removed = result.removed_totals()
    if removed:
        listed = ", ".join(f"{count:,} {section}" for section, count in removed.items())
        console.print(
            f"--replace removed from {plural(len(result.removals), 'case')}: {listed}"
            + (f" (per case in {report})" if report else "")
            + "."
        )


def _is_screening_export(path: Path, format: str | None) -> bool:
    """An export of an offline screening form: its header names the person screened. Cheap
    for case files (one header line is read), which stay with the case importer."""
    if not path.is_file() or path.suffix.lower() not in (".csv", ".xlsx"):
        return False
    if path.suffix.lower() == ".csv":
        with path.open("rb") as handle:
            header = handle.read(65_536).split(b"\n", 1)[0]
        if b"person_external_id" not in header:
            return False
    elif format != "xlsform":
        return False
    from tiphub.cases.screenings import submission_instrument

    return submission_instrument(path) is not None


def _import_screenings(engine: Engine, path: Path, organisation: str | None) -> None:
    """Answers of an offline screening form (``tiphub screen --xlsform``), all or nothing."""
    from tiphub.cases.access import local_operator
    from tiphub.cases.screenings import import_submissions

    if organisation is None:
        errors.print("A screening export needs --organisation: the cases it names are its own.")
        raise typer.Exit(code=2)
    try:
        imported = import_submissions(engine, local_operator(), path, organisation)
    except (ValueError, PermissionError) as error:
        errors.print(f"Import refused; nothing was written: {error}", markup=False, highlight=False)
        raise typer.Exit(code=1) from None
    console.print(
        f"Imported {plural(imported.records, 'screening')} with {imported.instrument_id}: "
        f"{imported.positive:,} positive (each opened a task to consider a referral)"
        + (
            f"; {plural(imported.already_stored, 'submission')} already stored, skipped."
            if imported.already_stored
            else "."
        )
    )


@app.command("export")
def export_command(
    format: Annotated[
        str, typer.Option("--format", help="htcds-csv | htcds-xlsx | jsonl | ctdc | ctdc-global")
    ],
    output: Annotated[Path, typer.Option("--output", help="File to write.")],
    organisation: Annotated[
        str | None, typer.Option("--organisation", help="Only this organisation's cases.")
    ] = None,
    without_identity: Annotated[
        bool,
        typer.Option(
            "--without-identity", help="Leave out names, birth dates, contacts and identifiers."
        ),
    ] = False,
    encrypt: Annotated[
        bool,
        typer.Option(
            "--encrypt",
            help="Seal the file with a passphrase (AES-256-GCM, scrypt); the passphrase comes "
            "from TIPHUB_EXPORT_PASSPHRASE or is asked for. `tiphub decrypt` opens it.",
        ),
    ] = False,
) -> None:
    """Export cases. CTDC formats carry no identifying fields."""
    from tiphub.exchange.exporter import export
    from tiphub.files import private_subdir

    passphrase = _export_passphrase() if encrypt else None
    engine = _engine()
    target = private_subdir("exports") / output.name if passphrase else output
    try:
        with _progress(f"exporting {format}") as progress:
            result = export(
                target,
                format,
                engine=engine,
                organisation=organisation,
                include_identity=not without_identity,
                on_progress=lambda cases: progress.update(progress.task_ids[0], completed=cases),
            )
        if passphrase:
            from tiphub.exchange.sealed_export import seal_file

            try:
                seal_file(target, output, passphrase)
            finally:
                target.unlink(missing_ok=True)
    except ValueError as error:
        errors.print(f"[red]{error}[/red]")
        raise typer.Exit(code=2) from None
    if not without_identity and not passphrase and format not in ("ctdc", "ctdc-global"):
        errors.print(
            f"{output} holds names and birth dates in plain text: keep it in a private "
            "place, delete it after use, or export with --encrypt.",
            highlight=False,
        )
    _audit(
        engine,
        "export.run",
        details={
            "format": format,
            "cases": result.cases,
            "identity": not without_identity,
            "encrypted": bool(passphrase),
        },
    )
    console.print(
        f"Exported {plural(result.cases, 'case')} as {plural(result.rows, f'{format} record')} "
        f"to {output}."
    )


def _export_passphrase() -> str:
    import getpass

    from tiphub.exchange.sealed_export import MIN_PASSPHRASE_LENGTH

    passphrase = os.environ.get("TIPHUB_EXPORT_PASSPHRASE")
    if not passphrase:
        passphrase = getpass.getpass("Passphrase for the export: ")
        if getpass.getpass("Again: ") != passphrase:
            errors.print("[red]The two passphrases differ.[/red]")
            raise typer.Exit(code=2)
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        errors.print(f"[red]A passphrase needs at least {MIN_PASSPHRASE_LENGTH} characters.[/red]")
        raise typer.Exit(code=2)
    return passphrase


@app.command("decrypt")
def decrypt_command(
    sealed: Annotated[Path, typer.Argument(help="A file written by `tiphub export --encrypt`.")],
    output: Annotated[Path, typer.Option("--output", help="Where to write the opened file.")],
) -> None:
    """Open an encrypted export (passphrase from TIPHUB_EXPORT_PASSPHRASE or asked for)."""
    import getpass

    from tiphub.exchange.sealed_export import SealedFileError, open_file

    passphrase = os.environ.get("TIPHUB_EXPORT_PASSPHRASE") or getpass.getpass("Passphrase: ")
    try:
        open_file(sealed, output, passphrase)
    except (SealedFileError, OSError) as error:
        errors.print(f"[red]Cannot open {sealed.name}: {error}[/red]", highlight=False)
        raise typer.Exit(code=1) from None
    console.print(f"Opened {sealed.name} into {output} (readable by you only).")


def load_demo_if_empty(engine: Engine, cases: int, seed: int) -> None:
    from sqlalchemy import func, select

    from tiphub.store import models as m

    with engine.connect() as connection:
        existing = connection.execute(
            select(func.count()).select_from(m.Case.__table__)
        ).scalar_one()
    if existing == 0:
        demo_command(cases=cases, seed=seed, truth=None)


@app.command("demo")
def demo_command(
    cases: Annotated[
        int, typer.Option("--cases", min=1, help="Number of case records to generate.")
    ] = DEFAULT_DEMO_CASES,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same seed, same data.")] = 1,
    truth: Annotated[
        Path | None,
        typer.Option("--truth", help="Write which records are the same person to this CSV."),
    ] = None,
) -> None:
    """Load synthetic demo cases (never real people) into the database."""
    from tiphub.demo.loader import load_demo

    engine = _engine()
    with _progress("generating demo cases", total=cases) as progress:
        loaded = load_demo(
            engine,
            cases,
            seed,
            truth,
            on_progress=lambda done: progress.update(progress.task_ids[0], completed=done),
        )
    console.print(
        f"Loaded {plural(loaded.cases, 'synthetic case')} across "
        f"{plural(loaded.organisations, 'organisation')}"
        + (f"; truth in {truth}" if truth else "")
        + "."
    )


@app.command("summary")
def summary_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Victims by exploitation type, sex, age band and top origin → destination pairs."""
    _print_summary(as_json)


def _bar_table(title: str, counts: dict[str, int], total: int) -> Table:
    table = Table(title=title, title_justify="left", show_edge=False)
    table.add_column(title.split(" by ")[-1].capitalize())
    table.add_column("Victims", justify="right")
    table.add_column("Share", justify="right")
    table.add_column("")
    largest = max(counts.values(), default=1)
    for key, count in counts.items():
        share = count / total if total else 0.0
        table.add_row(key, f"{count:,}", f"{share:.1%}", "█" * max(1, round(30 * count / largest)))
    return table


def _print_summary(as_json: bool) -> None:
    from tiphub.cases.summary import age_band_label, summarise
    from tiphub.standard.codelists import codelist, country_name

    engine = _engine()
    from tiphub.store.db import ensure_schema

    ensure_schema(engine)
    with engine.connect() as connection:
        summary = summarise(connection)
    data = summary.to_dict()
    if as_json:
        print(json.dumps(data, indent=2))
        return
    console.print(
        f"[bold]tiphub[/bold] — {plural(data['cases'], 'case')}, "
        f"{plural(data['victims'], 'victim or presumed victim', 'victims and presumed victims')}, "
        f"{plural(data['organisations'], 'organisation')}  ({_redacted_url()})"
    )
    if not data["cases"]:
        console.print(EMPTY_HINT, highlight=False)
        return
    labels = codelist("exploitation_type")
    exploitation = {
        labels.label(k) if k in labels else k: v for k, v in data["by_exploitation_type"].items()
    }
    console.print(_bar_table("Victims by exploitation type", exploitation, data["victims"]))
    console.print(_bar_table("Victims by sex", data["by_sex"], data["victims"]))
    ages = {age_band_label(band): count for band, count in data["by_age_band"].items()}
    console.print(_bar_table("Victims by age band", ages, data["victims"]))
    pairs = {
        f"{country_name(p['origin'])} → {country_name(p['destination'])}": p["victims"]
        for p in data["top_country_pairs"]
    }
    console.print(_bar_table("Top routes by origin → destination", pairs, data["victims"]))


def _redacted_url() -> str:
    url = database_url()
    if "@" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


@app.command("start")
def start_command(
    cases: Annotated[
        int, typer.Option("--cases", min=1, help="Demo cases to load into an empty database.")
    ] = DEFAULT_DEMO_CASES,
    seed: Annotated[int, typer.Option("--seed")] = 1,
    host: Annotated[
        str, typer.Option("--host", help="Loopback address to serve on.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the hub after the summary.")
    ] = True,
) -> None:
    """The main job: load the demo into an empty database, print the summary, then serve the
    hub (demo mode, loopback only) until Ctrl-C."""
    from tiphub.cli.hub import serve_hub

    load_demo_if_empty(_engine(), cases, seed)
    _print_summary(as_json=False)
    if serve:
        serve_hub(host, port, demo=True, cases=cases, seed=seed)


@app.command("codes")
def codes_command(
    name: Annotated[str | None, typer.Argument(help="A code list (omit to list them all).")] = None,
) -> None:
    """Show tiphub's code lists (HTCDS 2.0 picklists and extensions)."""
    from tiphub.standard.codelists import codelist, codelists, country_codes, country_name

    if name is None:
        table = Table("code list", "codes", "source")
        for list_name, code_list in sorted(codelists().items()):
            table.add_row(list_name, str(len(code_list.codes)), code_list.source)
        table.add_row("country", str(len(country_codes())), "ISO 3166-1 (pycountry)")
        console.print(table)
        return
    if name == "country":
        table = Table("code", "name")
        for code in country_codes():
            table.add_row(code, country_name(code))
        console.print(table)
        return
    if name not in codelists():
        errors.print(
            _unknown_code_list(name, [*sorted(codelists()), "country"]),
            markup=False,
            highlight=False,
        )
        raise typer.Exit(code=2)
    code_list = codelist(name)
    words: dict[str, list[str]] = {}
    for synonym, code in code_list.synonyms.items():
        words.setdefault(code, []).append(synonym)
    table = Table("code", "label", *(["also read (synonyms.csv)"] if words else []))
    for code in code_list.codes:
        table.add_row(
            code, code_list.label(code), *([", ".join(words.get(code, []))] if words else [])
        )
    console.print(table)


def _unknown_code_list(name: str, names: list[str]) -> str:
    """The refusal of a list name, with the lists it may have meant: close spellings first,
    then lists whose name holds the word given (``exploitation`` → ``exploitation_type``)."""
    import difflib

    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    word = name.strip().casefold()
    close += [known for known in names if word and word in known and known not in close]
    hint = f" Did you mean {' or '.join(repr(known) for known in close[:3])}?" if close else ""
    return f"unknown code list {name!r}.{hint} Valid code lists: {', '.join(names)}."


@app.command("schema")
def schema_command(
    output: Annotated[
        Path | None, typer.Option("--output", help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """Print the JSON Schema of tiphub's case exchange format."""
    from tiphub.cases.schema import case_json_schema

    text = json.dumps(case_json_schema(), indent=2, ensure_ascii=False)
    if output:
        output.write_text(text + "\n", encoding="utf-8")
    else:
        print(text)


@app.command("history")
def history_command(
    organisation: Annotated[str, typer.Argument(help="Organisation slug.")],
    case_id: Annotated[str, typer.Argument(help="The case's external ID.")],
) -> None:
    """Show every version of a case: who changed it, when, and which fields."""
    from tiphub.cases.api import CaseStore

    store = CaseStore(_engine())
    versions = store.history(organisation, case_id)
    if not versions:
        errors.print("No such case.")
        raise typer.Exit(code=1)
    table = Table("version", "operation", "by", "at", "changed")
    for version in versions:
        table.add_row(
            str(version.version),
            version.operation,
            version.changed_by,
            version.changed_at.isoformat(timespec="seconds"),
            ", ".join(version.changed_fields) or "—",
        )
    console.print(table)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from tiphub.store.db import upgrade

    upgrade(_engine(), revision)
    console.print(f"Database at {revision}.")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, e.g. base.")],
) -> None:
    """Revert migrations down to REVISION."""
    from tiphub.store.db import downgrade

    downgrade(_engine(), revision)
    console.print(f"Database at {revision}.")


def main() -> None:
    """Run the command line; anything unexpected ends in one short paragraph, not a traceback.

    ``--debug`` (anywhere on the line) shows the traceback instead.
    """
    # Everything this process writes (database, reports, exports, temporary files) is private.
    os.umask(0o077)
    debug = "--debug" in sys.argv[1:]
    if debug:
        sys.argv = [arg for arg in sys.argv if arg != "--debug"]
    try:
        app()
    except KeyboardInterrupt:
        errors.print("Interrupted; the current transaction was rolled back.")
        sys.exit(130)
    except Exception as error:
        if debug:
            traceback.print_exc()
        problem = _key_problem(error)
        if problem is not None:
            # A lost, wrong or damaged key file: the user can fix it, so say what is missing.
            errors.print(f"Error: {problem}", markup=False, highlight=False)
            sys.exit(2)
        if not debug:
            errors.print(unexpected_error_message(error), markup=False, highlight=False)
        sys.exit(1)


def _key_problem(error: BaseException) -> BaseException | None:
    """The ``crypto.KeyProblem`` behind an error (SQLAlchemy wraps one raised while binding)."""
    from tiphub.store.crypto import KeyProblem

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyProblem):
            return current
        seen.add(id(current))
        orig = getattr(current, "orig", None)
        current = (
            orig if isinstance(orig, BaseException) else current.__cause__ or current.__context__
        )
    return None


def unexpected_error_message(error: BaseException) -> str:
    """A plain paragraph about an error no command handled, quoting nothing from the data."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    from tiphub.errors import LocatedError

    if isinstance(error, LocatedError):
        return f"Error: {error}"
    if isinstance(error, MemoryError):
        return "Error: tiphub ran out of memory; nothing was half-written. Try a smaller file."
    if isinstance(error, OperationalError):
        text = str(error.orig) if error.orig is not None else ""
        if "locked" in text or "lock" in text.lower():
            return (
                "Error: another tiphub process is writing to the database; nothing was written. "
                "Try again when it has finished."
            )
        return (
            "Error: the database could not be used (it may be unreachable, full or read-only); "
            "nothing was half-written. Check TIPHUB_DATABASE_URL and the server, then try again."
        )
    if isinstance(error, DBAPIError):
        return (
            f"Error: the database refused a write ({type(error.orig).__name__}); "
            "nothing was half-written. Run again with --debug for details."
        )
    if isinstance(error, OSError):
        where = f" {Path(error.filename).name}" if error.filename else ""
        return f"Error: cannot use{where}: {error.strerror or type(error).__name__}."
    return (
        f"Error: tiphub stopped on an unexpected {type(error).__name__}; every write is one "
        "transaction, so nothing was half-written. Run the same command with --debug for "
        "the technical details and report them (they may contain data: share with care)."
    )
