"""The sidecar of a capture-history table: whom it counts and how uncertain its linkage is.

``tiphub link --capture-histories OUT.csv`` writes ``OUT.csv.json`` beside the table (the
table's file name with ``.json`` added, as ``tiphub linkage encode`` names its sidecar).
``tiphub estimate OUT.csv`` reads it when present. It holds counts, list names, dates of
case openings and match probabilities, never a name, record ID or date of birth::

    {
      "format": "tiphub capture-history sidecar",
      "version": 1,
      "table": "OUT.csv",
      "population": {"source": "database", "roles": [...], "organisations": [...],
                     "lists": [...], "period": {"earliest": ..., "latest": ...},
                     "strata": null, "records": 436, "clusters": 380, ...},
      "linkage": {"estimated_precision": 0.94, "estimated_recall": 0.94, "threshold": 0.55,
                  "uncertain_links": {"band": [0.01, 0.99], "one_to_one": true,
                                      "groups": [["gb-nra"], ["gb-police", "ua-police"]],
                                      "links": [{"groups": [0, 1], "probability": 0.62,
                                                 "linked": true}]}}
    }

See :mod:`tiphub.estimate.linkage_error` for what the uncertain links mean.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tiphub.estimate.linkage_error import UncertainLinks
from tiphub.estimate.table import CaptureTableError

FORMAT = "tiphub capture-history sidecar"
VERSION = 1
# A sidecar is counts and list names; one far larger is not a sidecar.
MAX_SIDECAR_BYTES = 512 * 1024 * 1024


def sidecar_path(table_path: str | Path) -> Path:
    """``OUT.csv`` → ``OUT.csv.json``."""
    path = Path(table_path)
    return path.with_name(path.name + ".json")


@dataclass
class TableSidecar:
    """What the sidecar says: the population described and the linkage's quality."""

    population: dict[str, Any] = field(default_factory=dict)
    linkage: dict[str, Any] = field(default_factory=dict)
    uncertain_links: UncertainLinks | None = None

    def linkage_summary(self) -> dict[str, Any]:
        """The linkage's figures without the link list (for results and reports)."""
        return {key: value for key, value in self.linkage.items() if key != "uncertain_links"}

    def linkage_not_propagated(self) -> dict[str, Any]:
        """``result.linkage`` for a table whose linkage error is not in the interval."""
        report = self.linkage_summary()
        report["uncertain_links"] = report.pop("uncertain_link_count", None)
        report["propagated"] = False
        return report

    def to_json(self, table_name: str) -> str:
        linkage = self.linkage_summary()
        if self.uncertain_links is not None:
            linkage["uncertain_links"] = self.uncertain_links.to_json()
        data = {
            "format": FORMAT,
            "version": VERSION,
            "table": table_name,
            "population": self.population,
            "linkage": linkage,
        }
        return json.dumps(data, indent=1, ensure_ascii=False, default=str) + "\n"


def read_sidecar(table_path: str | Path) -> TableSidecar | None:
    """The sidecar of ``table_path`` when there is one, else ``None``."""
    path = sidecar_path(table_path)
    source = path.name
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return None
    except OSError as error:
        raise CaptureTableError(
            f"cannot read the sidecar ({error.strerror})", source=source
        ) from None
    if not path.is_file():
        return None
    if size > MAX_SIDECAR_BYTES:
        raise CaptureTableError(_not_ours("it is far too large"), source=source)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        raise CaptureTableError(_not_ours("it is not UTF-8 JSON"), source=source) from None
    if not isinstance(data, Mapping) or data.get("format") != FORMAT:
        raise CaptureTableError(_not_ours(f'it has no "format": "{FORMAT}"'), source=source)
    if data.get("version") != VERSION:
        raise CaptureTableError(
            f"the sidecar is version {data.get('version')!r}; this tiphub reads version "
            f"{VERSION}. Re-run 'tiphub link --capture-histories' with this version",
            source=source,
        )
    population = data.get("population") or {}
    linkage = data.get("linkage") or {}
    if not isinstance(population, Mapping) or not isinstance(linkage, Mapping):
        raise CaptureTableError(
            _not_ours("'population' and 'linkage' must be objects"), source=source
        )
    links_data = linkage.get("uncertain_links")
    links = UncertainLinks.from_json(links_data, source) if links_data is not None else None
    return TableSidecar(
        population=dict(population),
        linkage={key: value for key, value in linkage.items() if key != "uncertain_links"},
        uncertain_links=links,
    )


def _not_ours(reason: str) -> str:
    return (
        f"a file with the table's name and .json added is read as the table's sidecar, but "
        f"{reason}. Rename or delete it, or re-run 'tiphub link --capture-histories'"
    )


def check_matches(sidecar: TableSidecar, observed: int, lists: set[str], source: str) -> None:
    """Refuse a sidecar written for another table: other lists or another count."""
    described = sidecar.population.get("lists")
    clusters = sidecar.population.get("clusters")
    if isinstance(described, list) and set(map(str, described)) != lists:
        raise CaptureTableError(
            "the table's sidecar describes other lists than the table's: it was written for "
            "another table. Re-run 'tiphub link --capture-histories', or delete the sidecar",
            source=source,
        )
    if isinstance(clusters, int) and clusters != observed:
        raise CaptureTableError(
            f"the table's sidecar describes {clusters:,} people and the table counts "
            f"{observed:,}: it was written for another table or the table was edited. Re-run "
            "'tiphub link --capture-histories', or delete the sidecar",
            source=source,
        )


def _names(values: Any, most: int = 6) -> str:
    names = [str(value) for value in values or []]
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def describe_population(population: Mapping[str, Any]) -> str:
    """One plain sentence on whom a table counts, from its sidecar's ``population``."""
    if not population:
        return ""
    roles = population.get("roles")
    if roles:
        who = "people recorded as " + " or ".join(str(role) for role in roles)
    else:
        who = "everyone in the input (roles not known)"
    source = population.get("source")
    if population.get("organisations"):
        organisations = population["organisations"]
        where = f"by {len(organisations)} organisations ({_names(organisations)})"
    elif population.get("files"):
        where = f"in the files {_names(population['files'])}"
    else:
        where = f"on the lists {_names(population.get('lists'))}"
    text = f"{who} {where}"
    if source == "database":
        text += " in the tiphub database"
    period = population.get("period") or {}
    if period.get("earliest") and period.get("latest"):
        text += f", cases opened {period['earliest']} to {period['latest']}"
    if population.get("strata"):
        text += f", by {population['strata']}"
    records, clusters = population.get("records"), population.get("clusters")
    if isinstance(records, int) and isinstance(clusters, int):
        text += f"; {records:,} records linked into {clusters:,} people"
    return text + "."


def describe_linkage(linkage: Mapping[str, Any]) -> str:
    """One plain sentence on the linkage error in the interval, from ``result.linkage``."""
    if not linkage:
        return ""
    parts: list[str] = []
    precision, recall = linkage.get("estimated_precision"), linkage.get("estimated_recall")
    if isinstance(precision, int | float) and isinstance(recall, int | float):
        parts.append(f"estimated precision {precision:.3f}, recall {recall:.3f}")
    count = linkage.get("uncertain_links") or linkage.get("uncertain_link_count") or 0
    if linkage.get("propagated"):
        share = linkage.get("share_of_width_from_linkage")
        low, high = linkage.get("interval_95_without_linkage_error") or (None, None)
        without = (
            f"{low:,.1f} – {high:,.1f}" if low is not None and high is not None else "unbounded"
        )
        parts.append(
            f"{count:,} uncertain links redrawn in each of {linkage.get('replicates')} "
            f"replicates; without them the 95% interval is {without}"
        )
        if isinstance(share, int | float):
            parts.append(f"linkage error accounts for {share:.0%} of the interval's width")
    elif linkage.get("uncertain_links_note"):
        parts.append(f"uncertain links {linkage['uncertain_links_note']}")
    elif count:
        parts.append(f"{count:,} uncertain links not in the interval ({linkage.get('reason')})")
    else:
        parts.append("no uncertain links")
    return "; ".join(parts) + "."
