"""Commands of the hub: serve it, manage organisations, users and roles, verify the audit log.

The command line acts as a named local operator (``operator:<login name>``, or ``--as``) and
is audited like anyone else.
"""

from __future__ import annotations

import getpass
import ipaddress
import os
import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from tiphub.cli.text import EMPTY_HINT, plural

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from tiphub.cases.access import Principal

console = Console()
errors = Console(stderr=True)

users_app = typer.Typer(help="User accounts of the hub.", no_args_is_help=True)
org_app = typer.Typer(help="Organisations of the hub.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
roles_app = typer.Typer(help="Roles: built-in and custom (as data).", no_args_is_help=True)

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def _engine() -> Engine:
    from tiphub.cli.app import _engine as engine

    return engine()


def _operator(name: str | None = None) -> Principal:
    from tiphub.cases.access import local_operator

    return local_operator(name)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _fail(message: str, code: int = 2) -> None:
    errors.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


def serve_hub(
    host: str, port: int, demo: bool, cases: int = 2_000, seed: int = 1, workers: int = 1
) -> None:
    from tiphub.store.db import make_engine
    from tiphub.web.app import create_app
    from tiphub.web.server import serve
    from tiphub.web.settings import HubSettings

    if demo and not _is_loopback(host):
        _fail("demo mode serves on loopback only (127.0.0.1 or ::1): its passwords are shown")
    engine = _engine()
    if demo:
        _prepare_demo(engine, cases, seed)
    settings = HubSettings(demo=demo, secure_cookies=not _is_loopback(host))
    if workers > 1:
        # Each process opens its own connections after the fork.
        engine.dispose()
        url = engine.url.render_as_string(hide_password=False)

        def app_factory() -> object:
            return create_app(make_engine(url), settings)
    else:

        def app_factory() -> object:
            return create_app(engine, settings)

    shown = f"[{host}]" if ":" in host else host
    console.print(f"Open [bold]http://{shown}:{port}/[/bold] — press Ctrl-C to stop.")
    if workers > 1:
        console.print(
            f"{workers} processes share the port. Each keeps its own sign-in rate limit and "
            "the estimation page's reports, which another process does not see."
        )
    try:
        serve(app_factory, host, port, workers)
    except OSError as error:
        _fail(f"cannot serve on {shown}:{port}: {error.strerror or error}")
    except RuntimeError as error:
        _fail(str(error), code=1)


def _prepare_demo(engine: Engine, cases: int, seed: int) -> None:
    from tiphub.cli.app import load_demo_if_empty
    from tiphub.demo.hub import ensure_demo_hub

    load_demo_if_empty(engine, cases, seed)
    hub = ensure_demo_hub(engine)
    console.print(
        "Demo organisations: "
        + ", ".join(
            f"{slug} ({plural(count, 'case')})"
            for slug, count in sorted(hub.cases_by_organisation.items())
        )
    )
    console.print(
        "Sign in as [bold]caseworker@demo-ngo[/bold] (or supervisor@, analyst@, admin@, "
        "auditor@ with demo-ngo, demo-police or demo-labour)."
    )
    if hub.password_generated:
        console.print(
            f"Demo password (shown once, new at every start): [bold]{hub.password}[/bold]",
            highlight=False,
        )
    else:
        console.print("Demo password: the value of TIPHUB_DEMO_PASSWORD.")


def serve_command(
    demo: Annotated[bool, typer.Option("--demo", help="Load demo data and demo users.")] = False,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            max=64,
            help="Server processes sharing the port (PostgreSQL; about one per core).",
        ),
    ] = 1,
) -> None:
    """Serve the hub (web interface and REST API under /api/v1)."""
    serve_hub(host, port, demo, workers=workers)


# -- organisations -------------------------------------------------------------------------


@org_app.command("add")
def org_add(
    slug: Annotated[str, typer.Argument(help="Short name, e.g. ngo-east.")],
    name: Annotated[str, typer.Option("--name", help="Full name.")] = "",
    type_: Annotated[str | None, typer.Option("--type", help="organisation_type code.")] = None,
    country: Annotated[str | None, typer.Option("--country", help="ISO 3166 alpha-2.")] = None,
    acting_as: Annotated[
        str | None, typer.Option("--as", help="Operator name for the audit log.")
    ] = None,
) -> None:
    """Add an organisation."""
    from tiphub.cases import accounts

    try:
        accounts.add_organisation(
            _engine(), _operator(acting_as), slug, name or slug, type_, country
        )
    except accounts.AccountError as error:
        _fail(str(error))
    console.print(f"Added organisation {slug}.")


@org_app.command("list")
def org_list() -> None:
    """List organisations with their numbers of users and cases."""
    from tiphub.cases import accounts

    organisations = accounts.list_organisations(_engine(), _operator())
    if not organisations:
        console.print(
            f"No organisations yet: `tiphub org add SLUG` adds one. {EMPTY_HINT}", highlight=False
        )
        return
    table = Table("slug", "name", "type", "country", "users", "cases")
    for org in organisations:
        table.add_row(
            org.slug, org.name, org.type or "", org.country or "", str(org.users), str(org.cases)
        )
    console.print(table)


# -- users -----------------------------------------------------------------------------------


def _read_password(prompt: str = "Password") -> str:
    given = os.environ.get("TIPHUB_NEW_PASSWORD")
    if given:
        return given
    if not sys.stdin.isatty():
        line = sys.stdin.readline().rstrip("\n")
        if line:
            return line
        _fail("give the password on standard input or in TIPHUB_NEW_PASSWORD")
    first = getpass.getpass(f"{prompt}: ")
    if getpass.getpass("Again: ") != first:
        _fail("the two passwords differ")
    return first


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="e.g. name@organisation")],
    organisation: Annotated[str, typer.Option("--organisation", "-o")],
    role: Annotated[list[str], typer.Option("--role", "-r", help="Repeat for several roles.")],
    team: Annotated[str | None, typer.Option("--team")] = None,
    display_name: Annotated[str, typer.Option("--name")] = "",
    totp: Annotated[bool, typer.Option("--totp", help="Set up a second factor now.")] = False,
    acting_as: Annotated[str | None, typer.Option("--as")] = None,
) -> None:
    """Add a user. The password is read from the terminal (or TIPHUB_NEW_PASSWORD / stdin).

    Admins always get a second factor (TOTP): the hub refuses them without it outside the demo.
    """
    from tiphub.cases import accounts

    password = _read_password()
    try:
        uri = accounts.add_user(
            _engine(),
            _operator(acting_as),
            username,
            organisation,
            role,
            password,
            team=team,
            display_name=display_name,
            with_totp=totp or "admin" in role,
        )
    except (accounts.AccountError, accounts.PasswordRejectedError) as error:
        _fail(str(error))
    except LookupError as error:
        _fail(str(error))
    console.print(f"Added {username} ({', '.join(role)}) at {organisation}.")
    if uri:
        console.print(
            "Second factor: add this to an authenticator app now (shown once):\n" + uri,
            highlight=False,
        )


@users_app.command("list")
def users_list(
    organisation: Annotated[str | None, typer.Option("--organisation", "-o")] = None,
) -> None:
    """List users (never their passwords or second-factor secrets)."""
    from tiphub.cases import accounts

    table = Table("username", "organisation", "roles", "team", "second factor", "state")
    for user in accounts.list_users(_engine(), _operator(), organisation):
        state = "disabled" if user.disabled else "locked" if user.locked else "active"
        table.add_row(
            user.username,
            user.organisation,
            ", ".join(user.roles),
            user.team or "",
            "yes" if user.has_totp else "no",
            state,
        )
    console.print(table)


@users_app.command("disable")
def users_disable(
    username: str,
    enable: Annotated[bool, typer.Option("--enable", help="Re-enable instead.")] = False,
    acting_as: Annotated[str | None, typer.Option("--as")] = None,
) -> None:
    """Disable a user (ending every session and token), or re-enable with --enable."""
    from tiphub.cases import accounts

    try:
        accounts.set_disabled(_engine(), _operator(acting_as), username, not enable)
    except LookupError as error:
        _fail(str(error))
    console.print(f"{username} {'enabled' if enable else 'disabled'}.")


@users_app.command("reset-password")
def users_reset_password(
    username: str,
    totp: Annotated[bool, typer.Option("--totp", help="Also issue a new second factor.")] = False,
    acting_as: Annotated[str | None, typer.Option("--as")] = None,
) -> None:
    """Set a new password (read like `users add`); ends the user's sessions and tokens."""
    from tiphub.cases import accounts

    password = _read_password("New password")
    engine = _engine()
    try:
        accounts.reset_password(engine, _operator(acting_as), username, password)
        uri = accounts.enrol_totp(engine, _operator(acting_as), username) if totp else None
    except accounts.PasswordRejectedError as error:
        _fail(str(error))
    except LookupError as error:
        _fail(str(error))
    console.print(f"New password set for {username}.")
    if uri:
        console.print("New second factor (shown once):\n" + uri, highlight=False)


# -- roles -----------------------------------------------------------------------------------


@roles_app.command("list")
def roles_list() -> None:
    """Every role with its scope, identity access and permissions."""
    from tiphub.cases.access import role_specs

    engine = _engine()
    table = Table("role", "scope", "sees identity", "permissions")
    with engine.connect() as connection:
        for role in role_specs(connection).values():
            table.add_row(
                role.name,
                role.scope,
                "yes" if role.sees_identity else "no",
                ", ".join(sorted(role.permissions)),
            )
    console.print(table)


@roles_app.command("add")
def roles_add(
    name: str,
    permission: Annotated[list[str], typer.Option("--permission", "-p")],
    scope: Annotated[str, typer.Option("--scope")] = "organisation",
    sees_identity: Annotated[bool, typer.Option("--sees-identity/--no-identity")] = False,
    description: Annotated[str, typer.Option("--description")] = "",
) -> None:
    """Define (or redefine) a custom role."""
    from tiphub.cases import accounts

    try:
        accounts.define_role(
            _engine(), _operator(), name, permission, scope, sees_identity, description
        )
    except accounts.AccountError as error:
        _fail(str(error))
    console.print(f"Role {name} defined.")


# -- audit -----------------------------------------------------------------------------------


@audit_app.command("verify")
def audit_verify() -> None:
    """Exit 0 when the chain is intact; otherwise name the first broken entry and exit 1."""
    from tiphub.cases import audit

    result = audit.verify(_engine())
    if result.intact:
        console.print(result.summary(), highlight=False)
        console.print(f"Head hash (keep a copy elsewhere to detect truncation): {result.head_hash}")
        return
    errors.print(f"[red]{result.summary()}[/red]", highlight=False)
    raise typer.Exit(1)


@audit_app.command("list")
def audit_list(
    limit: Annotated[int, typer.Option("--limit", min=1, max=500)] = 50,
    actor: Annotated[str | None, typer.Option("--actor")] = None,
    action: Annotated[str | None, typer.Option("--action")] = None,
    flagged: Annotated[bool, typer.Option("--flagged", help="Only legal overrides etc.")] = False,
) -> None:
    """The newest audit entries (no personal data is ever in them)."""
    from tiphub.cases import audit

    table = Table(
        "#", "when (UTC)", "actor", "organisation", "action", "resource", "outcome", "flag"
    )
    rows = audit.browse(
        _engine(),
        _operator(),
        audit.AuditFilter(actor=actor, action=action, flagged_only=flagged),
        limit=limit,
    )
    for row in rows:
        table.add_row(
            str(row["sequence"]),
            str(row["at"])[:19],
            row["actor"],
            row["organisation"] or "",
            row["action"],
            f"{row['resource_type'] or ''} {row['resource_id'] or ''}".strip(),
            row["outcome"],
            "!" if row["flagged"] else "",
        )
    console.print(table)


# -- retention and erasure -------------------------------------------------------------------

retention_app = typer.Typer(help="Retention rules and erasure requests.", no_args_is_help=True)


@retention_app.command("set")
def retention_set(
    organisation: str,
    archive_after_days: Annotated[
        int | None, typer.Option("--archive-after-days", help="Closed → archived.")
    ] = None,
    delete_after_years: Annotated[
        int | None, typer.Option("--delete-after-years", help="Archived → deleted.")
    ] = None,
) -> None:
    """Set an organisation's retention rule (leave an option out to keep cases forever)."""
    from tiphub.cases import retention

    try:
        rule = retention.set_retention(
            _engine(), _operator(), archive_after_days, delete_after_years, organisation
        )
    except (retention.RetentionError, LookupError) as error:
        _fail(str(error))
    console.print(
        f"{rule.organisation}: archive closed cases after "
        f"{_or_forever(rule.archive_closed_after_days, 'day')}, delete archived ones after "
        f"{_or_forever(rule.delete_archived_after_years, 'year')}."
    )


def _or_forever(count: int | None, unit: str) -> str:
    return plural(count, unit) if count else f"∞ {unit}s"


@retention_app.command("apply")
def retention_apply() -> None:
    """Archive and delete cases by every organisation's rule; print what was done (counts)."""
    from tiphub.cases import retention

    outcome = retention.apply_retention(_engine(), _operator())
    console.print(
        ", ".join(
            f"{key}: {value}" for key, value in outcome.items() if not isinstance(value, dict)
        )
    )


@retention_app.command("erase")
def retention_erase(
    organisation: str,
    case_id: Annotated[str, typer.Argument(help="The case's external ID.")],
    legal_basis: Annotated[
        str, typer.Option("--legal-basis", help="e.g. 'GDPR art. 17 request of 2026-11-02'.")
    ],
) -> None:
    """Erase one case at a data-protection request; an erasure record keeps counts only."""
    from tiphub.cases import retention
    from tiphub.cases.api import CaseStore

    engine = _engine()
    store = CaseStore(engine, _operator())
    stored = store.case_id_of(organisation, case_id)
    if stored is None:
        _fail(f"no case {case_id} at {organisation}")
        return
    try:
        removed = retention.erase_case(engine, _operator(), stored, legal_basis)
    except retention.RetentionError as error:
        _fail(str(error))
    console.print(
        "Erased: " + ", ".join(f"{count} {section}" for section, count in removed.items() if count)
    )
