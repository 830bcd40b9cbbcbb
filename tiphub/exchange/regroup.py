"""Rows of one case brought together when a flat file scatters them.

A flat file has one row per victim; agencies sort them by anything (date, name, office),
so the rows of one case may be far apart. Rows are spilled to a temporary SQLite file and
read back case by case (cases in order of their first row, rows in file order): memory
stays flat whatever the file's size. The spilled rows hold names and birth dates, so each
is sealed with a key that exists only in this process's memory: the file is unreadable if
a crash leaves it behind, and it is deleted when reading ends.
"""

from __future__ import annotations

import pickle
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tiphub.exchange.seen import fingerprint
from tiphub.exchange.sources import Row
from tiphub.files import run_temp_dir

CASE_ID_COLUMN = "tip_CaseId"
SPILL_BATCH = 5_000


def _case_key(row: Row) -> int:
    """A fingerprint of the row's case ID; a row without one is a case of its own."""
    case_id = str(row.values.get(CASE_ID_COLUMN) or "").strip()
    return fingerprint("id", case_id) if case_id else fingerprint("row", str(row.number))


class Regrouped:
    """Iterates the rows of ``rows`` grouped by case; ``scattered`` counts the cases whose
    rows were not next to each other, once iteration has started."""

    def __init__(self, rows: Iterator[Row]) -> None:
        self._rows = rows
        self.scattered = 0

    def __iter__(self) -> Iterator[Row]:
        sealer = AESGCM(AESGCM.generate_key(bit_length=128))
        folder = Path(tempfile.mkdtemp(prefix="regroup-", dir=run_temp_dir()))
        path = folder / "rows.sqlite"
        database = sqlite3.connect(path)
        try:
            database.execute("PRAGMA journal_mode=OFF")
            database.execute("PRAGMA synchronous=OFF")
            database.execute(
                "CREATE TABLE spill (seq INTEGER PRIMARY KEY, case_key INTEGER, payload BLOB)"
            )
            self._spill(database, sealer)
            database.execute("CREATE INDEX spill_case ON spill (case_key, seq)")
            self.scattered = database.execute(
                "SELECT count(*) FROM (SELECT case_key FROM spill GROUP BY case_key "
                "HAVING max(seq) - min(seq) + 1 != count(*))"
            ).fetchone()[0]
            ordered = database.execute(
                "SELECT s.seq, s.payload FROM spill AS s JOIN "
                "(SELECT case_key, min(seq) AS first FROM spill GROUP BY case_key) AS g "
                "ON s.case_key = g.case_key ORDER BY g.first, s.seq"
            )
            for seq, payload in ordered:
                number, values = pickle.loads(sealer.decrypt(_nonce(seq), payload, None))
                yield Row(number, values)
        finally:
            database.close()
            path.unlink(missing_ok=True)
            folder.rmdir()

    def _spill(self, database: sqlite3.Connection, sealer: AESGCM) -> None:
        batch: list[tuple[int, int, bytes]] = []
        for seq, row in enumerate(self._rows):
            # Our own file, written and read by this process only: pickle keeps the
            # cells' types (dates and numbers from XLSX) as they were.
            payload = pickle.dumps((row.number, row.values), protocol=pickle.HIGHEST_PROTOCOL)
            batch.append((seq, _case_key(row), sealer.encrypt(_nonce(seq), payload, None)))
            if len(batch) >= SPILL_BATCH:
                database.executemany("INSERT INTO spill VALUES (?, ?, ?)", batch)
                batch.clear()
        database.executemany("INSERT INTO spill VALUES (?, ?, ?)", batch)


def _nonce(seq: int) -> bytes:
    # One key per spill and one sequence number per row: no nonce is ever used twice.
    return seq.to_bytes(12, "big")
