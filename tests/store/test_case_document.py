"""The case page's one-statement read gives exactly what the table-by-table export read gives.

Runs on SQLite, and on PostgreSQL when ``TIPHUB_TEST_DATABASE_URL`` is set: each dialect
writes the rows as JSON in its own way (booleans, floats, UUIDs, JSON columns).
"""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import Engine, func, select, text

from tiphub.cases.persistence import case_document_of, iter_case_documents
from tiphub.demo.loader import load_demo
from tiphub.store import models as m
from tiphub.store.db import STATISTICS_REFRESH_ROWS, refresh_statistics
from tiphub.store.models import table_of

EVERY_CHILD_TABLE = (
    m.CaseParticipant,
    m.Person,
    m.PersonIdentity,
    m.PersonIdentifier,
    m.VictimContext,
    m.PerpetratorContext,
    m.TraffickingStatusAssertion,
    m.TraffickingEvent,
    m.Consent,
    m.Referral,
    m.SupportPlan,
    m.ServiceProvision,
    m.Note,
    m.IdentificationDecision,
    m.CriminalProceeding,
)


def test_one_statement_read_equals_the_table_by_table_read(engine: Engine) -> None:
    load_demo(engine, 160, 11)
    with engine.connect() as connection:
        # every kind of row is there, so every decoder is exercised
        for model in EVERY_CHILD_TABLE:
            count = connection.execute(select(func.count()).select_from(table_of(model)))
            assert count.scalar_one() > 0, model.__tablename__
        ids = {
            (slug, external_id): case_id
            for case_id, slug, external_id in connection.execute(
                select(
                    table_of(m.Case).c.id, table_of(m.Organisation).c.slug, m.Case.external_id
                ).join(table_of(m.Organisation))
            )
        }
        compared = 0
        for include_identity in (True, False):
            for expected in iter_case_documents(connection, include_identity=include_identity):
                case_id = ids[(expected["organisation"], expected["external_id"])]
                got = case_document_of(connection, case_id, include_identity=include_identity)
                assert got == expected
                # the same JSON, key order included: what the API sends does not change
                assert json.dumps(got) == json.dumps(expected)
                compared += 1
        assert compared == 2 * len(ids) == 320
        assert case_document_of(connection, uuid.uuid4()) is None


def test_a_bulk_load_leaves_the_planner_statistics_current(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("planner statistics are refreshed on PostgreSQL only")
    load_demo(engine, 23, 2)
    refresh_statistics(engine, STATISTICS_REFRESH_ROWS - 1)  # a small write: nothing to do
    with engine.connect() as connection:
        before = connection.execute(
            text("SELECT reltuples FROM pg_class WHERE relname = 'case_file'")
        ).scalar_one()
    assert before != 23
    refresh_statistics(engine, STATISTICS_REFRESH_ROWS)
    with engine.connect() as connection:
        after = connection.execute(
            text("SELECT reltuples FROM pg_class WHERE relname = 'case_file'")
        ).scalar_one()
    assert after == 23
