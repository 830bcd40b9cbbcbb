"""The persons of the tiphub case store as linkage input (``tiphub link`` without a PATH)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine

from tiphub.linkage.records import (
    IDENTITY_COLUMNS,
    RecordSet,
    alpha3_from_alpha2,
    sex_from_gender,
)
from tiphub.store.models import Organisation, Person, PersonIdentifier, PersonIdentity


def person_key(organisation: str, external_id: str) -> str:
    """The record ID of a stored person: ``<organisation slug>:<person external ID>``."""
    return f"{organisation}:{external_id}"


def store_records(engine: Engine) -> RecordSet:
    """Every stored person with any identity, one list per organisation."""
    query = (
        select(
            Person.id,
            Organisation.slug,
            Person.external_id,
            Person.gender,
            Person.citizenship,
            PersonIdentity.first_name,
            PersonIdentity.middle_name,
            PersonIdentity.family_name,
            PersonIdentity.birth_date,
            PersonIdentity.mailing_street,
            PersonIdentity.mailing_postal_code,
            PersonIdentity.mailing_city,
        )
        .join(Organisation, Organisation.id == Person.organisation_id)
        .outerjoin(PersonIdentity, PersonIdentity.person_id == Person.id)
        .order_by(Organisation.slug, Person.external_id)
    )
    identifiers: dict[Any, str] = {}
    with engine.connect() as connection:
        rows = connection.execute(query).all()
        for person_id, value in connection.execute(
            select(PersonIdentifier.person_id, PersonIdentifier.value).order_by(
                PersonIdentifier.person_id, PersonIdentifier.position
            )
        ):
            identifiers.setdefault(person_id, value)
    records: list[dict[str, Any]] = []
    for row in rows:
        given = " ".join(part for part in (row.first_name, row.middle_name) if part) or None
        if not (given or row.family_name or row.birth_date):
            continue
        records.append(
            {
                "record_id": person_key(row.slug, row.external_id),
                "list": row.slug,
                "given_name": given,
                "family_name": row.family_name,
                "sex": sex_from_gender(row.gender),
                "date_of_birth": row.birth_date.isoformat() if row.birth_date else None,
                "nationality": alpha3_from_alpha2(row.citizenship[0]) if row.citizenship else None,
                "identifier": identifiers.get(row.id),
                "address": row.mailing_street,
                "postcode": row.mailing_postal_code,
                "city": row.mailing_city,
            }
        )
    frame = pd.DataFrame(records, columns=["record_id", "list", *IDENTITY_COLUMNS])
    frame = frame.astype(object).where(frame.notna(), None)
    frame["source_file"] = "database"
    return RecordSet(frame, ("database",))
