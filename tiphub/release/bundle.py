"""A release bundle, the CTDC publication format, made in memory and written whole.

Files: ``synthetic.csv`` (CTDC Global Synthetic Dataset column layout; absent for an
aggregates-only release), ``aggregates.csv`` (``combination``, ``count``), ``codebook.csv``,
``privacy.json``, ``metrics.json`` and ``report.html``.

``report.html`` and ``metrics.json`` measure the release against the real data: they are
for the people who approve it. The hub's public page publishes the other files; a
differentially private release's guarantee covers the released files only.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from tiphub.exchange.ctdc import SYNTHETIC_COLUMNS
from tiphub.release.metrics import (
    AttackResult,
    ReleaseMetrics,
    comparison_points,
    release_metrics,
    singling_out_attack,
)
from tiphub.release.report import render_report
from tiphub.release.table import ReleaseTable

PUBLIC_FILES = ("synthetic.csv", "aggregates.csv", "codebook.csv", "privacy.json")
REVIEW_FILES = ("metrics.json", "report.html")
CHART_POINTS = 4_000  # enough to see the shape; a million points would make a 100 MB page


@dataclass(frozen=True)
class Bundle:
    """The files of one release, by name."""

    files: dict[str, bytes]
    privacy: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)

    def public_files(self) -> dict[str, bytes]:
        return {name: data for name, data in self.files.items() if name in PUBLIC_FILES}

    def to_zip(self) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name in sorted(self.files):
                archive.writestr(name, self.files[name])
        return buffer.getvalue()

    @staticmethod
    def from_zip(data: bytes) -> Bundle:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            files = {name: archive.read(name) for name in archive.namelist()}
        privacy = json.loads(files["privacy.json"])
        metrics = json.loads(files["metrics.json"]) if "metrics.json" in files else {}
        return Bundle(files, privacy, metrics)

    def sha256(self) -> str:
        digest = hashlib.sha256()
        for name in sorted(self.files):
            digest.update(name.encode())
            digest.update(hashlib.sha256(self.files[name]).digest())
        return digest.hexdigest()

    def approved(self, by: str, on: dt.date) -> Bundle:
        """The same bundle with its approval stated (privacy.json and the report)."""
        privacy = {**self.privacy, "approved_by": by, "approved_on": on.isoformat()}
        files = dict(self.files)
        files["privacy.json"] = _json_bytes(privacy)
        if "report.html" in files:
            report = files["report.html"].decode("utf-8")
            files["report.html"] = report.replace(
                _APPROVAL_PENDING, f"Approved by {_escape(by)} on {on.isoformat()}."
            ).encode("utf-8")
        return replace(self, files=files, privacy=privacy)


_APPROVAL_PENDING = "Not yet approved."


def _escape(text: str) -> str:
    import html

    return html.escape(text, quote=True)


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True) + "\n").encode()


def _csv_bytes(header: list[str], rows: list[list[str]] | list[tuple[str, int]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def aggregates_csv(rows: list[tuple[str, int]]) -> bytes:
    return _csv_bytes(["combination", "count"], rows)


def synthetic_csv(table: ReleaseTable) -> bytes:
    """All 27 CTDC synthetic columns in their order; a column the input lacked stays empty."""
    lookups = {column.name: ("", *column.domain) for column in table.columns}
    positions = {name: position for position, name in enumerate(table.names)}
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(SYNTHETIC_COLUMNS)
    present = [(positions.get(name), lookups.get(name)) for name in SYNTHETIC_COLUMNS]
    for row in table.codes.tolist():
        writer.writerow(
            [
                "" if position is None or lookup is None else lookup[row[position]]
                for position, lookup in present
            ]
        )
    return buffer.getvalue().encode("utf-8")


def codebook_csv(table: ReleaseTable) -> bytes:
    rows = [
        [
            column.name,
            column.label,
            column.kind,
            column.describe_domain(),
            "|".join(column.domain),
            column.definition,
        ]
        for column in table.columns
    ]
    return _csv_bytes(["variable", "label", "type", "values", "domain", "definition"], rows)


def distinct_rows(table: ReleaseTable) -> tuple[list[dict[str, str]], list[int]]:
    """The table's distinct rows and how many times each occurs."""
    if table.n_rows == 0:
        return [], []
    distinct, counts = np.unique(table.codes, axis=0, return_counts=True)
    return table.with_codes(distinct).rows(), [int(count) for count in counts]


def measure(
    real: ReleaseTable,
    released: dict[str, int],
    *,
    k: int,
    max_length: int,
) -> tuple[ReleaseMetrics, AttackResult, list[tuple[str, int, int]]]:
    """Utility and risk by the independent metrics code (lengths 1..max_length)."""
    rows, weights = distinct_rows(real)
    columns = list(real.names)
    metrics = release_metrics(
        rows, released, columns=columns, k=k, max_length=max_length, weights=weights
    )
    attack = singling_out_attack(
        rows, released, columns=columns, k=k, max_length=max_length, weights=weights
    )
    points = comparison_points(
        rows, released, columns=columns, k=k, max_length=max_length, weights=weights
    )
    if len(points) > CHART_POINTS:
        step = len(points) / CHART_POINTS
        points = [points[int(i * step)] for i in range(CHART_POINTS)]
    return metrics, attack, points


def make_bundle(
    *,
    title: str,
    privacy: dict[str, Any],
    real: ReleaseTable,
    aggregates: list[tuple[str, int]],
    synthetic: ReleaseTable | None,
    k: int,
    max_length: int,
) -> Bundle:
    """Every file of a release; the measurements compare against ``real`` (the table the
    release was made from, after any coarsening)."""
    if synthetic is not None:
        from tiphub.release.table import count_combinations

        released = {
            synthetic.text(combination): count
            for combination, count in count_combinations(synthetic, max_length).items()
            if combination
        }
        released[""] = synthetic.n_rows
    else:
        released = dict(aggregates)
    metrics, attack, points = measure(real, released, k=k, max_length=max_length)
    privacy = {
        **privacy,
        "date": privacy.get("date") or dt.date.today().isoformat(),
        "approved_by": privacy.get("approved_by"),
        # An exact count of the real rows is not differentially private: a DP bundle
        # states only its own (noisy) number of rows.
        **({} if privacy.get("method") == "dp" else {"real_rows": real.n_rows}),
        "released_rows": synthetic.n_rows if synthetic is not None else None,
        "files": [
            name for name in PUBLIC_FILES if synthetic is not None or name != "synthetic.csv"
        ],
    }
    summary = {"utility": metrics.to_dict(), "attack": attack.to_dict()}
    report = render_report(
        title=title,
        privacy={**privacy, "approval": privacy["approved_by"] or _APPROVAL_PENDING},
        metrics=metrics,
        attack=attack,
        real_vs_released=points,
    )
    if privacy["approved_by"] is None and _APPROVAL_PENDING not in report:
        report = report.replace("</h1>", f"</h1><p>{_APPROVAL_PENDING}</p>", 1)
    files = {
        "aggregates.csv": aggregates_csv(aggregates),
        "codebook.csv": codebook_csv(real if synthetic is None else synthetic),
        "privacy.json": _json_bytes(privacy),
        "metrics.json": _json_bytes(summary),
        "report.html": report.encode("utf-8"),
    }
    if synthetic is not None:
        files["synthetic.csv"] = synthetic_csv(synthetic)
    return Bundle(files, privacy, summary)


def write_bundle(bundle: Bundle, folder: Path) -> None:
    """Write every file into ``folder``, which must not exist or be empty; the folder
    appears complete or not at all."""
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise FileExistsError(f"{folder} exists and is not an empty folder; nothing was written")
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        for name, data in bundle.files.items():
            (staging / name).write_bytes(data)
        if folder.exists():
            folder.rmdir()
        staging.rename(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
