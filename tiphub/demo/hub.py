"""The demo hub: three organisations holding the demo cases, and five users at each.

The demo's many synthetic organisations are folded into ``demo-ngo``, ``demo-police`` and
``demo-labour`` by their type, so that signing in as one of them shows a realistic share of
the cases. Passwords come from ``TIPHUB_DEMO_PASSWORD`` or are generated and shown once.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

from sqlalchemy import Engine, delete, select, update

from tiphub.cases import accounts
from tiphub.cases.access import local_operator
from tiphub.demo.ads import load_demo_ads
from tiphub.demo.providers import load_demo_providers
from tiphub.store import models as m
from tiphub.store.models import table_of

DEMO_ORGANISATIONS = (
    ("demo-ngo", "Demo Survivor Support NGO", "NGO"),
    ("demo-police", "Demo Police Anti-Trafficking Unit", "LawEnforcement"),
    ("demo-labour", "Demo Labour Inspectorate", "LabourInspectorate"),
)
DEMO_ROLES = ("caseworker", "supervisor", "analyst", "admin", "auditor")
DEMO_TEAM = "frontline"
# Which demo organisation takes the cases of each synthetic organisation type.
FOLD_BY_TYPE = {
    "LawEnforcement": "demo-police",
    "NationalAgency": "demo-police",
    "LabourInspectorate": "demo-labour",
}


@dataclass(frozen=True)
class DemoHub:
    usernames: tuple[str, ...]
    password: str
    password_generated: bool
    cases_by_organisation: dict[str, int]


def demo_password() -> tuple[str, bool]:
    given = os.environ.get("TIPHUB_DEMO_PASSWORD")
    if given:
        return given, False
    return secrets.token_urlsafe(12), True


def fold_demo_organisations(engine: Engine) -> dict[str, int]:
    """Move every other organisation's cases and people (and their screenings, tasks and
    helpline calls) into the three demo organisations."""
    org = table_of(m.Organisation)
    case = table_of(m.Case)
    person = table_of(m.Person)
    with engine.begin() as connection:
        existing = {row.slug: row for row in connection.execute(select(org))}
        for slug, name, type_ in DEMO_ORGANISATIONS:
            if slug not in existing:
                connection.execute(
                    org.insert().values(
                        id=m.new_id(),
                        slug=slug,
                        name=name,
                        type=type_,
                        country=None,
                        created_at=m.utcnow(),
                    )
                )
        ids = {row.slug: row.id for row in connection.execute(select(org.c.slug, org.c.id))}
        demo_slugs = {slug for slug, _, _ in DEMO_ORGANISATIONS}
        for slug, row in existing.items():
            if slug in demo_slugs:
                continue
            target = ids[FOLD_BY_TYPE.get(row.type or "", "demo-ngo")]
            connection.execute(
                update(case).where(case.c.organisation_id == row.id).values(organisation_id=target)
            )
            connection.execute(
                update(person)
                .where(person.c.organisation_id == row.id)
                .values(organisation_id=target)
            )
            for model in (m.Screening, m.Task, m.HelplineCall):  # kept with their cases
                table = table_of(model)
                connection.execute(
                    update(table)
                    .where(table.c.organisation_id == row.id)
                    .values(organisation_id=target)
                )
            connection.execute(delete(org).where(org.c.id == row.id))
        connection.execute(update(case).where(case.c.team.is_(None)).values(team=DEMO_TEAM))
        counts = {}
        for slug in demo_slugs:
            counts[slug] = len(
                connection.execute(
                    select(case.c.id).where(case.c.organisation_id == ids[slug])
                ).all()
            )
    return counts


def ensure_demo_hub(engine: Engine) -> DemoHub:
    """Fold the organisations, then create (or reset the password of) every demo user."""
    counts = fold_demo_organisations(engine)
    password, generated = demo_password()
    operator = local_operator("operator:demo")
    existing = {user.username for user in accounts.list_users(engine, operator)}
    usernames = []
    for slug, _, _ in DEMO_ORGANISATIONS:
        for role in DEMO_ROLES:
            username = f"{role}@{slug}"
            usernames.append(username)
            if username in existing:
                accounts.reset_password(engine, operator, username, password)
            else:
                accounts.add_user(
                    engine,
                    operator,
                    username,
                    slug,
                    [role],
                    password,
                    team=DEMO_TEAM,
                    display_name=f"Demo {role}",
                )
    # A directory to search: the demo's fictional shelters, clinics and legal aid.
    load_demo_providers(engine, operator)
    # Job ads for the labour inspectorate's online screening, with flags to review.
    load_demo_ads(engine, operator)
    return DemoHub(tuple(usernames), password, generated, counts)
