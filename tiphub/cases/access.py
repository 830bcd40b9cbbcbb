"""Who is acting, what they may do, and which case records they reach.

Every domain function takes a ``Principal``. Scope is enforced here, in the SQL that selects
cases, so no endpoint, export, search or background job can forget it: a case outside a
principal's scope is simply not found. Roles are data (``data/roles.json`` for the built-in
ones, the ``role_definition`` table for custom ones).
"""

from __future__ import annotations

import getpass
import json
import uuid
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, false, or_, select, true

from tiphub.store import models as m
from tiphub.store.models import table_of

SCOPES = ("none", "own", "team", "organisation")
# A case shared by referral is readable while the referral is open or done, never after a
# decline or a withdrawal.
READABLE_SHARE_STATES = ("pending", "accepted", "completed")
SHARE_SECTIONS = (
    "identity",
    "victim",
    "events",
    "consents",
    "referrals",
    "support_plans",
    "notes",
    "identification_decisions",
    "criminal_proceedings",
    "perpetrators",
)


class PermissionDeniedError(PermissionError):
    """The principal's roles do not grant this action (HTTP 403)."""


class NotFoundError(LookupError):
    """No such record within the principal's scope (HTTP 404, whether or not it exists)."""


class ConflictError(ValueError):
    """The record changed since the caller read it, or the action does not fit its state."""


@dataclass(frozen=True)
class RoleSpec:
    name: str
    description: str
    scope: str
    sees_identity: bool
    permissions: frozenset[str]


@cache
def built_in_roles() -> dict[str, RoleSpec]:
    text = resources.files("tiphub.cases").joinpath("data/roles.json").read_text("utf-8")
    return {
        item["name"]: RoleSpec(
            item["name"],
            item["description"],
            item["scope"],
            bool(item["sees_identity"]),
            frozenset(item["permissions"]),
        )
        for item in json.loads(text)["roles"]
    }


def all_permissions() -> frozenset[str]:
    return frozenset().union(*(role.permissions for role in built_in_roles().values()))


def role_specs(connection: Connection) -> dict[str, RoleSpec]:
    """Built-in roles, with custom roles from the database added (a custom role cannot
    redefine a built-in one)."""
    roles = dict(built_in_roles())
    table = table_of(m.RoleDefinition)
    for row in connection.execute(select(table).where(table.c.built_in.is_(False))):
        if row.name not in roles:
            roles[row.name] = RoleSpec(
                row.name, row.description, row.scope, row.sees_identity, frozenset(row.permissions)
            )
    return roles


@dataclass(frozen=True)
class Principal:
    """The acting user (or the named local operator of the command line)."""

    username: str
    organisation: str | None
    organisation_id: uuid.UUID | None
    roles: tuple[str, ...]
    permissions: frozenset[str]
    scope: str
    team: str | None = None
    sees_identity: bool = False
    operator: bool = False
    source: str = "cli"
    user_id: uuid.UUID | None = None
    token_id: uuid.UUID | None = field(default=None, compare=False)

    def can(self, permission: str) -> bool:
        return self.operator or permission in self.permissions

    def require(self, permission: str) -> None:
        if not self.can(permission):
            raise PermissionDeniedError(f"your role does not allow {permission}")

    @property
    def reads_cases(self) -> bool:
        return self.can("case:read")

    def with_source(self, source: str) -> Principal:
        return Principal(**{**self.__dict__, "source": source})


def local_operator(name: str | None = None) -> Principal:
    """The command line's principal: every organisation, audited under its own name."""
    try:
        who = name or f"operator:{getpass.getuser()}"
    except (OSError, KeyError):
        who = "operator:local"
    return Principal(
        username=who,
        organisation=None,
        organisation_id=None,
        roles=("operator",),
        permissions=all_permissions(),
        scope="organisation",
        sees_identity=True,
        operator=True,
        source="cli",
    )


def principal_for(
    connection: Connection,
    user: Any,
    organisation_slug: str,
    source: str,
    token_scopes: list[str] | None = None,
    token_id: uuid.UUID | None = None,
) -> Principal:
    """A user's principal: the union of their roles, narrowed to an API token's scopes."""
    specs = role_specs(connection)
    granted = [specs[name] for name in user.roles if name in specs]
    permissions = frozenset().union(*(role.permissions for role in granted))
    if token_scopes is not None and "*" not in token_scopes:
        permissions = permissions & frozenset(token_scopes)
    widest = max((SCOPES.index(role.scope) for role in granted), default=0)
    return Principal(
        username=user.username,
        organisation=organisation_slug,
        organisation_id=user.organisation_id,
        roles=tuple(user.roles),
        permissions=permissions,
        scope=SCOPES[widest],
        team=user.team,
        sees_identity=any(role.sees_identity for role in granted),
        source=source,
        user_id=user.id,
        token_id=token_id,
    )


# -- scope as SQL ---------------------------------------------------------------------------


def readable_share_state(state: Any) -> ColumnElement[bool]:
    # Equalities, not IN: an IN list is re-rendered into the SQL at every execution, and this
    # condition is in every read of a case.
    return or_(*(state == value for value in READABLE_SHARE_STATES))


def own_scope_condition(principal: Principal) -> ColumnElement[bool]:
    """Cases of the principal's own organisation that its scope reaches."""
    case = table_of(m.Case)
    if principal.operator:
        return true()
    if not principal.reads_cases or principal.scope == "none":
        return false()
    in_organisation = case.c.organisation_id == principal.organisation_id
    if principal.scope == "organisation":
        return in_organisation
    mine = case.c.created_by == principal.username
    if principal.scope == "team" and principal.team:
        return and_(in_organisation, or_(mine, case.c.team == principal.team))
    return and_(in_organisation, mine)


def shared_scope_condition(principal: Principal) -> ColumnElement[bool]:
    """Cases of other organisations shared with the principal's organisation by referral."""
    if principal.operator or not principal.reads_cases or principal.organisation_id is None:
        return false()
    share = table_of(m.CaseShare)
    case = table_of(m.Case)
    return case.c.id.in_(
        select(share.c.case_id).where(
            share.c.to_organisation_id == principal.organisation_id,
            readable_share_state(share.c.state),
        )
    )


def case_scope_condition(principal: Principal) -> ColumnElement[bool]:
    return or_(own_scope_condition(principal), shared_scope_condition(principal))


def shared_sections(connection: Connection, principal: Principal, case_id: uuid.UUID) -> set[str]:
    """The sections other organisations' referrals share with the principal's organisation."""
    share = table_of(m.CaseShare)
    sections: set[str] = set()
    for row in connection.execute(
        select(share.c.sections).where(
            share.c.case_id == case_id,
            share.c.to_organisation_id == principal.organisation_id,
            readable_share_state(share.c.state),
        )
    ):
        sections.update(row.sections)
    return sections


def owns_case(connection: Connection, principal: Principal, case_id: uuid.UUID) -> bool:
    case = table_of(m.Case)
    query = select(case.c.id).where(case.c.id == case_id, own_scope_condition(principal))
    return connection.execute(query).first() is not None
