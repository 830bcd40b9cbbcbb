"""Small synthetic cases for tests (invented people; no real personal data)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from tiphub.cases import accounts
from tiphub.cases.access import Principal, built_in_roles


def victim(person_id: str = "p1", **person: Any) -> dict[str, Any]:
    return {
        "role": "PresumedVictim",
        "person": {
            "external_id": person_id,
            "first_name": "Ana",
            "family_name": "Popescu",
            "gender": "Feminine",
            "birth_date": "1999-04-02",
            "citizenship": ["RO"],
            **person,
        },
        "victim": {
            "trafficking_status": [
                {
                    "status": "PossibleVictimOfTrafficking",
                    "decided_by_type": "NGO",
                    "asserted_by": "ngo-east",
                    "asserted_on": "2024-03-01",
                }
            ],
            "exploitation_types": ["SexualExploitation"],
            "means_of_control": ["FalsePromises", "DebtBondage"],
        },
    }


def case(
    external_id: str = "case-1", organisation: str = "ngo-east", **fields: Any
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "external_id": external_id,
        "organisation": organisation,
        "status": "Active",
        "opened_on": "2024-03-01",
        "participants": [victim()],
        "events": [
            {
                "type": "Recruitment",
                "person_external_id": "p1",
                "country": "RO",
                "started_on": "2023-06-01",
            },
            {
                "type": "Exploitation",
                "person_external_id": "p1",
                "country": "DE",
                "started_on": "2023-07-01",
            },
        ],
        "consents": [
            {
                "person_external_id": "p1",
                "purpose": "DataProcessing",
                "given": True,
                "recorded_on": "2024-03-01",
            }
        ],
    }
    document.update(fields)
    return document


def role_principal(
    engine: Engine, username: str, organisation: str, role: str, team: str | None = None
) -> Principal:
    """A principal holding one built-in role, made without an account or a password."""
    spec = built_in_roles()[role]
    with engine.connect() as connection:
        organisation_id = accounts.organisation_id(connection, organisation)
    return Principal(
        username=username,
        organisation=organisation,
        organisation_id=organisation_id,
        roles=(role,),
        permissions=spec.permissions,
        scope=spec.scope,
        team=team,
        sees_identity=spec.sees_identity,
        source="test",
    )
