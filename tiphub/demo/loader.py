"""Load the synthetic demo data set into the store, with its ground truth on the side.

Each case's demo screenings (:mod:`tiphub.demo.screenings`) go into the ``screening`` table
with it; their ids are derived from the seed and the case, so loading the same demo again
adds none.
"""

from __future__ import annotations

import csv
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, select, update

from tiphub.cases.persistence import CaseWriter, lock_case_writes, table_of
from tiphub.cases.schema import CaseRecord
from tiphub.demo.generator import demo_organisations, generate
from tiphub.demo.screenings import screenings_for
from tiphub.files import open_private
from tiphub.store import models as m
from tiphub.store.db import ensure_schema, refresh_statistics
from tiphub.store.models import new_id, utcnow

TRUTH_HEADER = ["organisation", "case_external_id", "person_external_id", "true_person_id"]


@dataclass(frozen=True)
class DemoLoad:
    cases: int
    organisations: int
    truth_rows: int


def ensure_demo_organisations(engine: Engine) -> int:
    table = table_of(m.Organisation)
    organisations = demo_organisations()
    with engine.begin() as connection:
        existing = set(connection.execute(select(table.c.slug)).scalars())
        for org in organisations:
            values = {"name": org.name, "type": org.type, "country": org.country}
            if org.slug in existing:
                connection.execute(update(table).where(table.c.slug == org.slug).values(**values))
            else:
                connection.execute(
                    table.insert(),
                    {"id": new_id(), "slug": org.slug, "created_at": utcnow(), **values},
                )
    return len(organisations)


def _case_ids(
    connection: Connection, writer: CaseWriter, records: Sequence[CaseRecord]
) -> dict[tuple[str, str], tuple[uuid.UUID, uuid.UUID]]:
    """(organisation slug, case external id) → (case id, organisation id) of the records."""
    case = table_of(m.Case)
    org_ids = {slug: writer.organisation_id(slug) for slug in {r.organisation for r in records}}
    slug_of = {org_id: slug for slug, org_id in org_ids.items()}
    wanted = {(r.organisation, r.external_id) for r in records}
    found = connection.execute(
        select(case.c.id, case.c.organisation_id, case.c.external_id).where(
            case.c.organisation_id.in_(list(slug_of)),
            case.c.external_id.in_([external for _, external in wanted]),
        )
    )
    ids = {}
    for row in found:
        key = (slug_of[row.organisation_id], row.external_id)
        if key in wanted:
            ids[key] = (row.id, row.organisation_id)
    return ids


def _write_batch(
    connection: Connection, writer: CaseWriter, records: Sequence[CaseRecord], seed: int
) -> None:
    """Write the cases, then their screenings (those not stored yet: a screening's id is
    derived from the seed and its case, so loading the same demo again adds none)."""
    writer.write(records)
    written = _case_ids(connection, writer, records)
    rows = []
    for record in records:
        key = (record.organisation, record.external_id)
        if key not in written:
            continue
        case_id, organisation_id = written[key]
        for screening in screenings_for(record, seed):
            in_case = screening.case_external_id is not None
            rows.append(screening.row(organisation_id, case_id if in_case else None))
    if not rows:
        return
    table = table_of(m.Screening)
    stored = set(
        connection.execute(
            select(table.c.id).where(table.c.id.in_([row["id"] for row in rows]))
        ).scalars()
    )
    new = [row for row in rows if row["id"] not in stored]
    if new:
        connection.execute(table.insert(), new)


def load_demo(
    engine: Engine,
    cases: int,
    seed: int,
    truth_path: Path | None = None,
    on_progress: Callable[[int], None] | None = None,
    batch_size: int = 1_000,
) -> DemoLoad:
    """Generate ``cases`` synthetic cases with ``seed`` and write them in one transaction."""
    ensure_schema(engine)
    organisations = ensure_demo_organisations(engine)
    truth_handle = open_private(truth_path, newline="", encoding="utf-8") if truth_path else None
    truth_writer = csv.writer(truth_handle) if truth_handle else None
    if truth_writer:
        truth_writer.writerow(TRUTH_HEADER)
    done = truth_rows = 0
    batch: list[CaseRecord] = []
    try:
        with engine.begin() as connection:
            lock_case_writes(connection)
            writer = CaseWriter(connection, actor=f"tiphub-demo(seed={seed})")
            for record, truths in generate(cases, seed):
                batch.append(record)
                if truth_writer:
                    for truth in truths:
                        truth_writer.writerow(
                            [
                                truth.organisation,
                                truth.case_external_id,
                                truth.person_external_id,
                                truth.true_person_id,
                            ]
                        )
                        truth_rows += 1
                if len(batch) >= batch_size:
                    _write_batch(connection, writer, batch, seed)
                    done += len(batch)
                    batch.clear()
                    if on_progress:
                        on_progress(done)
            if batch:
                _write_batch(connection, writer, batch, seed)
                done += len(batch)
                if on_progress:
                    on_progress(done)
    finally:
        if truth_handle:
            truth_handle.close()
    refresh_statistics(engine, done)
    return DemoLoad(done, organisations, truth_rows)
