"""Exact-match search for people by blind index, never by reading names.

Names, birth dates and identifiers are sealed (``tiphub.store.crypto``): SQL cannot compare
them. Each row carries, next to its sealed value, a keyed HMAC of the normalised value (case,
accents and spacing removed); a search computes the same HMAC of what it looks for and
compares that. ``blind_index_values`` is what ``CaseWriter`` stores, so both sides agree.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Connection, Select, Table, select

from tiphub.store import crypto
from tiphub.store import models as m

IDENTIFIER_CONTEXT = "person_identifier.value"


def _identity() -> Table:
    return m.PersonIdentity.__table__  # type: ignore[return-value]


def _identifiers() -> Table:
    return m.PersonIdentifier.__table__  # type: ignore[return-value]


def index_text(value: Any) -> str | None:
    """The text a value is indexed as: a date as ISO ``YYYY-MM-DD``, blanks as nothing."""
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    return text if text.strip() else None


def blind_index_of(ring: crypto.Keyring, context: str, value: Any) -> str | None:
    text = index_text(value)
    return None if text is None else ring.blind_index(context, text)


def identity_index_values(
    ring: crypto.Keyring, first_name: Any, family_name: Any, birth_date: Any
) -> dict[str, str | None]:
    """The three ``person_identity.*_index`` columns of one row (one HMAC each)."""
    return {
        "first_name_index": blind_index_of(ring, "person_identity.first_name", first_name),
        "family_name_index": blind_index_of(ring, "person_identity.family_name", family_name),
        "birth_date_index": blind_index_of(ring, "person_identity.birth_date", birth_date),
    }


def _birth_date_text(value: dt.date | str) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    try:
        return dt.date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        return value


def person_ids_query(
    *,
    family_name: str | None = None,
    first_name: str | None = None,
    birth_date: dt.date | str | None = None,
    identifier: str | None = None,
) -> Select[uuid.UUID]:
    """A ``SELECT person_id`` of the people matching every criterion given, exactly.

    Case, accents and spacing do not matter ("MÜLLER" finds "Muller"); anything else does
    (no prefixes, no typos: that is record linkage's job). A blank criterion counts as not
    given; giving none raises ``ValueError`` rather than selecting everyone.
    """
    ring = crypto.keyring()
    identity = _identity()
    wanted = {
        "first_name_index": blind_index_of(ring, "person_identity.first_name", first_name),
        "family_name_index": blind_index_of(ring, "person_identity.family_name", family_name),
        "birth_date_index": (
            blind_index_of(ring, "person_identity.birth_date", _birth_date_text(birth_date))
            if birth_date is not None
            else None
        ),
    }
    identifier_index = blind_index_of(ring, IDENTIFIER_CONTEXT, identifier)
    conditions = [identity.c[column] == digest for column, digest in wanted.items() if digest]
    if identifier_index is not None:
        identifiers = _identifiers()
        holders = select(identifiers.c.person_id).where(
            identifiers.c.value_index == identifier_index
        )
        if not conditions:
            return holders.distinct()
        conditions.append(identity.c.person_id.in_(holders))
    if not conditions:
        raise ValueError("give at least one of family name, first name, birth date, identifier")
    return select(identity.c.person_id).where(*conditions)


def person_ids_matching(
    connection: Connection,
    *,
    family_name: str | None = None,
    first_name: str | None = None,
    birth_date: dt.date | str | None = None,
    identifier: str | None = None,
) -> list[uuid.UUID]:
    """The ids of the people matching every criterion given (see ``person_ids_query``)."""
    query = person_ids_query(
        family_name=family_name,
        first_name=first_name,
        birth_date=birth_date,
        identifier=identifier,
    )
    return list(connection.execute(query).scalars())
