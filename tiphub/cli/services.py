"""Commands of the service directory (``tiphub services``) and the helpline log
(``tiphub helpline``).

They act as the named local operator (``operator:<login name>``, or ``--as``) and are
audited like anyone else. Bad input prints a message on standard error and exits with 2;
messages name fields and codes, never a person.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from tiphub.cases.access import Principal

console = Console()
errors = Console(stderr=True)

services_app = typer.Typer(
    help="The service directory: find providers by need and distance, refer to them.",
    no_args_is_help=True,
)
helpline_app = typer.Typer(help="The anonymous helpline call log.", no_args_is_help=True)

ActingAs = Annotated[str | None, typer.Option("--as", help="Operator name for the audit log.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _engine() -> Engine:
    from tiphub.cli.app import _engine as engine

    return engine()


def _operator(name: str | None = None) -> Principal:
    from tiphub.cases.access import local_operator

    return local_operator(name)


def _fail(message: str, code: int = 2) -> NoReturn:
    # Escaped: a message may name an option like tiphub[embeddings], which is not markup.
    errors.print(f"[red]error:[/red] {escape(message)}", highlight=False, markup=True)
    raise typer.Exit(code)


def _message(error: BaseException) -> str:
    """The error's own sentence. A pydantic error is cut to its fields and rules: its text
    would quote the values, which can be a person's details."""
    from pydantic import ValidationError

    if isinstance(error, ValidationError):
        return "; ".join(
            f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}"
            for item in error.errors()
        )
    if error.args and isinstance(error.args[0], str):
        return error.args[0]
    return str(error)


def _date(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        _fail(f"{option}: a date as YYYY-MM-DD")


def _point(value: str | None) -> tuple[float, float] | None:
    if value is None:
        return None
    parts = value.split(",")
    try:
        latitude, longitude = (float(part) for part in parts)
    except ValueError:
        _fail("--near: give LAT,LON in decimal degrees, e.g. 51.5074,-0.1278")
    return latitude, longitude


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


def _case_id(engine: Engine, principal: Principal, organisation: str, external_id: str) -> Any:
    from tiphub.cases.api import CaseStore

    case_id = CaseStore(engine, principal).case_id_of(organisation, external_id)
    if case_id is None:
        _fail(f"no case {external_id} at {organisation}")
    return case_id


BAD_INPUT = (ValueError, PermissionError, LookupError)

# -- the directory ---------------------------------------------------------------------------


@services_app.command("add")
def services_add(
    slug: Annotated[str, typer.Argument(help="Short name, e.g. safe-harbour-london.")],
    name: Annotated[str, typer.Option("--name", help="The provider's name.")],
    service: Annotated[
        list[str],
        typer.Option("--service", "-s", help="service_type code or word (shelter…); repeat."),
    ],
    organisation: Annotated[
        str, typer.Option("--organisation", "-o", help="Organisation keeping the entry.")
    ],
    sex: Annotated[
        list[str] | None, typer.Option("--sex", help="Accepted sex (repeat); none: all.")
    ] = None,
    min_age: Annotated[int | None, typer.Option("--min-age")] = None,
    max_age: Annotated[int | None, typer.Option("--max-age")] = None,
    nationality: Annotated[
        list[str] | None, typer.Option("--nationality", help="ISO alpha-2 (repeat); none: all.")
    ] = None,
    exploitation: Annotated[
        list[str] | None,
        typer.Option("--exploitation", help="exploitation_type (repeat); none: all."),
    ] = None,
    language: Annotated[
        list[str] | None, typer.Option("--language", help="ISO 639 code (repeat).")
    ] = None,
    capacity: Annotated[int | None, typer.Option("--capacity")] = None,
    places_free: Annotated[int | None, typer.Option("--places-free")] = None,
    country: Annotated[str | None, typer.Option("--country", help="ISO alpha-2.")] = None,
    city: Annotated[str | None, typer.Option("--city")] = None,
    at: Annotated[str | None, typer.Option("--at", help="LAT,LON of the provider.")] = None,
    contact: Annotated[str | None, typer.Option("--contact", help="The provider's own.")] = None,
    hub_organisation: Annotated[
        str | None, typer.Option("--hub-organisation", help="Its slug, if it is on the hub.")
    ] = None,
    acting_as: ActingAs = None,
) -> None:
    """Add a provider to the directory."""
    from tiphub.cases import services

    point = _point(at)
    try:
        added = services.add_provider(
            _engine(),
            _operator(acting_as),
            organisation=organisation,
            slug=slug,
            name=name,
            services=service,
            sexes=sex or [],
            min_age=min_age,
            max_age=max_age,
            nationalities=nationality or [],
            exploitation_types=exploitation or [],
            languages=language or [],
            capacity=capacity,
            places_free=places_free,
            country=country,
            city=city,
            latitude=None if point is None else point[0],
            longitude=None if point is None else point[1],
            contact=contact,
            hub_organisation=hub_organisation,
        )
    except BAD_INPUT as error:
        _fail(_message(error))
    console.print(f"Added {added.slug} ({', '.join(added.services)}).", highlight=False)


def _provider_table(rows: list[Any], with_distance: bool) -> Table:
    table = Table()
    # A slug is what the next command needs: never broken over two lines.
    table.add_column("slug", no_wrap=True)
    for column in ("name", "services", "city", "country", "places free"):
        table.add_column(column)
    if with_distance:
        table.add_column("km", no_wrap=True)
        table.add_column("why")
    for row in rows:
        provider = row.provider if with_distance else row
        cells = [
            provider.slug,
            provider.name,
            ", ".join(provider.services),
            provider.city or "",
            provider.country or "",
            "" if provider.places_free is None else str(provider.places_free),
        ]
        if with_distance:
            cells += [
                "" if row.distance_km is None else f"{row.distance_km:.1f}",
                "; ".join(row.reasons),
            ]
        table.add_row(*cells)
    return table


@services_app.command("list")
def services_list(
    include_inactive: Annotated[bool, typer.Option("--all", help="Inactive ones too.")] = False,
    as_json: AsJson = False,
) -> None:
    """Every provider of the directory, by name."""
    from tiphub.cases import services

    found = services.list_providers(_engine(), _operator(), include_inactive=include_inactive)
    if as_json:
        _print_json([provider.to_dict() for provider in found])
        return
    console.print(_provider_table(found, with_distance=False))


@services_app.command("search")
def services_search(
    need: Annotated[
        str, typer.Argument(help="Service(s) needed, e.g. shelter or 'legal,medical'.")
    ],
    sex: Annotated[str | None, typer.Option("--sex")] = None,
    age: Annotated[int | None, typer.Option("--age")] = None,
    nationality: Annotated[str | None, typer.Option("--nationality")] = None,
    exploitation: Annotated[str | None, typer.Option("--exploitation")] = None,
    language: Annotated[str | None, typer.Option("--language")] = None,
    near: Annotated[str | None, typer.Option("--near", help="LAT,LON to measure from.")] = None,
    within: Annotated[float | None, typer.Option("--within", help="Kilometres.")] = None,
    with_places: Annotated[
        bool, typer.Option("--with-places", help="Only providers reporting a free place.")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Providers offering NEED whose rules admit the person, nearest first (with --near)."""
    from tiphub.cases import services

    try:
        found = services.search_providers(
            _engine(),
            _operator(),
            need,
            sex=sex,
            age=age,
            nationality=nationality,
            exploitation_type=exploitation,
            language=language,
            near=_point(near),
            within_km=within,
            only_with_places=with_places,
        )
    except BAD_INPUT as error:
        _fail(_message(error))
    if as_json:
        _print_json([match.to_dict() for match in found])
        return
    if not found:
        console.print("No provider fits.")
        return
    console.print(_provider_table(found, with_distance=True))


@services_app.command("import")
def services_import(
    path: Annotated[Path, typer.Argument(help="CSV: slug,name,services,… (lists with |).")],
    organisation: Annotated[
        str | None,
        typer.Option("--organisation", "-o", help="Keeping organisation of rows naming none."),
    ] = None,
    acting_as: ActingAs = None,
) -> None:
    """Load providers from CSV, all or nothing; a known slug updates its entry."""
    from tiphub.cases import services

    try:
        result = services.import_providers(
            _engine(), _operator(acting_as), path, organisation=organisation
        )
    except services.ProviderImportError as error:
        errors.print("[red]Import refused; nothing was written.[/red]")
        for problem in error.problems[:50]:
            errors.print(f"  {problem}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    except BAD_INPUT as error:
        _fail(_message(error))
    console.print(
        f"Imported {len(result.created):,} new and {len(result.updated):,} updated "
        f"{'provider' if len(result.created) + len(result.updated) == 1 else 'providers'}."
    )


# -- referrals -------------------------------------------------------------------------------


@services_app.command("refer")
def services_refer(
    organisation: Annotated[str, typer.Argument(help="The case's organisation.")],
    case: Annotated[str, typer.Argument(help="The case's external ID.")],
    person: Annotated[str, typer.Option("--person", help="The person's external ID.")],
    provider: Annotated[str, typer.Option("--provider", help="The provider's slug.")],
    service: Annotated[list[str], typer.Option("--service", "-s", help="Repeat for several.")],
    details: Annotated[str | None, typer.Option("--details")] = None,
    acting_as: ActingAs = None,
) -> None:
    """Refer a person of a case to a provider (with their consent, unless a child)."""
    from tiphub.cases import services

    engine = _engine()
    principal = _operator(acting_as)
    case_id = _case_id(engine, principal, organisation, case)
    try:
        referral = services.refer_to_provider(
            engine, principal, case_id, provider, person, service, details=details
        )
    except BAD_INPUT as error:
        _fail(_message(error))
    console.print(
        f"Referred: {referral.reference} to {referral.provider_name} "
        f"({', '.join(referral.services)}); follow-up due in {services.FOLLOW_UP_DAYS} days.",
        highlight=False,
    )


@services_app.command("respond")
def services_respond(
    organisation: Annotated[str, typer.Argument(help="The case's organisation.")],
    case: Annotated[str, typer.Argument(help="The case's external ID.")],
    reference: Annotated[str, typer.Argument(help="The referral's reference (svc-…).")],
    status: Annotated[str, typer.Option("--status", help="accepted | declined | completed")],
    reason: Annotated[
        str | None, typer.Option("--reason", help="The provider's reason (a decline).")
    ] = None,
    on: Annotated[str | None, typer.Option("--on", help="Date of the answer (YYYY-MM-DD).")] = None,
    acting_as: ActingAs = None,
) -> None:
    """Record the provider's answer to a referral."""
    from tiphub.cases import services

    engine = _engine()
    principal = _operator(acting_as)
    case_id = _case_id(engine, principal, organisation, case)
    try:
        referral = services.respond_to_referral(
            engine, principal, case_id, reference, status, reason=reason, on=_date(on, "--on")
        )
    except BAD_INPUT as error:
        _fail(_message(error))
    console.print(f"{referral.reference}: {referral.status}.", highlight=False)


@services_app.command("follow-ups")
def services_follow_ups(
    days: Annotated[int, typer.Option("--days", min=0)] = 5,
    as_json: AsJson = False,
) -> None:
    """Referrals still unanswered after --days days: the reminders to send."""
    from tiphub.cases import services

    due = services.due_follow_ups(_engine(), _operator(), days=days)
    if as_json:
        _print_json([referral.to_dict() for referral in due])
        return
    table = Table("organisation", "case", "reference", "provider", "services", "referred on")
    for referral in due:
        table.add_row(
            referral.organisation,
            referral.case_external_id,
            referral.reference,
            referral.provider_name or referral.provider,
            ", ".join(referral.services),
            "" if referral.referred_on is None else referral.referred_on.isoformat(),
        )
    console.print(table)


# -- the helpline ----------------------------------------------------------------------------


@helpline_app.command("log")
def helpline_log(
    organisation: Annotated[
        str, typer.Option("--organisation", "-o", help="The helpline's organisation.")
    ],
    channel: Annotated[str, typer.Option("--channel", help="phone|text|chat|email|walk_in|web")],
    caller: Annotated[
        str,
        typer.Option("--caller", help="victim|family|friend|professional|employer|anonymous|other"),
    ],
    on: Annotated[str | None, typer.Option("--on", help="Day received (default today).")] = None,
    language: Annotated[str | None, typer.Option("--language")] = None,
    country: Annotated[str | None, typer.Option("--country")] = None,
    region: Annotated[str | None, typer.Option("--region", help="Region only, no address.")] = None,
    indicator: Annotated[
        list[str] | None, typer.Option("--indicator", help="ilo-11 indicator id (repeat).")
    ] = None,
    advice: Annotated[list[str] | None, typer.Option("--advice", help="Code (repeat).")] = None,
    follow_up: Annotated[str | None, typer.Option("--follow-up")] = None,
    case: Annotated[str | None, typer.Option("--case", help="External ID of a case.")] = None,
    acting_as: ActingAs = None,
) -> None:
    """Log one helpline contact. There is no field for a name or a number."""
    from tiphub.cases import helpline

    engine = _engine()
    principal = _operator(acting_as)
    case_id = None if case is None else _case_id(engine, principal, organisation, case)
    try:
        call = helpline.record_call(
            engine,
            principal,
            organisation=organisation,
            received_on=_date(on, "--on") or dt.date.today(),
            channel=channel,
            caller_type=caller,
            language=language,
            country=country,
            region=region,
            indicators_mentioned=indicator or [],
            advice_given=advice or [],
            follow_up=follow_up,
            case_id=case_id,
        )
    except BAD_INPUT as error:
        _fail(_message(error))
    console.print(f"Logged a {call.channel} call of {call.received_on.isoformat()}.")


@helpline_app.command("list")
def helpline_list(
    since: Annotated[str | None, typer.Option("--since", help="YYYY-MM-DD")] = None,
    as_json: AsJson = False,
) -> None:
    """Logged calls, newest first."""
    from tiphub.cases import helpline

    found = helpline.calls(_engine(), _operator(), since=_date(since, "--since"))
    if as_json:
        _print_json([call.to_dict() for call in found])
        return
    table = Table("received", "organisation", "channel", "caller", "region", "indicators")
    for call in found:
        table.add_row(
            call.received_on.isoformat(),
            call.organisation,
            call.channel,
            call.caller_type,
            call.region or "",
            str(len(call.indicators_mentioned)),
        )
    console.print(table)


@helpline_app.command("counts")
def helpline_counts(
    since: Annotated[str | None, typer.Option("--since", help="YYYY-MM-DD")] = None,
    until: Annotated[str | None, typer.Option("--until", help="YYYY-MM-DD")] = None,
    as_json: AsJson = False,
) -> None:
    """Calls per ISO week and channel."""
    from tiphub.cases import helpline

    counts = helpline.weekly_counts(
        _engine(), _operator(), since=_date(since, "--since"), until=_date(until, "--until")
    )
    if as_json:
        _print_json(counts)
        return
    table = Table("week", "channel", "calls")
    for row in counts:
        table.add_row(row["week"], row["channel"], str(row["count"]))
    console.print(table)
