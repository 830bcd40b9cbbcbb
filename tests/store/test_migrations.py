from __future__ import annotations

from sqlalchemy import Engine

from tiphub.store.db import downgrade, table_names, upgrade
from tiphub.store.models import Base


def test_migrations_go_down_to_nothing_and_up_to_the_models(engine: Engine) -> None:
    expected = {table.name for table in Base.metadata.sorted_tables}
    assert expected <= table_names(engine)
    downgrade(engine, "base")
    assert table_names(engine) - {"alembic_version"} == set()
    upgrade(engine)
    assert expected <= table_names(engine)


def test_identity_fields_are_in_their_own_table() -> None:
    person = Base.metadata.tables["person"]
    identity = Base.metadata.tables["person_identity"]
    for field in ("first_name", "family_name", "birth_date", "email", "mobile_phone"):
        assert field in identity.c
        assert field not in person.c
