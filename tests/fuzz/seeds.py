"""Seed files for the mutators: demo cases with planted identity markers, in every format.

The seed database and exports are made in a forked child so that the runner's own process
holds no engine, cache or temporary folder of tiphub's when it forks the cases.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
from dataclasses import dataclass
from pathlib import Path

from tests.fuzz import markers, xlsx
from tests.fuzz.harness import call_in_child

SEED_CASES = 12
LINK_COLUMNS = (
    "record_id",
    "list",
    "given_name",
    "family_name",
    "date_of_birth",
    "sex",
    "nationality",
    "place_of_birth",
    "identifier",
    "address",
    "postcode",
    "city",
    "region",
)
SECRET = b"fuzz-secret-0123456789-abcdefghij"
XLSFORM_RENAMES = {
    "prs_FirstName": "prs_First_Name",
    "prs_SecondName": "prs_Second_Name",
    "vic_MethodsOfControl": "vic_Methods_of_Control",
}
XLSFORM_GROUPS = ("person", "victim", "case_info")


@dataclass(frozen=True)
class Seeds:
    folder: Path
    database: Path  # SQLite, the demo cases with markers planted
    organisation: str
    files: dict[str, Path]  # htcds-csv, htcds-xlsx, jsonl, xlsform-csv, xlsform-xlsx
    link: Path
    encoded: tuple[Path, Path]  # `tiphub linkage encode` outputs (with their .json sidecars)
    secret: Path
    xxe_secret: Path

    def read_csv(self, key: str) -> list[list[str]]:
        with self.files[key].open(encoding="utf-8", newline="") as handle:
            return list(csv.reader(handle))


def plant_markers(url: str) -> None:
    """Give every stored person marker names, birth date, phone and identifier."""
    from sqlalchemy import select, update

    from tiphub.store import models as m
    from tiphub.store.db import make_engine
    from tiphub.store.models import table_of

    identity = table_of(m.PersonIdentity)
    identifier_table = table_of(m.PersonIdentifier)
    engine = make_engine(url)
    # Through the typed columns, so the markers are sealed like any stored name.
    with engine.begin() as connection:
        people = connection.execute(
            select(identity.c.person_id).order_by(identity.c.person_id)
        ).scalars().all()
        for index, person in enumerate(people):
            connection.execute(
                update(identity)
                .where(identity.c.person_id == person)
                .values(
                    first_name=markers.FIRST_NAMES[index % len(markers.FIRST_NAMES)],
                    family_name=markers.FAMILY_NAMES[index % len(markers.FAMILY_NAMES)],
                    birth_date=dt.date.fromisoformat(
                        markers.BIRTH_DATES[index % len(markers.BIRTH_DATES)]
                    ),
                    mobile_phone=markers.PHONES[index % len(markers.PHONES)],
                    email=markers.EMAILS[0] if index % 2 else None,
                )
            )
        identifiers = connection.execute(
            select(identifier_table.c.id).order_by(identifier_table.c.id)
        ).scalars().all()
        for index, identifier in enumerate(identifiers):
            connection.execute(
                update(identifier_table)
                .where(identifier_table.c.id == identifier)
                .values(value=markers.IDENTIFIERS[index % len(markers.IDENTIFIERS)])
            )
    engine.dispose()


def load_seed_database(url: str, cases: int, seed: int) -> None:
    """Demo cases with markers in the database at ``url`` (run in a child)."""
    from tiphub.demo.loader import load_demo
    from tiphub.store.db import ensure_schema, make_engine

    engine = make_engine(url)
    ensure_schema(engine)
    load_demo(engine, cases, seed, None)
    engine.dispose()
    plant_markers(url)


def _export_seeds(folder: Path, cases: int, seed: int) -> None:
    from tiphub.exchange.exporter import export
    from tiphub.linkage.encoding import encode
    from tiphub.linkage.records import read_records
    from tiphub.store.db import make_engine

    database = folder / "seed.db"
    url = f"sqlite:///{database}"
    load_seed_database(url, cases, seed)
    engine = make_engine(url)
    for fmt, name in (("htcds-csv", "seed.csv"), ("htcds-xlsx", "seed.xlsx"), ("jsonl", "seed.jsonl")):
        export(folder / name, fmt, engine=engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    for index, part in enumerate(("link-a.csv", "link-b.csv")):
        records = read_records([folder / part])
        encode(records.frame, SECRET).write_csv(folder / f"encoded-{'ab'[index]}.csv")


def build_seeds(folder: Path, cases: int = SEED_CASES, seed: int = 7) -> Seeds:
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    link_rows = link_records(rng, 60)
    half = len(link_rows) // 2
    for name, rows in (("link.csv", link_rows), ("link-a.csv", link_rows[:half]), ("link-b.csv", link_rows[half:])):
        write_csv(folder / name, [list(LINK_COLUMNS), *rows])
    (folder / "secret.key").write_bytes(SECRET)
    xxe_secret = folder / "xxe-secret.txt"
    xxe_secret.write_text(markers.XXE_SECRET + "\n")
    call_in_child(_export_seeds, folder, cases, seed)
    htcds_rows = _read_rows(folder / "seed.csv")
    organisation = htcds_rows[1][htcds_rows[0].index("tip_Organisation")]
    header, submissions = xlsform_submissions(htcds_rows, rng)
    write_csv(folder / "xlsform.csv", [header, *submissions])
    xlsx.write_rows(folder / "xlsform.xlsx", [header, *submissions])
    return Seeds(
        folder=folder,
        database=folder / "seed.db",
        organisation=organisation,
        files={
            "htcds-csv": folder / "seed.csv",
            "htcds-xlsx": folder / "seed.xlsx",
            "jsonl": folder / "seed.jsonl",
            "xlsform-csv": folder / "xlsform.csv",
            "xlsform-xlsx": folder / "xlsform.xlsx",
        },
        link=folder / "link.csv",
        encoded=(folder / "encoded-a.csv", folder / "encoded-b.csv"),
        secret=folder / "secret.key",
        xxe_secret=xxe_secret,
    )


def _read_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def write_csv(path: Path, rows: list[list[str]]) -> None:
    path.write_text(csv_text(rows), encoding="utf-8")


def csv_text(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


def xlsform_submissions(htcds_rows: list[list[str]], rng: random.Random) -> tuple[list[str], list[list[str]]]:
    """The HTCDS rows as ODK/Kobo would export the XLSForm's submissions.

    Field names of the form, group prefixes (Kobo ``group/field``, ODK ``group-field``),
    space-separated multi-selects, one multi-select split into ``field/choice`` 0/1 columns,
    and the metadata columns the servers add.
    """
    from tiphub.exchange.xlsform import MULTI_SELECT

    header, rows = htcds_rows[0], htcds_rows[1:]
    keep = [i for i, name in enumerate(header) if name[:4] in ("cas_", "prs_", "vic_", "con_")]
    split_field = "vic_TypeOfExploitation"
    split_index = header.index(split_field)
    choices = sorted({code for row in rows for code in row[split_index].split("|") if code})
    names = []
    for position, i in enumerate(keep):
        name = XLSFORM_RENAMES.get(header[i], header[i])
        group = XLSFORM_GROUPS[position % len(XLSFORM_GROUPS)]
        names.append(f"{group}/{name}" if position % 2 else f"{group}-{name}")
    out_header = [
        "start",
        "end",
        *(names[j] for j, i in enumerate(keep) if header[i] != split_field),
        *(f"victim/{split_field}/{choice}" for choice in choices),
        "meta/instanceID",
        "_uuid",
        "_submission_time",
        "_index",
    ]
    submissions = []
    for index, row in enumerate(rows):
        uuid = f"{rng.getrandbits(128):032x}"
        uuid = f"{uuid[:8]}-{uuid[8:12]}-{uuid[12:16]}-{uuid[16:20]}-{uuid[20:]}"
        values = [
            row[i].replace("|", " ") if header[i] in MULTI_SELECT else row[i]
            for i in keep
            if header[i] != split_field
        ]
        chosen = set(row[split_index].split("|"))
        submissions.append(
            [
                "2024-01-05T10:00:00.000+02:00",
                "2024-01-05T10:20:00.000+02:00",
                *values,
                *("1" if choice in chosen else "0" for choice in choices),
                f"uuid:{uuid}",
                uuid,
                "2024-01-05T08:21:00",
                str(index + 1),
            ]
        )
    return out_header, submissions


GIVEN = ("Maria", "Ioana", "Elena", "Aye", "Somchai", "Olena", "Ana", "Mihai", "Nguyen", "Sara")
FAMILY = ("Popescu", "Ionescu", "Oo", "Kowalska", "Shevchenko", "Rusu", "Tran", "Stan", "Lupu")
CITIES = ("Brasov", "Iasi", "Yangon", "Lviv", "Hanoi", "Chisinau")


def link_records(rng: random.Random, count: int) -> list[list[str]]:
    """People on three lists, some seen twice with small typos; a third carry markers."""
    rows: list[list[str]] = []
    people = []
    for index in range(count * 2 // 3):
        if index % 3 == 0:
            given = markers.FIRST_NAMES[index % len(markers.FIRST_NAMES)]
            family = markers.FAMILY_NAMES[index % len(markers.FAMILY_NAMES)]
            born = markers.BIRTH_DATES[index % len(markers.BIRTH_DATES)]
            identifier = markers.IDENTIFIERS[index % len(markers.IDENTIFIERS)]
        else:
            given, family = rng.choice(GIVEN), rng.choice(FAMILY)
            born = f"{rng.randint(1960, 2006)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            identifier = f"ID{rng.randint(100000, 999999)}"
        people.append(
            [given, family, born, rng.choice("FM"), rng.choice(("ROU", "MDA", "UKR", "MMR", "VNM")),
             rng.choice(CITIES), identifier, f"{rng.randint(1, 99)} Strada Lunga", f"{rng.randint(10000, 99999)}", rng.choice(CITIES), rng.choice(("north", "south"))]
        )
    for index in range(count):
        person = list(people[index % len(people)] if index < len(people) else rng.choice(people))
        if index >= len(people) and rng.random() < 0.5:
            person[0] = person[0][:-1] + rng.choice("aeiou")
        rows.append([f"R{index:04d}", ("police", "ngo", "labour")[index % 3], *person])
    return rows


def jsonl_documents(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
