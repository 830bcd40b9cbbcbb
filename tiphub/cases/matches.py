"""Cross-organisation matches from a database link, told without the other record's content.

After ``tiphub link`` on the database, each organisation may learn that one of its people
was also found at another organisation — the other organisation's name only, never its
record — and only where that organisation shares cases with it by referral.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from functools import cache
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, bindparam, delete, select

from tiphub.cases.access import Principal, readable_share_state
from tiphub.store import models as m
from tiphub.store.models import table_of


def record_match_notices(engine: Engine, clusters: pd.DataFrame, run_id: int | None) -> int:
    """Replace the notices with those of this run's clusters; return how many were stored.

    ``clusters`` has ``record_id`` (``<organisation slug>:<person external ID>``),
    ``cluster_id`` and ``list`` (the organisation slug), as ``tiphub link`` writes them.
    """
    members: dict[object, set[tuple[str, str]]] = defaultdict(set)
    for record_id, cluster_id, slug in clusters[["record_id", "cluster_id", "list"]].itertuples(
        index=False
    ):
        members[cluster_id].add((str(slug), str(record_id).split(":", 1)[1]))
    organisation = table_of(m.Organisation)
    person = table_of(m.Person)
    notice = table_of(m.MatchNotice)
    with engine.begin() as connection:
        org_ids = dict(connection.execute(select(organisation.c.slug, organisation.c.id)).all())
        people = {
            (slug, external): person_id
            for person_id, slug, external in connection.execute(
                select(person.c.id, organisation.c.slug, person.c.external_id).join(
                    organisation, organisation.c.id == person.c.organisation_id
                )
            )
        }
        rows = []
        for group in members.values():
            slugs = {slug for slug, _ in group}
            if len(slugs) < 2:
                continue
            for slug, external in group:
                person_id = people.get((slug, external))
                for other in slugs - {slug}:
                    if person_id is not None and other in org_ids:
                        rows.append(
                            {
                                "id": m.new_id(),
                                "person_id": person_id,
                                "other_organisation_id": org_ids[other],
                                "linkage_run_id": run_id,
                                "created_at": m.utcnow(),
                            }
                        )
        connection.execute(delete(notice))
        unique = {(row["person_id"], row["other_organisation_id"]): row for row in rows}
        if unique:
            connection.execute(notice.insert(), list(unique.values()))
    return len(unique)


@cache
def _matches_statement() -> Any:
    """Built once: a case page asks this on every read."""
    notice = table_of(m.MatchNotice)
    participant = table_of(m.CaseParticipant)
    share = table_of(m.CaseShare)
    organisation = table_of(m.Organisation)
    viewer = bindparam("viewer", type_=share.c.to_organisation_id.type)
    sharing_with_us = select(share.c.from_organisation_id).where(
        share.c.to_organisation_id == viewer,
        readable_share_state(share.c.state),
    )
    return (
        select(organisation.c.slug)
        .distinct()
        .join(notice, notice.c.other_organisation_id == organisation.c.id)
        .join(participant, participant.c.person_id == notice.c.person_id)
        .where(
            participant.c.case_id == bindparam("case_id", type_=participant.c.case_id.type),
            notice.c.other_organisation_id.in_(sharing_with_us),
        )
        .order_by(organisation.c.slug)
    )


def matches_elsewhere(
    bind: Engine | Connection, principal: Principal, case_id: uuid.UUID
) -> list[str]:
    """Organisations that share with the principal's and also hold one of this case's people."""
    if principal.organisation_id is None:
        return []
    parameters = {"viewer": principal.organisation_id, "case_id": case_id}
    if isinstance(bind, Connection):
        return list(bind.execute(_matches_statement(), parameters).scalars())
    with bind.connect() as connection:
        return list(connection.execute(_matches_statement(), parameters).scalars())
