"""The database side of the keys: fingerprints, the first-start check and key rotation."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, Table, select, type_coerce, update
from sqlalchemy.types import Text

from tiphub.store import crypto
from tiphub.store import models as m
from tiphub.store.models import table_of

ROTATION_BATCH = 2_000


@dataclass(frozen=True)
class KeyStatus:
    key_file: str
    created: bool
    primary: str


def _key_check() -> Table:
    return table_of(m.KeyCheck)


def register(connection: Connection, ring: crypto.Keyring) -> None:
    """Record the fingerprints of the ring's keys that the database does not know yet."""
    table = _key_check()
    known = set(connection.execute(select(table.c.key_id)).scalars())
    rows = [
        {"key_id": key_id, "purpose": "encryption", "fingerprint": ring.fingerprint(key_id)}
        for key_id in ring.encryption_keys
        if key_id not in known
    ]
    if "index" not in known:
        rows.append(
            {"key_id": "index", "purpose": "index", "fingerprint": ring.index_fingerprint()}
        )
    if rows:
        connection.execute(table.insert(), [{**row, "created_at": m.utcnow()} for row in rows])


def check_keys(engine: Engine) -> KeyStatus:
    """Make sure this process holds the keys the database was sealed with.

    A database that has never sealed anything gets a new key file; one that has must find
    its keys, or the user is told which file is missing instead of a second key being made.
    """
    table = table_of(m.KeyCheck)
    with engine.begin() as connection:
        registered = {
            row.key_id: row for row in connection.execute(select(table)) if row.retired_at is None
        }
        ring, created = crypto.load_keyring(create=not registered)
        for key_id, row in registered.items():
            if key_id == "index":
                matches = row.fingerprint == ring.index_fingerprint()
            else:
                matches = key_id in ring.encryption_keys and row.fingerprint == ring.fingerprint(
                    key_id
                )
            if not matches:
                what = "search index key" if key_id == "index" else f"key {key_id}"
                raise crypto.KeyMismatchError(
                    f"the key file {ring.source or 'TIPHUB_KEYS'} does not hold the {what} "
                    "that this database's names are sealed with; restore the key "
                    "file that belongs to this database (or point TIPHUB_KEY_FILE at it)"
                )
        register(connection, ring)
    return KeyStatus(ring.source or "TIPHUB_KEYS", created, ring.primary)


def _primary_key(table: Table) -> str:
    (column,) = table.primary_key.columns
    return column.name


def _reseal(
    engine: Engine,
    ring: crypto.Keyring,
    on_progress: Callable[[str, int], None] | None,
    connection: Connection | None = None,
) -> int:
    """Seal every value not yet under the ring's primary key again; batches commit on their
    own unless ``connection`` (one transaction) is given."""
    resealed = 0
    for table_name, columns in crypto.sealed_columns(m.Base.metadata).items():
        table = m.Base.metadata.tables[table_name]
        key = _primary_key(table)
        for column in columns:
            sealed_type = table.c[column].type
            assert isinstance(sealed_type, crypto.Sealed)
            raw = type_coerce(table.c[column], Text)
            last = None
            while True:
                query = select(table.c[key], raw).where(
                    table.c[column].is_not(None),
                    ~raw.startswith(f"{crypto.PREFIX}:{ring.primary}:"),
                )
                if last is not None:
                    query = query.where(table.c[key] > last)
                query = query.order_by(table.c[key]).limit(ROTATION_BATCH)
                with nullcontext(connection) if connection else engine.begin() as batch:
                    rows = batch.execute(query).all()
                    if not rows:
                        break
                    for row_key, token in rows:
                        plain = ring.open(str(token), sealed_type.context)
                        batch.execute(
                            update(table)
                            .where(table.c[key] == row_key)
                            .values(
                                {column: type_coerce(ring.seal(plain, sealed_type.context), Text)}
                            )
                        )
                    last = rows[-1][0]
                    resealed += len(rows)
                if on_progress:
                    on_progress(f"{table_name}.{column}", resealed)
    return resealed


def rotate(
    engine: Engine,
    keep_old: bool = False,
    on_progress: Callable[[str, int], None] | None = None,
    write_lock: Callable[[Connection], None] | None = None,
) -> tuple[str, int]:
    """Seal everything under a new key while the hub keeps running; return (new id, values).

    The new key is written to the key file first, next to the old ones, so every process
    can read both kinds of value during the rotation; each batch is its own transaction.
    The old keys leave the key file only after a last sweep under ``write_lock`` (the case
    store's write lock), which waits for any import that sealed values with the old key
    before the rotation began and is still to commit.
    """
    check_keys(engine)
    ring = crypto.keyring()
    fresh = crypto.Keyring.generate()
    new_id = fresh.primary
    rotated = crypto.Keyring(
        new_id,
        {**ring.encryption_keys, new_id: fresh.encryption_keys[new_id]},
        ring.index_key,
        ring.source,
    )
    crypto.save_keyring(rotated)
    with engine.begin() as connection:
        register(connection, rotated)
    # Running processes re-read the key file at most this often; after it, they seal new
    # values with the new key.
    time.sleep(crypto.KEY_FILE_RECHECK_SECONDS * 1.5)
    resealed = _reseal(engine, rotated, on_progress)
    if keep_old:
        return new_id, resealed
    with engine.begin() as connection:
        if write_lock is not None:
            write_lock(connection)
        resealed += _reseal(engine, rotated, on_progress, connection)
        connection.execute(
            update(_key_check())
            .where(_key_check().c.key_id.not_in([new_id, "index"]))
            .values(retired_at=dt.datetime.now(dt.UTC))
        )
    crypto.save_keyring(
        crypto.Keyring(
            new_id, {new_id: rotated.encryption_keys[new_id]}, ring.index_key, ring.source
        )
    )
    return new_id, resealed


def key_file_location() -> Path:
    return crypto.key_file_path()
