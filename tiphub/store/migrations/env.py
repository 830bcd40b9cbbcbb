"""Alembic environment: runs against the engine tiphub hands it (no alembic.ini needed)."""

from __future__ import annotations

from alembic import context

from tiphub.store.models import Base

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Batch mode rebuilds a SQLite table by copy, drop and rename. With foreign keys on,
        # dropping the old table cascade-deletes every row that refers to it (rebuilding
        # ``organisation`` emptied person, case_file and all their children). The pragma is
        # ignored inside a transaction, so it is set before the migration's transaction.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    try:
        with connection.begin():
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                render_as_batch=sqlite,
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(
                        f"the migration left {len(broken)} row(s) referring to missing rows; "
                        "it was rolled back"
                    )
    finally:
        if sqlite:
            connection.rollback()
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()
