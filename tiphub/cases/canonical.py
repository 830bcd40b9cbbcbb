"""The canonical JSON form of a case: no nulls, no empty lists, codes not labels.

Two records with the same canonical form are the same record; its hash decides
whether a re-import changes anything.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from tiphub.cases.schema import CaseRecord, PersonRecord

IDENTITY_FIELDS = (
    "salutation",
    "first_name",
    "middle_name",
    "family_name",
    "title",
    "birth_date",
    "email",
    "home_phone",
    "mobile_phone",
    "mailing_street",
    "mailing_city",
    "mailing_state",
    "mailing_postal_code",
    "mailing_country",
    "mailing_latitude",
    "mailing_longitude",
    "identifiers",
)


def clean(value: Any) -> Any:
    """Drop ``None`` values and empty lists, recursively."""
    if isinstance(value, dict):
        cleaned = {
            key: clean(item) if isinstance(item, dict | list) else item
            for key, item in value.items()
        }
        return {key: item for key, item in cleaned.items() if item is not None and item != []}
    if isinstance(value, list):
        return [clean(item) if isinstance(item, dict | list) else item for item in value]
    return value


def _drop_empty_lists(value: Any) -> Any:
    """``clean`` for a fresh JSON-mode dump without nulls: empty lists deleted in place, no
    copies. Such a dump holds only dicts, lists and scalars, so exact type checks suffice."""
    if type(value) is dict:
        empty = [key for key, item in value.items() if type(item) is list and not item]
        for key in empty:
            del value[key]
        for item in value.values():
            if type(item) is dict or type(item) is list:
                _drop_empty_lists(item)
    elif type(value) is list:
        for item in value:
            if type(item) is dict or type(item) is list:
                _drop_empty_lists(item)
    return value


def case_document(record: CaseRecord) -> dict[str, Any]:
    # pydantic drops the nulls natively (fast) into a new structure of its own, which is
    # then pruned in place: imports make one per case.
    return _drop_empty_lists(record.model_dump(mode="json", exclude_none=True))  # type: ignore[no-any-return]


def person_document(record: PersonRecord) -> dict[str, Any]:
    return _drop_empty_lists(record.model_dump(mode="json", exclude_none=True))  # type: ignore[no-any-return]


def without_identity(document: dict[str, Any]) -> dict[str, Any]:
    """A case document with each person reduced to non-identifying facts (for audit rows)."""
    stripped = dict(document)
    stripped["participants"] = [
        {
            **participant,
            "person": {
                key: value
                for key, value in participant["person"].items()
                if key not in IDENTITY_FIELDS
            },
        }
        for participant in document["participants"]
    ]
    return stripped


def content_hash(document: dict[str, Any]) -> str:
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()
