from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from tiphub.store.db import (
    downgrade,
    ensure_schema,
    head_revision,
    stored_revision,
    table_names,
    upgrade,
)
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


def test_the_head_read_off_file_names_is_alembics_head() -> None:
    from alembic.script import ScriptDirectory

    from tiphub.store.db import alembic_config, make_engine

    script = ScriptDirectory.from_config(alembic_config(make_engine("sqlite://")))
    assert head_revision() == script.get_current_head()


def test_a_database_at_the_head_is_not_migrated_again(engine: Engine) -> None:
    assert stored_revision(engine) == head_revision()
    downgrade(engine, "0005")
    assert stored_revision(engine) == "0005"
    ensure_schema(engine)  # the downgrade forgot this engine was ready: it checks again
    assert stored_revision(engine) == head_revision()
    assert {table.name for table in Base.metadata.sorted_tables} <= table_names(engine)


def test_a_new_database_has_no_revision(tmp_path: Path) -> None:
    from tiphub.store.db import make_engine

    assert stored_revision(make_engine(f"sqlite:///{tmp_path / 'new.db'}")) is None
