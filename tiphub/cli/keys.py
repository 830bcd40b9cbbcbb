"""``tiphub keys rotate | status``: the encryption keys of the survivors' identity values.

Nothing here ever prints key material: only key ids (random labels), the key file's path
and whether the keys match the fingerprints the database recorded.
"""

from __future__ import annotations

import logging
import stat
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from tiphub.cli.progress import errors, progress_bar
from tiphub.cli.text import plural

if TYPE_CHECKING:
    from sqlalchemy import Engine

console = Console(emoji=False, highlight=False)
keys_app = typer.Typer(
    no_args_is_help=True,
    help="Encryption keys of names, birth dates, identifiers and free text.",
)


def _engine() -> Engine:
    from tiphub.store.db import default_engine, upgrade

    logging.getLogger("alembic").setLevel(logging.WARNING)
    engine = default_engine()
    upgrade(engine)
    return engine


def _fail(error: Exception) -> typer.Exit:
    message = Text("error: ", style="red")
    message.append(str(error))
    errors.print(message, highlight=False, soft_wrap=True)
    return typer.Exit(2)


def _sealed_values(engine: Engine) -> int:
    """How many sealed values the database holds (the rotation's total)."""
    from sqlalchemy import func, select

    from tiphub.store import crypto
    from tiphub.store import models as m

    total = 0
    with engine.connect() as connection:
        for table_name, columns in crypto.sealed_columns(m.Base.metadata).items():
            table = m.Base.metadata.tables[table_name]
            for column in columns:
                total += connection.execute(
                    select(func.count()).select_from(table).where(table.c[column].is_not(None))
                ).scalar_one()
    return total


@keys_app.command("rotate")
def rotate_command(
    keep_old: Annotated[
        bool,
        typer.Option(
            "--keep-old",
            help="Keep the old keys in the key file after resealing (e.g. while backups "
            "sealed with them are still to be restored).",
        ),
    ] = False,
) -> None:
    """Reseal every stored value under a new key; the hub may keep running meanwhile."""
    from tiphub.cases.persistence import lock_case_writes
    from tiphub.store import crypto
    from tiphub.store.keys import check_keys, rotate

    engine = _engine()
    try:
        check_keys(engine)
        total = _sealed_values(engine)
        with progress_bar("resealing", total=max(total, 1)) as progress:
            task = progress.task_ids[0]

            def advance(column: str, done: int) -> None:
                progress.update(task, completed=done, description=f"resealing {column}")

            new_id, resealed = rotate(
                engine, keep_old=keep_old, on_progress=advance, write_lock=lock_case_writes
            )
            progress.update(task, completed=max(total, 1))
    except crypto.KeyProblem as error:
        raise _fail(error) from None
    console.print(f"New primary key: {new_id}. Resealed {plural(resealed, 'value')}.")
    if keep_old:
        console.print("The old keys stay in the key file (--keep-old).")
    else:
        console.print("The old keys were removed from the key file.")
    console.print(
        Text(
            f"Back up the key file {crypto.key_file_path()} now: backups of the old key file "
            "cannot read values sealed from now on.",
            style="bold yellow",
        )
    )


@dataclass(frozen=True)
class _Registered:
    key_id: str
    purpose: str
    fingerprint: str
    retired: bool


def _registered(engine: Engine) -> list[_Registered]:
    from sqlalchemy import select

    from tiphub.store import models as m

    table = m.KeyCheck.__table__
    with engine.connect() as connection:
        return [
            _Registered(row.key_id, row.purpose, row.fingerprint, row.retired_at is not None)
            for row in connection.execute(select(table).order_by(table.c.created_at))
        ]


@keys_app.command("status")
def status_command() -> None:
    """The key file, its key ids (which one seals new values) and whether they fit the database.

    Exits with 2 when the key file is missing, damaged or belongs to another database.
    """
    from tiphub.store import crypto

    engine = _engine()
    registered = _registered(engine)
    active = [key for key in registered if not key.retired]
    path = crypto.key_file_path()
    inline = bool(crypto._environment_keys())
    source = "TIPHUB_KEYS (environment)" if inline else str(path)
    problem: crypto.KeyProblem | None = None
    ring: crypto.Keyring | None = None
    try:
        ring = crypto.load_keyring(create=False)[0]
    except crypto.KeyProblem as error:
        problem = error

    if not active and isinstance(problem, crypto.KeyFileMissingError):
        console.print(f"Key file: {source} (not created yet)")
        console.print(
            "The database records no key yet: the first command that uses it creates one."
        )
        return
    console.print(f"Key file: {source}")
    if ring is None:
        console.print("  [red]cannot be read[/red]", highlight=False)
    elif not inline:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            console.print(
                f"  [yellow]readable by others (mode {mode:04o}); run chmod 600 on it[/yellow]"
            )

    table = Table("key id", "purpose", "in key file", "in database", "fingerprint matches")
    ids = [key.key_id for key in registered]
    if ring is not None:
        ids += [k for k in ring.encryption_keys if k not in ids]
        if "index" not in ids:
            ids.append("index")
    by_id = {key.key_id: key for key in registered}
    matches = ring is not None
    for key_id in ids:
        row = by_id.get(key_id)
        purpose = "index" if key_id == "index" else "encryption"
        if ring is not None and key_id == ring.primary:
            purpose += " (primary)"
        held = ring is not None and (key_id == "index" or key_id in ring.encryption_keys)
        in_database = "no" if row is None else "retired" if row.retired else "yes"
        fits = "—"
        if ring is not None and held and row is not None:
            expected = ring.index_fingerprint() if key_id == "index" else ring.fingerprint(key_id)
            fits = "yes" if expected == row.fingerprint else "no"
        if row is not None and not row.retired and fits != "yes":
            matches = False
        table.add_row(key_id, purpose, "yes" if held else "no", in_database, fits)
    console.print(table)
    console.print(f"Keys match the database: {'yes' if matches else 'no'}")
    if problem is not None:
        raise _fail(problem)
    if not matches:
        raise _fail(
            crypto.KeyMismatchError(
                f"the key file {source} does not hold every key this database's values are "
                "sealed with; restore the key file that belongs to this database"
            )
        )
