"""``tiphub workflow``: national referral mechanisms from the command line — refer, take a
step, see deadlines, send the overdue list; and ``tiphub tasks``."""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

workflow_app = typer.Typer(
    help="National referral mechanisms: refer, record decisions, watch deadlines.",
    no_args_is_help=True,
)
tasks_app = typer.Typer(help="Open tasks: referrals to consider, decisions due, follow-ups.")
console = Console()
errors = Console(stderr=True)


def _context() -> tuple[Any, Any]:
    from tiphub.cases.access import local_operator
    from tiphub.cli.app import _engine

    return _engine(), local_operator()


def _fail(message: str, code: int = 2) -> None:
    errors.print(f"[red]error:[/red] {message}", highlight=False, markup=True)
    raise typer.Exit(code=code)


def _case_id(engine: Any, principal: Any, organisation: str, case_id: str) -> uuid.UUID:
    from tiphub.cases.api import CaseStore

    found = CaseStore(engine, principal).case_id_of(organisation, case_id)
    if found is None:
        _fail(f"no case {case_id!r} at {organisation}")
    assert found is not None
    return found


def _print_item(item: Any, as_json: bool) -> None:
    if as_json:
        console.print_json(json.dumps(item.to_dict()))
        return
    due = f", due {item.due_on} ({item.deadline_label}, {item.status})" if item.due_on else ""
    console.print(
        f"{item.case_external_id} {item.reference}: {item.mechanism_name} – {item.stage_label}{due}",
        highlight=False,
    )
    if item.transitions:
        console.print("next steps: " + ", ".join(t for t, _ in item.transitions), highlight=False)


@workflow_app.command("list")
def list_workflows(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The mechanisms tiphub knows, with their stages and steps."""
    from tiphub.screening.workflow import workflows

    flows = workflows()
    if as_json:
        console.print_json(
            json.dumps(
                [
                    {
                        "id": flow.id,
                        "version": flow.version,
                        "name": flow.name,
                        "jurisdiction": flow.jurisdiction,
                        "calendar": flow.calendar,
                        "stages": list(flow.stages),
                        "transitions": list(flow.transitions),
                    }
                    for flow in flows
                ]
            )
        )
        return
    for flow in flows:
        table = Table(title=f"{flow.name} ({flow.id} {flow.version})")
        table.add_column("step")
        table.add_column("from")
        table.add_column("to")
        table.add_column("permission")
        for transition in flow.transitions.values():
            table.add_row(
                transition.id,
                ", ".join(transition.from_stages),
                transition.to,
                transition.permission,
            )
        console.print(table)


@workflow_app.command("refer")
def refer(
    organisation: Annotated[str, typer.Argument(help="The case's organisation.")],
    case: Annotated[str, typer.Argument(help="The case's ID at that organisation.")],
    mechanism: Annotated[str, typer.Option("--mechanism", help="uk-nrm, ro-nmir, generic…")],
    person: Annotated[str, typer.Option("--person", help="External ID of the person referred.")],
    on: Annotated[str | None, typer.Option("--on", help="Date of referral (YYYY-MM-DD).")] = None,
    presumed_child: Annotated[
        bool, typer.Option("--presumed-child", help="Reasonable grounds to believe a child.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Refer a person of a case to a national referral mechanism (consent needed for adults)."""
    from tiphub.cases.workflows import refer_to_mechanism
    from tiphub.screening.workflow import TransitionRefused

    engine, principal = _context()
    case_id = _case_id(engine, principal, organisation, case)
    fields: dict[str, Any] = {"presumed_child": presumed_child}
    if on:
        fields["on"] = on
    try:
        item = refer_to_mechanism(engine, principal, case_id, mechanism, person, fields)
    except (TransitionRefused, ValueError) as refused:
        _fail(str(refused))
        return
    _print_item(item, as_json)


@workflow_app.command("step")
def step(
    organisation: Annotated[str, typer.Argument(help="The case's organisation.")],
    case: Annotated[str, typer.Argument(help="The case's ID at that organisation.")],
    reference: Annotated[str, typer.Argument(help="The referral's reference.")],
    transition: Annotated[str, typer.Argument(help="The step to take, e.g. rg_positive.")],
    on: Annotated[str | None, typer.Option("--on", help="Date of the step (YYYY-MM-DD).")] = None,
    decided_by: Annotated[str | None, typer.Option("--decided-by")] = None,
    decided_on: Annotated[str | None, typer.Option("--decided-on")] = None,
    grounds: Annotated[str | None, typer.Option("--grounds")] = None,
    reason: Annotated[str | None, typer.Option("--reason")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Take a step: a decision, the end of a period, a reconsideration, a withdrawal."""
    from tiphub.cases.workflows import take_step
    from tiphub.screening.workflow import TransitionRefused

    engine, principal = _context()
    case_id = _case_id(engine, principal, organisation, case)
    given = {
        "on": on,
        "decided_by": decided_by,
        "decided_on": decided_on,
        "grounds": grounds,
        "reason": reason,
    }
    fields = {key: value for key, value in given.items() if value}
    try:
        item = take_step(engine, principal, case_id, reference, transition, fields)
    except (TransitionRefused, ValueError) as refused:
        _fail(str(refused))
        return
    _print_item(item, as_json)


@workflow_app.command("due")
def due(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    today: Annotated[str | None, typer.Option("--today", help="Count as of this date.")] = None,
    include_closed: Annotated[bool, typer.Option("--closed", help="Also closed ones.")] = False,
) -> None:
    """Every referral in a mechanism with its stage and deadline, overdue first."""
    from tiphub.cases.workflows import workflow_items

    engine, principal = _context()
    day = dt.date.fromisoformat(today) if today else None
    items = workflow_items(engine, principal, today=day, include_closed=include_closed)
    if as_json:
        console.print_json(json.dumps([item.to_dict() for item in items]))
        return
    if not items:
        console.print("No referral to a national mechanism is open.")
        return
    table = Table()
    for column in ("case", "reference", "mechanism", "stage", "since", "due", "status"):
        table.add_column(column)
    for item in items:
        table.add_row(
            f"{item.organisation}/{item.case_external_id}",
            item.reference,
            item.mechanism,
            item.stage,
            str(item.stage_entered_on or ""),
            str(item.due_on or ""),
            item.status,
        )
    console.print(table)


@workflow_app.command("statistics")
def statistics(
    year: Annotated[int | None, typer.Option("--year", help="Only this cohort year.")] = None,
    organisation: Annotated[
        str | None, typer.Option("--organisation", help="Only this organisation.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="Write the whole chain as CSV to this file.")
    ] = None,
) -> None:
    """The chain from screening to support: funnel, drop-out, time to each decision,
    overdue referrals and the law-enforcement (TIP report) table."""
    import csv

    from tiphub.cases.chain import CSV_COLUMNS, chain_statistics
    from tiphub.files import write_private_text

    engine, principal = _context()
    try:
        result = chain_statistics(engine, principal, year=year, organisation=organisation)
    except (LookupError, PermissionError) as error:
        _fail(str(error))
        return
    if csv_file is not None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(result.to_csv_rows())
        write_private_text(csv_file, buffer.getvalue())
    if as_json:
        console.print_json(json.dumps(result.to_dict()))
    else:
        console.print(result.summary(), highlight=False, markup=False)


@workflow_app.command("notify")
def notify(
    webhook: Annotated[str | None, typer.Option("--webhook", help="POST the list here.")] = None,
    email: Annotated[str | None, typer.Option("--email", help="E-mail the list here.")] = None,
    smtp: Annotated[str, typer.Option("--smtp", help="SMTP server HOST:PORT.")] = "localhost:25",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Send overdue deadlines and tasks (no names, case references only); run it daily."""
    from tiphub.cases.notify import send_overdue

    engine, principal = _context()
    try:
        report = send_overdue(engine, principal, webhook=webhook, email_to=email, smtp=smtp)
    except (OSError, ValueError) as error:
        _fail(f"could not send the overdue list: {error}", code=1)
        return
    if as_json:
        console.print_json(json.dumps(report.to_dict()))
    else:
        console.print(report.text(), highlight=False)


@tasks_app.callback(invoke_without_command=True)
def list_tasks(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Open tasks, the most urgent first."""
    from tiphub.cases.tasks import tasks

    engine, principal = _context()
    found = tasks(engine, principal)
    if as_json:
        console.print_json(json.dumps([task.to_dict() for task in found]))
        return
    if not found:
        console.print("No open task.")
        return
    for task in found:
        console.print(
            f"{task.due_on or '-'}  {task.organisation}/{task.case_external_id or '-'}  {task.title}",
            highlight=False,
        )


proceedings_app = typer.Typer(
    help="The criminal-justice track: proceedings, the victim's status and protection in them.",
    no_args_is_help=True,
)


@proceedings_app.command("record")
def record_proceeding_command(
    organisation: Annotated[str, typer.Argument(help="The case's organisation.")],
    case: Annotated[str, typer.Argument(help="The case's ID at that organisation.")],
    number: Annotated[
        int | None,
        typer.Option("--number", min=1, help="Change proceeding N of the case (default: add one)."),
    ] = None,
    stage: Annotated[
        str | None, typer.Option("--stage", help="Investigation, Prosecution…")
    ] = None,
    outcome: Annotated[str | None, typer.Option("--outcome", help="Pending, Convicted…")] = None,
    victim_status: Annotated[
        str | None, typer.Option("--victim-status", help="Witness, InjuredParty…")
    ] = None,
    protection: Annotated[
        list[str] | None, typer.Option("--protection", help="A protection measure (repeat).")
    ] = None,
    next_hearing: Annotated[
        str | None, typer.Option("--next-hearing", help="Date of the next hearing (YYYY-MM-DD).")
    ] = None,
    released: Annotated[
        str | None, typer.Option("--released", help="Date the perpetrator was released.")
    ] = None,
    compensation_claimed: Annotated[
        bool | None, typer.Option("--compensation-claimed/--no-compensation-claim")
    ] = None,
) -> None:
    """Add or change a criminal proceeding; a new hearing date or a release opens a task for
    the team working the case, so the victim is told in time."""
    from pydantic import ValidationError

    from tiphub.cases.proceedings import record_proceeding

    engine, principal = _context()
    case_id = _case_id(engine, principal, organisation, case)
    given: dict[str, Any] = {
        "stage": stage,
        "outcome": outcome,
        "victim_status": victim_status,
        "protection_measures": protection or None,
        "next_hearing_on": next_hearing,
        "perpetrator_released_on": released,
        "compensation_claimed": compensation_claimed,
    }
    changes = {key: value for key, value in given.items() if value is not None}
    if number is None and "stage" not in changes:
        _fail("a new proceeding needs --stage")
    try:
        record_proceeding(
            engine, principal, case_id, changes, position=None if number is None else number - 1
        )
    except ValidationError as error:
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in error.errors()})
        _fail(
            f"invalid proceeding {'field' if len(fields) == 1 else 'fields'}: {', '.join(fields)}"
        )
    except ValueError as error:
        _fail(str(error))
    console.print("Recorded.", highlight=False)
