"""World regions for coarsening countries in a release.

A release may replace a country by its UN M49 region or sub-region when the country's group
is too small to publish. The table is ``data/regions.csv`` (see ``data/NOTICE.md`` for its
source and what was assumed): one row per ISO 3166-1 alpha-3 code known to ``pycountry``,
plus ``XKX`` (Kosovo). Latin America and the Caribbean and Sub-Saharan Africa are kept whole
as sub-regions; Antarctica is in region and sub-region ``Other``.
"""

from __future__ import annotations

import csv
import io
from functools import cache
from importlib import resources

_DATA_PACKAGE = "tiphub.release"
_DATA_FILE = "data/regions.csv"
_COLUMNS = ("alpha_3", "region", "sub_region")

OTHER = "Other"


@cache
def _table() -> dict[str, tuple[str, str]]:
    """``alpha_3 -> (region, sub_region)``, read once from the packaged CSV."""
    text = resources.files(_DATA_PACKAGE).joinpath(_DATA_FILE).read_text(encoding="utf-8")
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != _COLUMNS:
        raise ValueError(f"{_DATA_FILE}: expected columns {', '.join(_COLUMNS)}")
    table: dict[str, tuple[str, str]] = {}
    for line, row in enumerate(reader, start=2):
        code, region, sub_region = (row[name].strip() for name in _COLUMNS)
        if not (code and region and sub_region):
            raise ValueError(f"{_DATA_FILE} line {line}: empty cell")
        if code in table:
            raise ValueError(f"{_DATA_FILE} line {line}: duplicate code {code!r}")
        table[code] = (region, sub_region)
    return table


def _lookup(alpha_3: str) -> tuple[str, str]:
    try:
        return _table()[alpha_3.strip().upper()]
    except KeyError:
        raise KeyError(f"no M49 region for country code {alpha_3!r}") from None


def region_of(alpha_3: str) -> str:
    """The M49 region of an ISO 3166-1 alpha-3 code (``"ROU"`` -> ``"Europe"``).

    Raises ``KeyError`` for a code not in the table.
    """
    return _lookup(alpha_3)[0]


def sub_region_of(alpha_3: str) -> str:
    """The M49 sub-region of an ISO 3166-1 alpha-3 code (``"ROU"`` -> ``"Eastern Europe"``).

    Raises ``KeyError`` for a code not in the table.
    """
    return _lookup(alpha_3)[1]


REGIONS: tuple[str, ...] = tuple(sorted({region for region, _ in _table().values()}))
SUB_REGIONS: tuple[str, ...] = tuple(sorted({sub for _, sub in _table().values()}))
