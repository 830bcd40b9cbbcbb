"""The answer key of the demo data: which synthetic person each record really is."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from tiphub.demo.generator import TruthRow
from tiphub.files import open_private

TRUTH_COLUMNS = ("organisation", "case_external_id", "person_external_id", "true_person_id")


def write_truth(rows: Iterable[TruthRow], path: Path) -> int:
    """Write the rows as CSV (UTF-8, header first); return how many rows were written."""
    count = 0
    with open_private(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(TRUTH_COLUMNS)
        for row in rows:
            writer.writerow(
                (row.organisation, row.case_external_id, row.person_external_id, row.true_person_id)
            )
            count += 1
    return count
