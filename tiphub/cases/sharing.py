"""Referral between organisations: a case reaches another organisation only by consent or law.

A share is created by the owning organisation for a case whose person consented to referral
(the latest ``Referral`` or ``Disclosure`` consent of a victim is given), or by a supervisor
under a documented legal override (child protection, court order), which is flagged for the
auditor. The receiving organisation sees only the shared sections, can accept, decline or
complete the referral, and loses access when it is withdrawn or the consent is withdrawn.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, or_, select, update

from tiphub.cases import audit
from tiphub.cases.access import (
    SHARE_SECTIONS,
    ConflictError,
    NotFoundError,
    Principal,
    own_scope_condition,
)
from tiphub.cases.accounts import organisation_id
from tiphub.cases.persistence import iter_case_documents
from tiphub.store import models as m
from tiphub.store.db import reading
from tiphub.store.models import table_of

CONSENT_PURPOSES = ("Referral", "Disclosure")
OVERRIDES = ("child_protection", "court_order")
VICTIM_ROLES = ("Victim", "PresumedVictim", "PotentialVictim")
DECISIONS = {"accept": "accepted", "decline": "declined", "complete": "completed"}
ALLOWED_FROM = {"accept": ("pending",), "decline": ("pending",), "complete": ("accepted",)}


class SharingError(ValueError):
    pass


@dataclass(frozen=True)
class ShareInfo:
    id: uuid.UUID
    case_id: uuid.UUID
    case_external_id: str
    from_organisation: str
    to_organisation: str
    sections: tuple[str, ...]
    basis: str
    state: str
    created_by: str
    created_at: dt.datetime
    flagged: bool


def consent_given(document: dict[str, Any]) -> bool:
    """Whether a victim's latest referral/disclosure consent is given (latest = last recorded)."""
    victims = {
        p["person"]["external_id"] for p in document["participants"] if p["role"] in VICTIM_ROLES
    }
    latest: dict[tuple[str, str], bool] = {}
    for consent in document.get("consents", []):
        if consent["purpose"] in CONSENT_PURPOSES and consent["person_external_id"] in victims:
            latest[(consent["person_external_id"], consent["purpose"])] = consent["given"]
    return any(latest.values())


def _slug(connection: Connection, organisation_id: uuid.UUID) -> str | None:
    table = table_of(m.Organisation)
    found = connection.execute(select(table.c.slug).where(table.c.id == organisation_id))
    return found.scalar_one_or_none()


def _case_row(connection: Connection, principal: Principal, case_id: uuid.UUID) -> Any:
    case = table_of(m.Case)
    org = table_of(m.Organisation)
    row = connection.execute(
        select(case, org.c.slug)
        .join(org, org.c.id == case.c.organisation_id)
        .where(case.c.id == case_id, own_scope_condition(principal))
    ).first()
    if row is None:
        raise NotFoundError("no such case")
    return row


def refer(
    engine: Engine,
    principal: Principal,
    case_id: uuid.UUID,
    to_organisation: str,
    sections: Sequence[str],
    basis: str = "consent",
    override_reason: str | None = None,
) -> ShareInfo:
    principal.require("referral:create")
    unknown = sorted(set(sections) - set(SHARE_SECTIONS))
    if unknown or not sections:
        raise SharingError("choose the sections to share among: " + ", ".join(SHARE_SECTIONS))
    if basis not in ("consent", *OVERRIDES):
        raise SharingError("the basis is consent, child_protection or court_order")
    flagged = basis != "consent"
    if flagged:
        principal.require("referral:override")
        if not override_reason or len(override_reason.strip()) < 10:
            raise SharingError("a legal override needs its reason (at least 10 characters)")
    with engine.begin() as connection:
        row = _case_row(connection, principal, case_id)
        target = organisation_id(connection, to_organisation)
        if target == row.organisation_id:
            raise SharingError("a case cannot be referred to its own organisation")
        document = next(
            iter_case_documents(connection, organisation=row.slug, external_id=row.external_id)
        )
        if basis == "consent" and not consent_given(document):
            raise SharingError(
                "the person has not consented to referral: record their consent "
                "(purpose Referral or Disclosure) first"
            )
        share_id = m.new_id()
        now = dt.datetime.now(dt.UTC)
        connection.execute(
            table_of(m.CaseShare)
            .insert()
            .values(
                id=share_id,
                case_id=case_id,
                from_organisation_id=row.organisation_id,
                to_organisation_id=target,
                sections=sorted(set(sections)),
                basis=basis,
                consent_purpose=None if flagged else "Referral",
                override_reason=override_reason if flagged else None,
                state="pending",
                created_by=principal.username,
                created_at=now,
            )
        )
        audit.record(
            connection,
            principal,
            "referral.override" if flagged else "referral.create",
            "referral",
            share_id,
            details={
                "case": str(case_id),
                "to_organisation": to_organisation,
                "sections": sorted(set(sections)),
                "basis": basis,
            },
            flagged=flagged,
            subject_organisation=to_organisation,
        )
    return get_share(engine, principal, share_id)


@cache
def _shares_statement() -> Any:
    share = table_of(m.CaseShare)
    case = table_of(m.Case)
    source = table_of(m.Organisation).alias("source")
    target = table_of(m.Organisation).alias("target")
    return (
        select(
            share,
            case.c.external_id,
            source.c.slug.label("from_slug"),
            target.c.slug.label("to_slug"),
        )
        .join(case, case.c.id == share.c.case_id)
        .join(source, source.c.id == share.c.from_organisation_id)
        .join(target, target.c.id == share.c.to_organisation_id)
        .order_by(share.c.created_at.desc())
    )


@cache
def _case_outbox_statement() -> Any:
    """One case's referrals by one organisation: asked on every case page."""
    share = table_of(m.CaseShare)
    return _shares_statement().where(
        share.c.from_organisation_id
        == bindparam("organisation_id", type_=share.c.from_organisation_id.type),
        share.c.case_id == bindparam("case_id", type_=share.c.case_id.type),
    )


def _share_rows(connection: Connection, condition: Any) -> list[ShareInfo]:
    return _share_infos(connection.execute(_shares_statement().where(condition)))


def _share_infos(rows: Any) -> list[ShareInfo]:
    return [
        ShareInfo(
            row.id,
            row.case_id,
            row.external_id,
            row.from_slug,
            row.to_slug,
            tuple(row.sections),
            row.basis,
            row.state,
            row.created_by,
            row.created_at,
            row.basis != "consent",
        )
        for row in rows
    ]


def _visible_share(principal: Principal) -> Any:
    share = table_of(m.CaseShare)
    if principal.operator:
        return share.c.id.is_not(None)
    return or_(
        share.c.to_organisation_id == principal.organisation_id,
        share.c.from_organisation_id == principal.organisation_id,
    )


def get_share(engine: Engine, principal: Principal, share_id: uuid.UUID) -> ShareInfo:
    share = table_of(m.CaseShare)
    with reading(engine) as connection:
        found = _share_rows(connection, (share.c.id == share_id) & _visible_share(principal))
    if not found:
        raise NotFoundError("no such referral")
    return found[0]


def inbox(engine: Engine, principal: Principal) -> list[ShareInfo]:
    """Referrals to the principal's organisation."""
    principal.require("case:read")
    share = table_of(m.CaseShare)
    with reading(engine) as connection:
        return _share_rows(connection, share.c.to_organisation_id == principal.organisation_id)


def outbox(
    engine: Engine, principal: Principal, case_id: uuid.UUID | None = None
) -> list[ShareInfo]:
    """Referrals the principal's organisation made: all of them, or one case's."""
    principal.require("case:read")
    share = table_of(m.CaseShare)
    with reading(engine) as connection:
        if case_id is not None:
            parameters = {"organisation_id": principal.organisation_id, "case_id": case_id}
            return _share_infos(connection.execute(_case_outbox_statement(), parameters))
        return _share_rows(connection, share.c.from_organisation_id == principal.organisation_id)


def decide(engine: Engine, principal: Principal, share_id: uuid.UUID, decision: str) -> ShareInfo:
    """The receiving organisation accepts, declines or completes a referral."""
    principal.require("referral:decide")
    if decision not in DECISIONS:
        raise SharingError("the decision is accept, decline or complete")
    share = table_of(m.CaseShare)
    with engine.begin() as connection:
        row = connection.execute(
            select(share).where(
                share.c.id == share_id, share.c.to_organisation_id == principal.organisation_id
            )
        ).first()
        if row is None:
            raise NotFoundError("no such referral")
        if row.state not in ALLOWED_FROM[decision]:
            raise ConflictError(f"a {row.state} referral cannot be {DECISIONS[decision]}")
        now = dt.datetime.now(dt.UTC)
        values: dict[str, Any] = {"state": DECISIONS[decision]}
        if decision in ("accept", "decline"):
            values.update(decided_by=principal.username, decided_at=now)
        else:
            values["ended_at"] = now
        connection.execute(update(share).where(share.c.id == share_id).values(**values))
        audit.record(
            connection,
            principal,
            f"referral.{decision}",
            "referral",
            share_id,
            details={"case": str(row.case_id)},
            subject_organisation=_slug(connection, row.from_organisation_id),
        )
    return get_share(engine, principal, share_id)


def withdraw(engine: Engine, principal: Principal, share_id: uuid.UUID) -> ShareInfo:
    """The referring organisation ends the share: the receiver loses access at once."""
    principal.require("referral:withdraw")
    share = table_of(m.CaseShare)
    with engine.begin() as connection:
        row = connection.execute(
            select(share).where(
                share.c.id == share_id,
                share.c.from_organisation_id == principal.organisation_id
                if not principal.operator
                else share.c.id == share_id,
            )
        ).first()
        if row is None:
            raise NotFoundError("no such referral")
        if row.state in ("withdrawn", "declined"):
            raise ConflictError(f"the referral is already {row.state}")
        connection.execute(
            update(share)
            .where(share.c.id == share_id)
            .values(state="withdrawn", ended_at=dt.datetime.now(dt.UTC))
        )
        audit.record(
            connection,
            principal,
            "referral.withdraw",
            "referral",
            share_id,
            details={"case": str(row.case_id)},
            subject_organisation=_slug(connection, row.to_organisation_id),
        )
    return get_share(engine, principal, share_id)


def withdraw_for_lost_consent(
    connection: Connection, principal: Principal, case_id: uuid.UUID, document: dict[str, Any]
) -> int:
    """After a consent change: end every consent-based share the person no longer agrees to."""
    if consent_given(document):
        return 0
    share = table_of(m.CaseShare)
    ended = connection.execute(
        update(share)
        .where(
            share.c.case_id == case_id,
            share.c.basis == "consent",
            share.c.state.in_(("pending", "accepted")),
        )
        .values(state="withdrawn", ended_at=dt.datetime.now(dt.UTC))
    ).rowcount
    if ended:
        audit.record(
            connection,
            principal,
            "referral.consent_withdrawn",
            "case",
            case_id,
            details={"referrals_ended": ended},
        )
    return int(ended)


def referral_targets(engine: Engine, principal: Principal) -> list[tuple[str, str]]:
    """Every other organisation, as (slug, name) by name: where a case can be referred."""
    principal.require("referral:create")
    org = table_of(m.Organisation)
    query = select(org.c.slug, org.c.name).order_by(org.c.name, org.c.slug)
    if principal.organisation_id is not None:
        query = query.where(org.c.id != principal.organisation_id)
    with reading(engine) as connection:
        return [(row.slug, row.name) for row in connection.execute(query)]
