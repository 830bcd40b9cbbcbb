"""``tiphub cases list | show``: find a case and read it, without the identity of its people.

Neither command prints names, birth dates, contacts or identifiers, with or without
``--json``: what they show is what ``tiphub export --without-identity`` writes. Whoever needs
a person's identity exports it (``tiphub export``, which warns and can encrypt). Both reads
are audited (``case.list``, ``case.read``) under the local operator's name.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from tiphub.cli.text import EMPTY_HINT, plural

if TYPE_CHECKING:
    from sqlalchemy import Engine

# No markup: case IDs and organisation names are data, and a "[" in one is not a style.
console = Console(emoji=False, highlight=False)
errors = Console(stderr=True, emoji=False, highlight=False)

cases_app = typer.Typer(help="Find cases: list them, show one.", no_args_is_help=True)

DEFAULT_LIMIT = 50
AsJson = Annotated[
    bool, typer.Option("--json", help="Print JSON (without names or other identity fields).")
]


def _engine() -> Engine:
    from tiphub.cli.app import _engine as engine

    return engine()


@cases_app.command("list")
def list_command(
    organisation: Annotated[
        str | None, typer.Option("--organisation", help="Only this organisation's cases (slug).")
    ] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="Only cases with this case_status code.")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=10_000, help="Show at most this many cases.")
    ] = DEFAULT_LIMIT,
    as_json: AsJson = False,
) -> None:
    """Cases, last updated first: organisation, case ID, status, people and dates."""
    from tiphub.cases.access import local_operator
    from tiphub.cases.listing import list_cases

    listing = list_cases(_engine(), local_operator(), organisation, status, limit)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "total": listing.total,
                    "cases": [
                        {
                            "organisation": row.organisation,
                            "external_id": row.external_id,
                            "status": row.status,
                            "opened_on": row.opened_on.isoformat() if row.opened_on else None,
                            "victims": row.victims,
                            "people": row.people,
                            "updated_at": row.updated_at.isoformat(timespec="seconds"),
                        }
                        for row in listing.rows
                    ],
                },
                indent=2,
                ensure_ascii=False,
            )
        )
        return
    if listing.total == 0:
        # Unfiltered, the operator's scope is every case: none at all means an empty store.
        if organisation is None and status is None:
            console.print(EMPTY_HINT)
        else:
            console.print("No case matches; `tiphub org list` names the organisations.")
        return
    # Folded, never cut short with "…": the point of the list is to read the IDs off it.
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for header in ("organisation", "case ID", "status", "opened on"):
        table.add_column(header, overflow="fold")
    table.add_column("victims", justify="right")
    table.add_column("people", justify="right")
    table.add_column("last updated", overflow="fold")
    for row in listing.rows:
        table.add_row(
            row.organisation,
            row.external_id,
            row.status or "—",
            row.opened_on.isoformat() if row.opened_on else "—",
            f"{row.victims:,}",
            f"{row.people:,}",
            row.updated_at.date().isoformat(),
        )
    console.print(table)
    shown = f"{plural(len(listing.rows), 'case')} of {listing.total:,}"
    if listing.more:
        console.print(
            f"{shown}; {plural(listing.more, 'more case')} not shown (--limit, --organisation "
            "or --status to see them)."
        )
    else:
        console.print(f"{shown}.")


@cases_app.command("show")
def show_command(
    organisation: Annotated[str, typer.Argument(help="Organisation slug.")],
    case_id: Annotated[str, typer.Argument(help="The case's external ID.")],
    as_json: AsJson = False,
) -> None:
    """One case: status, people (role, gender, age band, citizenship), events, referrals…

    Names, birth dates, contacts and identifiers are left out, also with --json (the case as
    `tiphub export --without-identity` writes it).
    """
    from tiphub.cases.access import local_operator
    from tiphub.cases.listing import case_without_identity

    document = case_without_identity(_engine(), local_operator(), organisation, case_id)
    if document is None:
        errors.print("No such case.")
        raise typer.Exit(code=1)
    if as_json:
        typer.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    _print_case(document)


def _print_case(document: dict[str, Any]) -> None:
    from tiphub.cases.summary import age_band_label
    from tiphub.exchange.ctdc import age_band
    from tiphub.standard.codelists import codelist, country_name

    def label(list_name: str, code: str | None) -> str:
        if not code:
            return "—"
        codes = codelist(list_name)
        return codes.label(code) if code in codes else code

    def countries(codes: list[str]) -> str:
        return ", ".join(country_name(code) for code in codes) or "—"

    console.print(
        f"Case {document['external_id']} at {document['organisation']}",
        style="bold",
    )
    facts = Table.grid(padding=(0, 2))
    facts.add_row("status", label("case_status", document.get("status")))
    facts.add_row("opened on", document.get("opened_on") or "—")
    console.print(facts)

    people = Table(
        "person", "role", "gender", "age band", "citizenship", "exploitation", title="People"
    )
    for participant in document["participants"]:
        person = participant["person"]
        victim = participant.get("victim") or {}
        perpetrator = participant.get("perpetrator") or {}
        band = perpetrator.get("age_band") or age_band(victim.get("age_when_trafficked"))
        people.add_row(
            person["external_id"],
            label("participant_role", participant["role"]),
            label("gender", person.get("gender")),
            age_band_label(band) if band else "—",
            countries(person.get("citizenship") or perpetrator.get("nationality") or []),
            ", ".join(label("exploitation_type", t) for t in victim.get("exploitation_types", []))
            or "—",
        )
    console.print(_folded(people))

    if document.get("events"):
        events = Table("event", "person", "country", "from", "to", title="Events")
        for event in document["events"]:
            events.add_row(
                label("event_type", event["type"]),
                event.get("person_external_id") or "—",
                country_name(event["country"]) if event.get("country") else "—",
                event.get("started_on") or "—",
                event.get("ended_on") or "—",
            )
        console.print(_folded(events))

    if document.get("referrals"):
        referrals = Table(
            "direction", "from", "to", "referred on", "services", "status", title="Referrals"
        )
        for referral in document["referrals"]:
            referrals.add_row(
                label("referral_direction", referral["direction"]),
                referral.get("from_organisation") or "—",
                referral.get("to_organisation") or referral.get("provider") or "—",
                referral.get("referred_on") or "—",
                ", ".join(label("service_type", s) for s in referral.get("services", [])) or "—",
                label("referral_status", referral.get("status")),
            )
        console.print(_folded(referrals))

    # Free text (notes, grounds, plans) may name people: counted here, read in the hub.
    counted = [
        plural(len(document[key]), word)
        for key, word in (
            ("consents", "consent"),
            ("support_plans", "support plan"),
            ("notes", "note"),
            ("identification_decisions", "identification decision"),
            ("criminal_proceedings", "criminal proceeding"),
        )
        if document.get(key)
    ]
    if counted:
        console.print("Also: " + ", ".join(counted) + ".")


def _folded(table: Table) -> Table:
    # Long IDs and names wrap onto a second line instead of ending in "…".
    for column in table.columns:
        column.overflow = "fold"
    return table
