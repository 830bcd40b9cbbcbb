"""The values the online-detection modules hand each other."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

INPUT_KINDS = ("csv", "jsonl", "html", "rss", "atom")
CONTACT_KINDS = ("phone", "email", "handle", "url")


@dataclass(frozen=True)
class RawAd:
    """One ad or recruiter page as it was read from a user's file, before storage.

    ``original`` is the bytes as found (the CSV row, the JSON line, the saved page, the feed
    item): the evidence store keeps them sealed, and ``sha256`` of them is the ad's content
    fingerprint. ``row`` counts as a spreadsheet does for CSV (the header is row 1), lines for
    JSON Lines, items for feeds, and is None for a saved page.
    """

    ad_id: str
    text: str
    title: str | None = None
    location: str | None = None
    salary: str | None = None
    contact: str | None = None
    url: str | None = None
    seen_at: dt.datetime | None = None
    source: str = ""
    row: int | None = None
    kind: str = "csv"
    original: bytes = b""
    media_type: str = "text/plain"

    @property
    def full_text(self) -> str:
        """Title, text and contact field as one text, as the analyses read an ad."""
        return "\n".join(part for part in (self.title, self.text, self.contact) if part)


@dataclass(frozen=True)
class Contact:
    """A phone number, e-mail address, messenger handle or web address found in an ad.

    ``value`` is normalised (E.164 for a phone, lower case for an e-mail address,
    ``platform:handle`` for a handle, host and path for a URL) so that the same contact
    written two ways hashes the same. It is never stored or logged in clear outside the
    evidence store. ``region`` is a phone number's country (ISO 3166 alpha-2)."""

    kind: str
    value: str
    region: str | None = None


@dataclass(frozen=True)
class IndicatorHit:
    """One indicator found in an ad, with the words of the ad that triggered it."""

    id: str
    evidence: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "evidence": list(self.evidence)}


@dataclass(frozen=True)
class Problem:
    """A warning or error about an input, located by file, row and field; never quoting a
    value."""

    source: str
    row: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = [self.source] + ([f"row {self.row}"] if self.row is not None else [])
        if self.field:
            where.append(f"field '{self.field}'")
        return f"{', '.join(where)}: {self.message}"


@dataclass
class ReadResult:
    """What reading input files gave: the ads, and the problems met on the way. When
    ``errors`` is not empty nothing may be stored."""

    ads: list[RawAd] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    # One line per file: its kind, encoding and, for CSV, the dialect detected.
    formats: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CustodyEvent:
    """One step in an evidence item's chain of custody (captured, flagged, reviewed,
    exported…): when, who, what."""

    at: dt.datetime
    actor: str
    action: str
    detail: str = ""

    def to_dict(self) -> dict[str, str]:
        return {
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class EvidenceItem:
    """An ad's original bytes as captured, with where and when they were seen and who has
    handled them since."""

    ad_id: str
    organisation: str
    sha256: str
    original: bytes
    media_type: str
    source: str
    row: int | None
    seen_at: dt.datetime | None
    captured_at: dt.datetime
    captured_by: str
    custody: tuple[CustodyEvent, ...] = ()
